"""Installing and removing the seams: an in-process cloud serves and cleans up, and the Step Functions stage
(seam 17) arrives at its first use and leaves with uninstall."""

from __future__ import annotations

import socket
import urllib.request

import boto3
import pytest
from _support import IRIS_DATA
from fresh_python import printed_lines

from localcloud import LocalCloud, moto_seams
from localcloud.moto_seams import registry


class TestInProcessCloud:
    """LocalCloud works in-process as a context manager and releases its ports on exit."""

    def test_context_manager_serves_then_closes(self, monkeypatch):
        """
        1. Enter LocalCloud(port=0).
        2. Its .url answers an S3 list_buckets; its data_url serves data/iris.data.
        3. After exit, nothing listens on either port any more.
        4. Put moto back as it was (uninstall the seams), so the test process stays clean: a seam on a method
           moto's class inherits (call_action) is removed, not pinned on the subclass.
        """
        monkeypatch.delenv("MOTO_PORT", raising=False)  # start() sets it; restored after the test
        try:
            with LocalCloud(port=0) as cloud:
                s3 = boto3.session.Session().client(
                    "s3", region_name="eu-west-1", endpoint_url=cloud.url,
                    aws_access_key_id=cloud.keys.access_key_id, aws_secret_access_key=cloud.keys.secret_access_key)
                response = s3.list_buckets()
                assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
                assert isinstance(response["Buckets"], list)
                with urllib.request.urlopen(cloud.data_url + "/iris.data", timeout=5) as data:
                    assert data.read() == IRIS_DATA.read_bytes()
                ports = [cloud.port, int(cloud.data_url.rsplit(":", 1)[1])]
                s3.close()
        finally:
            moto_seams.uninstall()

        for port in ports:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
        for seam in ("lambda_call_action", "sagemaker_call_action"):
            owner, attribute = registry.by_name(seam).resolve_owner(), registry.by_name(seam).attribute
            assert attribute not in vars(owner), f"uninstall left localcloud's {seam} on {owner.__name__}"



class TestStepFunctionsSeamsAtFirstUse:
    """Seam 17: moto's Step Functions parser (and the EC2 models it pulls in) is imported at its first use."""

    def test_starting_a_cloud_imports_no_parser(self):
        """
        1. In a fresh Python, import what `python -m localcloud` imports to start (localcloud.cloud).
        2. Neither moto's Step Functions parser nor moto.ec2.models was imported: a cloud that never runs a
           state machine does not pay for them (~0.6 s of its start).
        """
        code = ("import sys, localcloud.cloud\n"
                "print(sorted(m for m in ('moto.stepfunctions.parser.models', 'moto.ec2.models') if m in sys.modules))")
        assert printed_lines(code) == ["[]"]

    def test_first_request_installs_them_and_uninstall_removes_them(self, monkeypatch):
        """
        1. Start an in-process cloud without IAM; the Step Functions seams are not installed yet.
        2. Create a Pass state machine and start an unnamed execution: the seams are now in (the execution got
           a fresh name, seam 6, and SUCCEEDED: moto executed it).
        3. After uninstall, moto's own functions are back at every Step Functions seam.
        """
        import json
        import time

        from localcloud.moto_seams import _stepfunctions

        monkeypatch.delenv("MOTO_PORT", raising=False)
        originals = {seam: getattr(owner, attribute) for seam, (owner, attribute) in moto_seams.stepfunctions_seams().items()
                     if seam not in moto_seams._originals}
        try:
            with LocalCloud(port=0, iam=False) as cloud:
                assert "sfn_boto_client_for" not in moto_seams._originals
                sfn = boto3.session.Session().client("stepfunctions", region_name="eu-west-1", endpoint_url=cloud.url,
                                                     aws_access_key_id=cloud.keys.access_key_id, aws_secret_access_key=cloud.keys.secret_access_key)
                arn = sfn.create_state_machine(
                    name="first-use", roleArn=f"arn:aws:iam::{moto_seams.cloud_account()}:role/any",
                    definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
                )["stateMachineArn"]
                assert "sfn_boto_client_for" in moto_seams._originals
                assert _stepfunctions.state_task_factory.state_task_service_for is _stepfunctions._state_task_service_for
                execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
                assert not execution.endswith(":None")
                for _ in range(100):
                    status = sfn.describe_execution(executionArn=execution)["status"]
                    if status != "RUNNING":
                        break
                    time.sleep(0.05)
                assert status == "SUCCEEDED"
                sfn.close()
        finally:
            moto_seams.uninstall()
        for seam, (owner, attribute) in moto_seams.stepfunctions_seams().items():
            if seam in originals:
                assert getattr(owner, attribute) is originals[seam], f"uninstall left localcloud's {seam}"
            assert seam not in moto_seams._originals


class TestMotoEnvironment:
    """What moto reads from the environment (its default account, its port) is set while a cloud runs."""

    def test_account_set_while_running_and_restored(self, monkeypatch):
        """
        1. With MOTO_ACCOUNT_ID set to another account, start an in-process cloud with account 111122223333.
        2. While it runs, moto's default account is the cloud's and MOTO_PORT names the cloud's port.
        3. After it stops, MOTO_ACCOUNT_ID is the other account again.
        """
        import os

        monkeypatch.setenv("MOTO_ACCOUNT_ID", "444455556666")
        monkeypatch.delenv("MOTO_PORT", raising=False)
        try:
            with LocalCloud(port=0, iam=False, account="111122223333") as cloud:
                assert os.environ["MOTO_ACCOUNT_ID"] == "111122223333"
                assert os.environ["MOTO_PORT"] == str(cloud.port)
                assert moto_seams.cloud_account() == "111122223333"
        finally:
            moto_seams.uninstall()
        assert os.environ["MOTO_ACCOUNT_ID"] == "444455556666"
