"""A plain boto3 script written the way the article does things, knowing nothing of the kit.

It is run by tests/localcloud/test_article_script.py against ``python -m localcloud`` with
only AWS_ENDPOINT_URL and dummy credentials set: if the local cloud is faithful, the jobs
run, model.tar.gz is written and both state machines end SUCCEEDED.
Usage: python article_script.py <iris-csv-path>
"""

import io
import json
import sys
import tarfile
import time
import zipfile

import boto3
from sagemaker.core import image_uris

REGION = "us-west-2"
session = boto3.Session(region_name=REGION)
s3, iam, lam, sm, sfn, sts = (session.client(n) for n in ("s3", "iam", "lambda", "sagemaker", "stepfunctions", "sts"))
account = sts.get_caller_identity()["Account"]
bucket = f"article-demo-{account}"
s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
s3.upload_file(sys.argv[1], bucket, "raw/iris.csv")

trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
    "Service": ["sagemaker.amazonaws.com", "lambda.amazonaws.com", "states.amazonaws.com"]}}]}
role = iam.create_role(RoleName="article-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
# The broad grants of the article's managed policies (S3, SageMaker, Lambda, PassRole, ECR pulls), as one inline policy.
iam.put_role_policy(RoleName="article-role", PolicyName="article", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
        "s3:*", "sagemaker:*", "lambda:InvokeFunction", "iam:PassRole", "events:*", "logs:*", "ecr:GetAuthorizationToken",
        "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]}))

# A processing script the article's way: fixed /opt/ml paths, pandas + scikit-learn.
script = '''
import pandas as pd
from sklearn.model_selection import train_test_split
df = pd.read_csv("/opt/ml/processing/input/iris.csv", header=None)
df[4] = df[4].astype("category").cat.codes
df = df[[4, 0, 1, 2, 3]]
train, test = train_test_split(df, test_size=0.2, random_state=0, stratify=df[4])
train.to_csv("/opt/ml/processing/train/train.csv", header=False, index=False)
test.to_csv("/opt/ml/processing/test/test.csv", header=False, index=False)
print("rows", len(train), len(test))
'''
s3.put_object(Bucket=bucket, Key="code/preprocess.py", Body=script.encode())


def processing_request(name):
    return {
        "ProcessingJobName": name, "RoleArn": role,
        "AppSpecification": {"ImageUri": f"{account}.dkr.ecr.{REGION}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"]},
        "ProcessingInputs": [
            {"InputName": "data", "S3Input": {"S3Uri": f"s3://{bucket}/raw/iris.csv", "LocalPath": "/opt/ml/processing/input",
                                              "S3DataType": "S3Prefix", "S3InputMode": "File"}},
            {"InputName": "code", "S3Input": {"S3Uri": f"s3://{bucket}/code/preprocess.py",
                                              "LocalPath": "/opt/ml/processing/input/code", "S3DataType": "S3Prefix",
                                              "S3InputMode": "File"}}],
        "ProcessingOutputConfig": {"Outputs": [
            {"OutputName": o, "S3Output": {"S3Uri": f"s3://{bucket}/processed/{name}/{o}", "LocalPath": f"/opt/ml/processing/{o}",
                                           "S3UploadMode": "EndOfJob"}} for o in ("train", "test")]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}},
    }


def training_request(name, data_prefix):
    return {
        "TrainingJobName": name, "RoleArn": role,
        "AlgorithmSpecification": {"TrainingImage": image_uris.retrieve("linear-learner", REGION),
                                   "TrainingInputMode": "File"},
        "HyperParameters": {"predictor_type": "multiclass_classifier", "num_classes": "3", "mini_batch_size": "16"},
        "InputDataConfig": [{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/processed/{data_prefix}/train"}}}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def wait(describe, key, name):
    for _ in range(600):
        job = describe(**{key: name})
        status = job.get("ProcessingJobStatus") or job.get("TrainingJobStatus")
        if status not in ("InProgress", "Stopping"):
            return job
        time.sleep(0.2)
    raise TimeoutError(name)


# 1. the jobs started directly, polled until done
sm.create_processing_job(**processing_request("prep-direct"))
job = wait(sm.describe_processing_job, "ProcessingJobName", "prep-direct")
assert job["ProcessingJobStatus"] == "Completed", job
sm.create_training_job(**training_request("train-direct", "prep-direct"))
job = wait(sm.describe_training_job, "TrainingJobName", "train-direct")
assert job["TrainingJobStatus"] == "Completed", job
body = s3.get_object(Bucket=bucket, Key="models/train-direct/output/model.tar.gz")["Body"].read()
assert tarfile.open(fileobj=io.BytesIO(body)).getnames(), "empty model.tar.gz"
print("direct jobs: model.tar.gz", len(body), "bytes; metrics", job.get("FinalMetricDataList"))

# 2. a Lambda that starts the processing job (the article's glue)
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as archive:
    archive.writestr("lambda_function.py", "import boto3, json, os\n"
                     "def lambda_handler(event, context):\n"
                     "    request = json.loads(os.environ['REQUEST'])\n"
                     "    request['ProcessingJobName'] = event['name']\n"
                     "    return boto3.client('sagemaker').create_processing_job(**request)['ProcessingJobArn']\n")
fn = lam.create_function(FunctionName="start-prep", Runtime="python3.11", Role=role, Handler="lambda_function.lambda_handler",
                         Code={"ZipFile": code.getvalue()}, Timeout=30,
                         Environment={"Variables": {"REQUEST": json.dumps(processing_request("x"))}})["FunctionArn"]

# 3. state machines: a Lambda task, and the .sync SageMaker integrations
lambda_chain = {"StartAt": "Prep", "States": {"Prep": {"Type": "Task", "Resource": fn, "End": True}}}
sync_chain = {"StartAt": "Prep", "States": {
    "Prep": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
             "Parameters": processing_request("prep-sync"), "ResultPath": "$.prep", "Next": "Train"},
    "Train": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
              "Parameters": training_request("train-sync", "prep-sync"), "ResultPath": "$.train", "End": True}}}
for machine, payload in ((lambda_chain, {"name": "prep-lambda"}), (sync_chain, {})):
    arn = sfn.create_state_machine(name=f"article-{len(machine['States'])}", definition=json.dumps(machine),
                                   roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    for _ in range(600):
        result = sfn.describe_execution(executionArn=execution)
        if result["status"] != "RUNNING":
            break
        time.sleep(0.2)
    assert result["status"] == "SUCCEEDED", result
    print("state machine", arn.rsplit(":", 1)[-1], result["status"])

model = json.loads(sfn.describe_execution(executionArn=execution)["output"])["train"]["ModelArtifacts"]["S3ModelArtifacts"]
print("sync chain model:", model)
assert s3.head_object(Bucket=bucket, Key=model.split("/", 3)[3])["ContentLength"] > 0
print("ARTICLE SCRIPT OK")
