"""The series' training and deployment written with the SageMaker Python SDK v3, run offline as scripts.

Each program is SDK code as AWS's v3 example notebooks write it (``programs/``), run after
``eval "$(python -m localcloud env ...)"`` under the loopback audit, with the role the series makes
(``helpers.iam.ensure_role(kit, "sagemaker")``: ``get_execution_role()`` works only inside SageMaker).
ModelTrainer: https://sagemaker.readthedocs.io/en/stable/ (v3, sagemaker.train); resources: sagemaker-core.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _programs import REGION, assert_ran, run_program
from conftest_cloud import PROJECT_ROOT
from _support import csv_rows, run_preprocess_locally

import helpers
from helpers import iam, s3
from helpers.paths import IAM_DIR

# What the SDK's role validation simulates on every training role (sagemaker.core.helper.iam_role_resolver's
# "*"-resource actions): the kit's least-privilege role lacks them (PutMetricData only in SageMaker's namespaces)
SDK_CHECKED_ACTIONS = ["cloudwatch:PutMetricData", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                       "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeDhcpOptions",
                       "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
                       "ec2:DescribeVpcs"]


@pytest.fixture(scope="module")
def kit_made(cloud, tmp_path_factory, monkeypatch_module):
    """What notebooks 01-03 make for the SDK: the kit's bucket and SageMaker role, iris train/test CSVs."""
    for name in ("PIPELINE_DREAMS_ENDPOINT", "PIPELINE_DREAMS_LOCAL_ACCESS_KEY_ID",
                 "PIPELINE_DREAMS_LOCAL_SECRET_ACCESS_KEY"):  # this cloud's, whatever an earlier test left
        monkeypatch_module.setenv(name, cloud.kit_env[name])
    kit = helpers.connect(target="local", region=REGION, run_id="sdk-tests")
    bucket = s3.ensure_bucket(kit)
    kit_role = iam.ensure_role(kit, "sagemaker")
    policy = iam.render_document(kit, IAM_DIR / "policies" / "sagemaker.json")
    policy["Statement"].append({"Effect": "Allow", "Action": SDK_CHECKED_ACTIONS, "Resource": "*"})
    client_iam = cloud.client("iam", region=REGION)
    name = "pipeline-dreams-sdk-tests"
    try:
        role = client_iam.get_role(RoleName=name)["Role"]["Arn"]
    except client_iam.exceptions.NoSuchEntityException:
        trust = json.dumps(iam.render_document(kit, IAM_DIR / "trust" / "sagemaker.json"))
        role = client_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    client_iam.put_role_policy(RoleName=name, PolicyName="sdk", PolicyDocument=json.dumps(policy))
    prepared = run_preprocess_locally(tmp_path_factory.mktemp("iris"))
    prefix = "runs/sdk-tests"
    client = cloud.client("s3", region=REGION)
    client.upload_file(str(prepared / "train" / "train.csv"), bucket, f"{prefix}/train/train.csv")
    client.upload_file(str(PROJECT_ROOT / "data" / "iris.data"), bucket, f"{prefix}/raw/iris.data")
    ecr = cloud.client("ecr", region=REGION)
    repository = kit.names.repository("preprocess")
    try:
        ecr.create_repository(repositoryName=repository)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    image = f"{kit.account}.dkr.ecr.{REGION}.amazonaws.com/{repository}:latest"
    test_rows = np.array(csv_rows((prepared / "test" / "test.csv").read_text()), dtype=np.float64)
    return {"role": role, "kit_role": kit_role, "bucket": bucket, "image": image, "prefix": prefix, "test_rows": test_rows}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def trained(cloud, kit_made, tmp_path_factory):
    outcome = run_program("train_linear_learner.py", cloud.url, tmp_path_factory.mktemp("train"),
                          {k: kit_made[k] for k in ("role", "bucket", "prefix")})
    return outcome


class TestRoleValidation:
    def test_the_sdk_refuses_the_kits_least_privilege_role_as_on_aws(self, cloud, kit_made, tmp_path):
        """1. ModelTrainer with the series' own SageMaker role. 2. The SDK's role check (SimulatePrincipalPolicy)
        refuses it before any job, naming the VPC and metrics actions it simulates, as it would on AWS."""
        outcome = run_program("train_linear_learner.py", cloud.url, tmp_path, {
            "role": kit_made["kit_role"], "bucket": kit_made["bucket"], "prefix": kit_made["prefix"]})
        assert not outcome.refused and outcome.returncode != 0
        assert "RoleValidationError" in outcome.stderr and "ec2:CreateNetworkInterface" in outcome.stderr
        assert cloud.client("sagemaker", region=REGION).list_training_jobs(
            NameContains="pipeline-dreams-sdk")["TrainingJobSummaries"] is not None


class TestModelTrainerWithLinearLearner:
    def test_train_waits_streams_the_logs_and_writes_the_model(self, cloud, kit_made, trained):
        """1. ModelTrainer(training_image=linear-learner's URI, role=the kit's).train(wait=True, logs=True).
        2. Completed; the job's log lines were streamed; model.tar.gz is in the kit's bucket."""
        result = assert_ran(trained)
        assert result["status"] == "Completed"
        assert result["model"] == f"s3://{kit_made['bucket']}/{kit_made['prefix']}/model/{result['job']}/output/model.tar.gz"
        bucket, key = result["model"][5:].split("/", 1)
        assert cloud.client("s3", region=REGION).head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
        assert "localcloud stand-in for linear-learner" in trained.stdout + trained.stderr


class TestProcessingJob:
    def test_processor_runs_the_series_preprocessing(self, cloud, kit_made, tmp_path):
        """1. sagemaker.core.processing.Processor(image_uri=the series' preprocess image).run(inputs, outputs,
        arguments, wait=True, logs=True) on data/iris.data in S3. 2. Completed, its log streamed, train/test/meta
        uploaded where the outputs say."""
        outcome = run_program("process_with_processor.py", cloud.url, tmp_path,
                              {k: kit_made[k] for k in ("role", "bucket", "prefix", "image")})
        result = assert_ran(outcome)
        assert result["status"] == "Completed"
        processed = f"s3://{kit_made['bucket']}/{kit_made['prefix']}/processed"
        assert result["outputs"] == [f"{processed}/{name}" for name in ("train", "test", "meta")]
        listed = cloud.client("s3", region=REGION).list_objects_v2(Bucket=kit_made["bucket"],
                                                                   Prefix=f"{kit_made['prefix']}/processed/")
        keys = {item["Key"].split("/processed/", 1)[1] for item in listed.get("Contents", [])}
        assert {"train/train.csv", "test/test.csv"} <= keys, keys
        assert result["job"] in outcome.stderr  # the log stream's name heads each streamed line


def _shape_problems(client, operation: str, answer: dict) -> str:
    """What botocore's own validator finds wrong with ``answer`` against ``operation``'s output shape ("" if none)."""
    from botocore.validate import ParamValidator

    answer = {key: value for key, value in answer.items() if key != "ResponseMetadata"}
    shape = client.meta.service_model.operation_model(operation).output_shape
    report = ParamValidator().validate(answer, shape)
    return report.generate_report() if report.has_errors() else ""


class TestResponsesHaveAwsShapes:
    """Every Describe*/List* answer about what the SDK made parses as AWS's shape: botocore's output shapes (required
    members, types, no unknown members) and sagemaker-core's pydantic resources (which refused VpcConfig {})."""

    def test_describe_and_list_answers(self, cloud, kit_made, trained, unique, tmp_path):
        """1. A model, endpoint config and endpoint from the trained model; the jobs the SDK ran. 2. Every
        Describe*/List* answer validates against botocore's output shape, and sagemaker-core's .get() parses it."""
        sm = cloud.client("sagemaker", region=REGION)
        name = f"pipeline-dreams-shapes-{unique}"[:63]
        image = sm.describe_training_job(TrainingJobName=assert_ran(trained)["job"])["AlgorithmSpecification"][
            "TrainingImage"]
        sm.create_model(ModelName=name, ExecutionRoleArn=kit_made["role"], PrimaryContainer={
            "Image": image, "ModelDataUrl": assert_ran(trained)["model"]})
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        training = assert_ran(trained)["job"]
        processing = sm.list_processing_jobs(NameContains="pipeline-dreams-sdk")["ProcessingJobSummaries"]
        calls = [("DescribeModel", {"ModelName": name}), ("DescribeEndpointConfig", {"EndpointConfigName": name}),
                 ("DescribeEndpoint", {"EndpointName": name}), ("DescribeTrainingJob", {"TrainingJobName": training}),
                 ("ListModels", {}), ("ListEndpointConfigs", {}), ("ListEndpoints", {}), ("ListTrainingJobs", {}),
                 ("ListProcessingJobs", {})]
        calls += [("DescribeProcessingJob", {"ProcessingJobName": job["ProcessingJobName"]}) for job in processing]
        try:
            problems = {}
            for operation, params in calls:
                method = getattr(sm, "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_"))
                problem = _shape_problems(sm, operation, method(**params))
                if problem:
                    problems[operation] = problem
            assert problems == {}
            wanted = {"Model": [name], "EndpointConfig": [name], "Endpoint": [name], "TrainingJob": [training],
                      "ProcessingJob": [job["ProcessingJobName"] for job in processing]}
            parsed = assert_ran(run_program("parse_resources.py", cloud.url, tmp_path,
                                            {"names": json.dumps(wanted)}))
            assert all(parsed[kind]["got"] == len(names) and parsed[kind]["listed"] >= len(names)
                       for kind, names in wanted.items()), parsed
        finally:
            sm.delete_endpoint(EndpointName=name)
            sm.delete_endpoint_config(EndpointConfigName=name)
            sm.delete_model(ModelName=name)


class TestEndpointResources:
    def test_create_invoke_describe_delete(self, cloud, kit_made, trained, unique, tmp_path):
        """1. Model / EndpointConfig / Endpoint .create() from the trained model, wait InService, invoke with CSV.
        2. The predictions are the test rows' labels; Model.get(), EndpointConfig.get(), Endpoint.get() parse the
        cloud's answers; after delete() no endpoint is left."""
        model = assert_ran(trained)["model"]
        rows = kit_made["test_rows"]
        name = f"pipeline-dreams-{unique}"[:63]
        result = assert_ran(run_program("endpoint_resources.py", cloud.url, tmp_path, {
            "role": kit_made["role"], "model": model, "name": name, "rows": json.dumps(rows[:, 1:].tolist())}))
        accuracy = np.mean(np.array(result["labels"]) == rows[:, 0])
        assert accuracy > 0.8, result
        assert result["described"] == {"model": name, "config": name, "endpoint": "InService"}
        assert result["left"] == []
