"""The aws-only orchestration requests: state machines and the upload trigger (Stubber), cleanup's order (moto).

Cleanup's order spans services, which one Stubber per client cannot see: it is recorded on
moto instead, from every client the cleanup uses.
"""

from __future__ import annotations

import pytest
from _aws_stubs import ACCOUNT, BUCKET, NOW, REGION, REGISTRY, TAGS, JsonOf

from helpers import cleanup, ecr, events, iam, lambdas, s3, stepfunctions
from helpers.paths import PROJECT_ROOT


class TestEnsureStateMachineRequests:
    """CreateStateMachine is STANDARD with lower-case tag keys; an existing one gets UpdateStateMachine."""

    ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:pipeline-dreams-pipeline"
    ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline-dreams-states"
    DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}

    def test_create(self, aws_kit):
        """
        1. ListStateMachines: none of that name.
        2. CreateStateMachine: name, definition, role, type STANDARD, tags as [{key, value}].
        """
        kit, stub = aws_kit
        sfn = stub("stepfunctions")
        sfn.add_response("list_state_machines", {"stateMachines": []}, {})
        sfn.add_response("create_state_machine", {"stateMachineArn": self.ARN, "creationDate": NOW}, {
            "name": "pipeline-dreams-pipeline", "definition": JsonOf(self.DEFINITION), "roleArn": self.ROLE,
            "type": "STANDARD", "tags": [{"key": "pipeline-dreams:kit", "value": "pipeline-dreams"},
                                         {"key": "pipeline-dreams:run-id", "value": "demo"}]})
        assert stepfunctions.ensure_state_machine(kit, "pipeline-dreams-pipeline", self.DEFINITION, self.ROLE) == self.ARN

    def test_update(self, aws_kit):
        """
        1. ListStateMachines: one of that name.
        2. UpdateStateMachine with its ARN, the definition and the role (tags stay as they were).
        """
        kit, stub = aws_kit
        sfn = stub("stepfunctions")
        sfn.add_response("list_state_machines", {"stateMachines": [{
            "stateMachineArn": self.ARN, "name": "pipeline-dreams-pipeline", "type": "STANDARD", "creationDate": NOW}]},
            {})
        sfn.add_response("update_state_machine", {"updateDate": NOW}, {
            "stateMachineArn": self.ARN, "definition": JsonOf(self.DEFINITION), "roleArn": self.ROLE})
        assert stepfunctions.ensure_state_machine(kit, "pipeline-dreams-pipeline", self.DEFINITION, self.ROLE) == self.ARN


class TestTriggerRequests:
    """Notebook 07's trigger: bucket → EventBridge, a rule on uploads under incoming/, the pipeline as target."""

    MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:pipeline-dreams-pipeline"
    ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline-dreams-events"
    TRANSFORMER = {"InputPathsMap": {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
                   "InputTemplate": '{"bucket": "<bucket>", "source_s3_uri": "s3://<bucket>/<key>"}'}

    def test_rule_and_target(self, aws_kit):
        """
        1. PutBucketNotificationConfiguration with an empty EventBridgeConfiguration.
        2. PutRule: the Object Created pattern for the bucket and prefix, ENABLED, tags, description.
        3. PutTargets: one target with the state machine, the events role and the input transformer.
        """
        kit, stub = aws_kit
        stub("s3").add_response("put_bucket_notification_configuration", {}, {
            "Bucket": BUCKET, "NotificationConfiguration": {"EventBridgeConfiguration": {}}})
        pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"],
                   "detail": {"bucket": {"name": [BUCKET]}, "object": {"key": [{"prefix": "incoming/"}]}}}
        rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/pipeline-dreams-incoming"
        stub("events").add_response("put_rule", {"RuleArn": rule_arn}, {
            "Name": "pipeline-dreams-incoming", "EventPattern": JsonOf(pattern), "State": "ENABLED", "Tags": TAGS,
            "Description": "pipeline-dreams: start the pipeline for new uploads"})
        stub("events").add_response("put_targets", {"FailedEntryCount": 0, "FailedEntries": []}, {
            "Rule": "pipeline-dreams-incoming", "Targets": [{"Id": "pipeline", "Arn": self.MACHINE, "RoleArn": self.ROLE,
                                                              "InputTransformer": self.TRANSFORMER}]})
        events.enable_eventbridge(kit, BUCKET)
        assert events.ensure_rule(kit, "pipeline-dreams-incoming", events.uploads_pattern(BUCKET, "incoming/"),
                                  self.MACHINE, self.ROLE, self.TRANSFORMER) == rule_arn

    def test_refused_target_raises(self, aws_kit):
        """
        1. PutTargets answers one failed entry.
        2. RuntimeError names the rule and the failure.
        """
        kit, stub = aws_kit
        stub("events").add_response("put_rule", {"RuleArn": "arn:aws:events:x:y:rule/r"})
        stub("events").add_response("put_targets", {"FailedEntryCount": 1, "FailedEntries": [
            {"TargetId": "pipeline", "ErrorCode": "AccessDenied", "ErrorMessage": "no"}]})
        with pytest.raises(RuntimeError, match="rule r: target refused.*AccessDenied"):
            events.ensure_rule(kit, "r", {"source": ["aws.s3"]}, self.MACHINE, self.ROLE)


class TestCleanupOrder:
    """clean() removes in dependency order, with the exact delete requests (on moto: the order spans services)."""

    def test_delete_requests_in_order(self, make_kit):
        """
        1. Make one of everything the kit makes (moto), tagged as the kit tags it, plus an object in the bucket.
        2. Record every request clean() sends, across all its clients.
        3. The delete requests come in this order: endpoint, endpoint config, model, the rule's targets then the
           rule, state machine, function, log group, repository (force), role policy then role, objects then bucket.
        """
        kit = make_kit(region=REGION)
        bucket = s3.ensure_bucket(kit)
        kit.client("s3").put_object(Bucket=bucket, Key="runs/demo/raw/iris.data", Body=b"5.1,3.5,1.4,0.2,setosa\n")
        role = iam.ensure_role(kit, "fetch-data")
        ecr.ensure_repository(kit, "ingest")
        function = lambdas.ensure_function(kit, "pipeline-dreams-fetch-data", role, handler="fetch_data.handler",
                                           zip_file=lambdas.zip_handler(PROJECT_ROOT / "src/lambdas/fetch_data.py"))
        kit.client("logs").create_log_group(logGroupName="/aws/lambda/pipeline-dreams-fetch-data")
        machine = stepfunctions.ensure_state_machine(kit, "pipeline-dreams-pipeline", {
            "StartAt": "F", "States": {"F": {"Type": "Task", "Resource": function, "End": True}}}, role)
        events.ensure_rule(kit, "pipeline-dreams-incoming", {"source": ["aws.s3"]}, machine, role)
        sm = kit.client("sagemaker")
        sm.create_model(ModelName="pipeline-dreams-demo", ExecutionRoleArn=role, Tags=kit.tags(), PrimaryContainer={
            "Image": f"{REGISTRY}/linear-learner:1", "ModelDataUrl": f"s3://{bucket}/runs/demo/model.tar.gz"})
        sm.create_endpoint_config(EndpointConfigName="pipeline-dreams-demo", Tags=kit.tags(), ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "pipeline-dreams-demo", "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        sm.create_endpoint(EndpointName="pipeline-dreams-iris", EndpointConfigName="pipeline-dreams-demo",
                           Tags=kit.tags())
        sent: list[tuple[str, str, dict]] = []
        for service in ("sagemaker", "events", "stepfunctions", "lambda", "logs", "ecr", "iam", "s3"):
            kit.client(service).meta.events.register("provide-client-params", lambda params, model, **_: sent.append(
                (model.service_model.service_name, model.name, dict(params))))
        result = cleanup.clean(kit)
        assert set(result["result"]) == {"removed"}
        deletes = [(s, o, p) for s, o, p in sent if o.startswith(("Delete", "Remove", "Stop"))]
        version = next(p for s, o, p in deletes if o == "DeleteObjects")["Delete"]["Objects"][0]["VersionId"]
        assert deletes == [
            ("sagemaker", "DeleteEndpoint", {"EndpointName": "pipeline-dreams-iris"}),
            ("sagemaker", "DeleteEndpointConfig", {"EndpointConfigName": "pipeline-dreams-demo"}),
            ("sagemaker", "DeleteModel", {"ModelName": "pipeline-dreams-demo"}),
            ("events", "RemoveTargets", {"Rule": "pipeline-dreams-incoming", "Ids": ["pipeline"]}),
            ("events", "DeleteRule", {"Name": "pipeline-dreams-incoming"}),
            ("stepfunctions", "DeleteStateMachine", {"stateMachineArn": machine}),
            ("lambda", "DeleteFunction", {"FunctionName": "pipeline-dreams-fetch-data"}),
            ("logs", "DeleteLogGroup", {"logGroupName": "/aws/lambda/pipeline-dreams-fetch-data"}),
            ("ecr", "DeleteRepository", {"repositoryName": "pipeline-dreams/ingest", "force": True}),
            ("iam", "DeleteRolePolicy", {"RoleName": "pipeline-dreams-fetch-data", "PolicyName": "pipeline-dreams-fetch-data-policy"}),
            ("iam", "DeleteRole", {"RoleName": "pipeline-dreams-fetch-data"}),
            ("s3", "DeleteObjects", {"Bucket": bucket, "Delete": {"Objects": [
                {"Key": "runs/demo/raw/iris.data", "VersionId": version}], "Quiet": True}}),
            ("s3", "DeleteBucket", {"Bucket": bucket})]
