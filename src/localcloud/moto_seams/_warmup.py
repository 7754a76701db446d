"""Warm moto's Step Functions parser in the background, so that the first CreateStateMachine is not slow.

moto parses a definition with an ANTLR parser on CreateStateMachine and again on StartExecution.
ANTLR builds its lexer and parser decision tables (DFA caches, shared by every parser in the process)
the first time each decision is met: measured on the kit's pipeline definition, the first parse in a
fresh cloud took ~0.5 s and the next ones ~0.13 s. Parsing one definition that uses the constructs the
kit's state machines use (Lambda and ``.sync`` tasks, Parameters with paths and intrinsic functions,
Retry, Catch, ResultSelector, Choice, Wait, Pass, Fail) fills most of those tables before a notebook
asks, in a thread started once the cloud serves (``python -m localcloud --warm-stepfunctions``).
"""

from __future__ import annotations

import json

_ARN = f"arn:aws:lambda:us-east-1:{'0' * 12}:function:warm"  # a placeholder account and function: nothing runs
_JOB = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": {"ProcessingJobName.$": "$.job_names.preprocess", "RoleArn": "r",
                       "AppSpecification": {"ImageUri": "i", "ContainerArguments": ["--a", "/b"]},
                       "ProcessingInputs": [{"InputName": "raw", "S3Input": {
                           "S3Uri.$": "States.Format('s3://{}/{}/raw', $.bucket, $.run_prefix)",
                           "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix"}}],
                       "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "VolumeSizeInGB": 5}},
                       "StoppingCondition": {"MaxRuntimeInSeconds": 900},
                       "Environment": {"SETTINGS.$": "$.dataset_json"},
                       "Tags": [{"Key": "k", "Value.$": "$.run_id"}]},
        "ResultSelector": {"job.$": "$.ProcessingJobName", "status.$": "$.ProcessingJobStatus",
                           "metrics.$": "$.FinalMetricDataList"},
        "ResultPath": "$.preprocess",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
        "Next": "Choose"}
DEFINITION = json.dumps({
    "Comment": "warm-up: parsed, never created",
    "StartAt": "Fetch",
    "States": {
        "Fetch": {"Type": "Task", "Resource": _ARN, "Comment": "c", "ResultPath": "$", "TimeoutSeconds": 60,
                  "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1, "MaxAttempts": 2,
                             "BackoffRate": 2}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
                  "Next": "Job"},
        "Job": _JOB,
        "Choose": {"Type": "Choice", "Choices": [{"Variable": "$.preprocess.status", "StringEquals": "Completed",
                                                   "Next": "Invoke"},
                                                  {"And": [{"Variable": "$.n", "NumericGreaterThan": 1},
                                                           {"Variable": "$.b", "BooleanEquals": True}],
                                                   "Next": "Wait"}],
                   "Default": "Failed"},
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Invoke"},
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": _ARN, "Payload.$": "$"}, "OutputPath": "$.Payload",
                   "Next": "Done"},
        "Done": {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.done", "End": True},
        "Failed": {"Type": "Fail", "Error": "Failed", "CausePath": "$.error.Cause"},
    },
})


def warm_stepfunctions() -> None:
    """Parse :data:`DEFINITION` once (a refusal would raise: the test checks it parses)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    AmazonStateLanguageParser.parse(DEFINITION)
