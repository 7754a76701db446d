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
    monkeypatch_module.setenv("PIPELINE_DREAMS_ENDPOINT", cloud.url)
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
    test_rows = np.array(csv_rows((prepared / "test" / "test.csv").read_text()), dtype=np.float64)
    return {"role": role, "kit_role": kit_role, "bucket": bucket, "prefix": prefix, "test_rows": test_rows}


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
