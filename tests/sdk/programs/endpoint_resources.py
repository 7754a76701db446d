"""Model, EndpointConfig and Endpoint resources of sagemaker-core: create, wait, invoke, delete."""

import json
import os

import boto3
from sagemaker.core import image_uris
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.resources import Endpoint, EndpointConfig, Model
from sagemaker.core.shapes import ContainerDefinition, ProductionVariant

role, model_data, name = os.environ["PROGRAM_ROLE"], os.environ["PROGRAM_MODEL"], os.environ["PROGRAM_NAME"]
rows = json.loads(os.environ["PROGRAM_ROWS"])
session = Session()
image = image_uris.retrieve(framework="linear-learner", region=session.boto_region_name)
model = Model.create(model_name=name, execution_role_arn=role,
                     primary_container=ContainerDefinition(image=image, model_data_url=model_data))
config = EndpointConfig.create(endpoint_config_name=name, production_variants=[ProductionVariant(
    variant_name="AllTraffic", model_name=name, initial_instance_count=1, instance_type="ml.m5.large")])
endpoint = Endpoint.create(endpoint_name=name, endpoint_config_name=name)
endpoint.wait_for_status("InService")
body = "\n".join(",".join(str(v) for v in row) for row in rows)
answer = endpoint.invoke(body=body, content_type="text/csv", accept="application/json")
predictions = json.loads(answer.body.read())["predictions"]
described = {"model": Model.get(name).model_name, "config": EndpointConfig.get(name).endpoint_config_name,
             "endpoint": Endpoint.get(name).endpoint_status}
endpoint.delete()
config.delete()
model.delete()
left = boto3.client("sagemaker").list_endpoints(NameContains=name)["Endpoints"]
print(json.dumps({"labels": [p["predicted_label"] for p in predictions], "described": described, "left": left}))
