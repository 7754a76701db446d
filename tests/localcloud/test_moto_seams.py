"""The moto internals localcloud patches are still where and what it expects.

moto is pinned exactly because :mod:`localcloud.moto_seams` replaces private functions. If a
moto upgrade moves or reshapes one of them, these tests fail with a message naming the seam,
before the local cloud misbehaves in some less obvious way.
"""

from __future__ import annotations

import inspect
import os

import moto
import pytest

from localcloud import moto_seams
from localcloud.moto_seams import registry

PINNED_MOTO = "5.2.5"
_SHAPES = {"float": float, "type": type, "property": property, "bool": bool}
# seam -> parameter names of the moto callable (or the type of the moto value), as the registry records them
EXPECTED = {seam.name: _SHAPES.get(seam.moto_shape, seam.moto_shape) if isinstance(seam.moto_shape, str)
            else list(seam.moto_shape) for seam in registry.seams(kind="replace")}
# moto internals the seams read or call without patching them: (module or class, attribute, parameters)
READ = [
    ("moto.s3.notifications", "_send_sqs_message", ["account_id", "event_body", "queue_name", "region_name"]),
    ("moto.s3.notifications", "_send_sns_message", ["account_id", "event_body", "topic_arn", "region_name"]),
    ("moto.sagemaker.models.FakeEndpoint", "_process_production_variants", ["self", "production_variants"]),
    # moto_seams._server.serve_moto builds moto's HTTP server from these (ThreadedMotoServer hangs on a busy port)
    ("moto.moto_server.werkzeug_app", "DomainDispatcherApplication", ["create_app"]),
    ("moto.moto_server.werkzeug_app", "create_backend_app", ["service"]),
    ("moto.moto_server.werkzeug_app", "MotoRequestHandler", ["request", "client_address", "server"]),
    # the validation seams find the operation (and Lambda's URI members) as moto's call_action does
    ("moto.core.responses.BaseResponse", "_get_action", ["self"]),
    ("moto.core.responses.BaseResponse", "_get_action_from_method_and_request_uri", ["self", "request"]),
    # _validation reads a deployment package in S3 (for its unzipped size) as moto's CreateFunction does
    ("moto.awslambda.models", "_validate_s3_bucket_and_key", ["account_id", "partition", "data"]),
    ("moto.utilities.utils", "get_partition", ["region"]),
    ("moto.sts.models.STSBackend", "assume_role",
     ["self", "region_name", "role_session_name", "role_arn", "policy", "duration", "external_id"]),
    ("moto.sts.models.STSBackend", "get_assumed_role_from_access_key", ["self", "access_key_id"]),
    ("moto.iam.models.IAMBackend", "get_role_by_arn", ["self", "arn"]),
    ("moto.iam.models.IAMBackend", "get_user", ["self", "name"]),
    ("moto.iam.models.IAMBackend", "get_groups_for_user", ["self", "user_name"]),
    ("moto.s3.models.MultipartChecksumBuilder", "__init__", ["self", "checksum_algorithm", "checksum_type"]),
    ("moto.s3.models.MultipartChecksumBuilder", "build", ["self"]),
    ("moto.s3.utils", "compute_checksum", ["body", "algorithm", "encode_base64"]),
    # _warmup.warm_stepfunctions parses a sample definition with moto's parser (test_stepfunctions_warmup)
    ("moto.stepfunctions.parser.asl.parse.asl_parser.AmazonStateLanguageParser", "parse", ["definition"]),
    # _sfn_limits.CappedEventManager overrides add_event, builds itself as moto's Environment does and fails
    # the execution through the root environment; _sfn_history reads the manager's list under its lock
    ("moto.stepfunctions.parser.asl.eval.event.event_manager.EventManager", "add_event",
     ["self", "context", "event_type", "event_details", "timestamp", "update_source_event_id"]),
    ("moto.stepfunctions.parser.asl.eval.event.event_manager.EventManager", "__init__",
     ["self", "cloud_watch_logging_session"]),
    ("moto.stepfunctions.parser.asl.eval.environment.Environment", "set_error", ["self", "error"]),
    ("moto.stepfunctions.parser.asl.eval.environment.Environment", "is_standard_workflow", ["self"]),
    ("moto.stepfunctions.models.StepFunctionBackend", "describe_execution", ["self", "execution_arn"]),
    # seam 23 fails a task the way moto's service integrations name themselves in TaskFailed
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service.StateTaskService",
     "_get_sfn_resource", ["self"]),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service.StateTaskService",
     "_get_sfn_resource_type", ["self"]),
]
# moto source the seams rely on, beyond names and signatures: (module or class, attribute, text it holds)
SOURCE = [
    # _s3 makes these checks and the writes after them one step: they must stay inside the methods it wraps
    ("moto.s3.responses.S3Response", "put_object", 'if_none_match == "*"'),
    ("moto.s3.responses.S3Response", "put_object", 'raise PreconditionFailed("If-Match")'),
    ("moto.s3.responses.S3Response", "_key_response_post", 'self.headers.get("If-None-Match") == "*"'),
    # _lambda._TooManyRequests sets the body AWS answers a throttled Invoke with (Reason, Type) as the description
    ("moto.core.exceptions.JsonRESTError", "get_body", "return self.description"),
    # _s3_body caches the raw body and presets an empty form: moto must still read the body from request.data
    # and its fields from request.form, which werkzeug computes lazily (cached properties)
    ("moto.core.responses.BaseResponse", "setup_class", "self.body: Any = request.data"),
    ("moto.core.responses.BaseResponse", "setup_class", "self.form_data = request.form"),
    ("moto.s3.responses.S3Response", "key_response", "self.setup_class(request)"),
    # _s3_digests checks keys and digests in _key_response: key_response must call it inside its S3ClientError
    # handler (the refusals are S3ClientErrors), and moto must read the checksum algorithm from this header
    ("moto.s3.responses.S3Response", "key_response", "except S3ClientError as s3error"),
    ("moto.s3.responses.S3Response", "_get_checksum", 'self.headers.get("x-amz-sdk-checksum-algorithm", "")'),
    # _s3_body._dispatcher_get_body replaces this read, which drops a body that is not UTF-8
    ("moto.moto_server.werkzeug_app.DomainDispatcherApplication", "_get_body",
     'environ["wsgi.input"].read(request_body_size).decode("utf-8")'),
    # _lambda._Payload reports its size so that moto's own 6,000,000-byte check lets AWS's 6291556 through
    ("moto.awslambda.responses.LambdaResponse", "invoke", "sys.getsizeof(payload) > 6000000"),
    # _s3_multipart: moto hands complete()'s value to put_object, whose FakeKey sets it through the value property,
    # and its checksum builder is used part by part
    ("moto.s3.models.S3Backend", "complete_multipart_upload", "value, etag, checksum_details = multipart.complete(body)"),
    ("moto.s3.models.FakeKey", "__init__", "self.value = value"),
    ("moto.s3.models.MultipartChecksumBuilder", "addPart", "self.part_count += 1"),
    # _stepfunctions.executions_busy keeps the Execution start_execution returns and reads its last history event
    ("moto.stepfunctions.parser.models.StepFunctionsParserBackend", "start_execution", "return execution"),
    ("moto.stepfunctions.parser.backend.execution.Execution", "to_history_output",
     "env.event_manager.get_event_history()"),
    ("moto.stepfunctions.parser.backend.execution.Execution", "start", "self.exec_status = ExecutionStatus.RUNNING"),
    # _imports.import_ec2_models shares one botocore session among the Session()s of this class body
    ("moto.ec2.models.availability_zones_and_regions", "RegionsAndZonesBackend",
     'Session().get_available_regions("ec2")'),
    ("moto.stepfunctions.parser.asl.eval.event.event_manager.EventManager", "_publish_history_event",
     "self._history_event_list.append(history_event)"),
    ("moto.stepfunctions.parser.asl.eval.event.event_manager.EventManager", "add_event", "with self._mutex:"),
    # frames (Map iterations, Parallel branches) share the execution's capped event manager
    ("moto.stepfunctions.parser.asl.eval.environment.Environment", "as_inner_frame_of",
     "frame.event_manager = env.event_manager"),
    # the program ends a failed execution with one ExecutionFailed event (the capped history's event 25,000)
    ("moto.stepfunctions.parser.asl.component.program.program.Program", "_eval_body",
     "event_type=HistoryEventType.ExecutionFailed"),
    # seam 20 replaces the name these build from a failed branch's or iteration's error
    ("moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl.BranchesDecl", "_eval_body",
     "CustomErrorName(error_name=exit_error_name)"),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker.IterationWorker",
     "_eval_job", "error_name = CustomErrorName(error_name=error_name)"),
    # seam 21 reads the error ErrorEqualsDecl pops and pushes its verdict the same way
    ("moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl.ErrorEqualsDecl", "_eval_body",
     "error_name: ErrorName = env.stack.pop()"),
]


def _moto_value(seam: str):
    """What moto itself has at the seam, whether or not this process installed the patches."""
    owner, attribute = moto_seams.all_seams()[seam]
    if seam in moto_seams._originals:
        return moto_seams._originals[seam]
    assert hasattr(owner, attribute), f"moto changed under localcloud seam {seam}: {owner!r} has no {attribute!r}"
    return getattr(owner, attribute)


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


class TestPinnedMoto:
    """The installed moto is the version the seams were written against."""

    def test_moto_version(self):
        """
        1. Read moto.__version__.
        2. It is the pinned version (pyproject.toml pins moto[server]==5.2.5).
        """
        assert moto.__version__ == PINNED_MOTO, (
            f"moto changed under localcloud seam (all): installed {moto.__version__}, seams written for "
            f"{PINNED_MOTO}; re-check every seam of localcloud.moto_seams.registry before updating the pin")


class TestSeams:
    """Every seam in localcloud.moto_seams.registry exists on moto with the shape its patch is written against."""

    def test_registry_is_one_consistent_list(self):
        """
        1. Read the registry: names are unique, the numbers run from 1 without a gap, each seam says why.
        2. Every patch is in localcloud.moto_seams and resolves; every replacing seam of both stages is
           installed by ``all_seams`` (and so checked below).
        """
        names = [seam.name for seam in registry.SEAMS]
        assert len(names) == len(set(names)), f"seam names repeat: {sorted(n for n in names if names.count(n) > 1)}"
        numbers = {seam.number for seam in registry.SEAMS}
        assert numbers == set(range(1, max(numbers) + 1)), f"seam numbers have gaps: {sorted(numbers)}"
        for seam in registry.SEAMS:
            assert len(seam.why) > 20, f"seam {seam.number} ({seam.name}) does not say why"
            if seam.kind != "setting":
                assert seam.patch.startswith("localcloud.moto_seams."), seam.patch
                assert seam.resolve_patch() is not None
        assert set(moto_seams.all_seams()) == {s.name for s in registry.SEAMS if s.kind != "setting"}

    def test_architecture_lists_every_seam(self):
        """
        1. Read docs/ARCHITECTURE.md's seams section.
        2. Each seam number of the registry starts an item there: the map says what each seam is for.
        """
        from pathlib import Path

        text = (Path(__file__).parents[2] / "docs" / "ARCHITECTURE.md").read_text()
        section = text.split("## The seams", 1)[1].split("\n## ", 1)[0]
        missing = sorted(n for n in {s.number for s in registry.SEAMS}
                         if f"\n{n}. " not in section and f" and {n}. " not in section)
        assert not missing, f"docs/ARCHITECTURE.md's seams section lacks seams {missing}"

    @pytest.mark.parametrize("seam", [s.name for s in registry.seams(kind="setting")])
    def test_setting_seam_is_moto_config(self, seam):
        """
        1. Look up the setting seam's key in moto's configuration dict (seam 7: Step Functions executes).
        2. It is a bool moto reads: the seam sets it on install and clears it on uninstall.
        """
        entry = registry.by_name(seam)
        section, _, key = entry.attribute.partition(".")
        config = entry.resolve_owner()
        assert isinstance(config.get(section, {}).get(key), bool), (
            f"moto changed under localcloud seam {seam}: {entry.owner}[{section!r}][{key!r}] is not a bool")

    @pytest.mark.parametrize("seam", sorted(EXPECTED))
    def test_seam_has_expected_shape(self, seam):
        """
        1. Look up the seam's owner and attribute on the installed moto.
        2. A callable seam has the expected parameters; a value seam has the expected type.
        """
        value = _moto_value(seam)
        expected = EXPECTED[seam]
        if isinstance(expected, type):
            assert isinstance(value, expected) and not isinstance(value, bool), (
                f"moto changed under localcloud seam {seam}: expected a {expected.__name__}, "
                f"found {type(value).__name__} {value!r}")
        else:
            assert callable(value), f"moto changed under localcloud seam {seam}: {value!r} is not callable"
            assert _parameters(value) == expected, (
                f"moto changed under localcloud seam {seam}: signature is now {inspect.signature(value)}, "
                f"localcloud expects parameters {expected}")

    @pytest.mark.parametrize("seam", sorted(s for s, e in EXPECTED.items() if not isinstance(e, type)))
    def test_patch_matches_moto_signature(self, seam):
        """
        1. Take localcloud's replacement for the seam.
        2. Its parameter names are those of moto's original, so moto's callers still fit it.
        """
        patch = registry.by_name(seam).resolve_patch()
        assert _parameters(patch) == _parameters(_moto_value(seam)), (
            f"moto changed under localcloud seam {seam}: moto has {inspect.signature(_moto_value(seam))}, "
            f"localcloud's patch has {inspect.signature(patch)}")

    def test_sagemaker_service_overrides_exist_on_moto_base(self):
        """
        1. List the methods StateTaskServiceSageMaker overrides (everything but its own helpers).
        2. Each exists on moto's StateTaskServiceCallback with the same parameter names.
        """
        from localcloud.moto_seams import _stepfunctions

        base = _stepfunctions.callback_module.StateTaskServiceCallback
        own_helpers = {"_client"}
        for name, method in vars(_stepfunctions.StateTaskServiceSageMaker).items():
            if not callable(method) or name in own_helpers or name.startswith("__"):
                continue
            assert hasattr(base, name), (
                f"moto changed under localcloud seam sfn_service_factory: StateTaskServiceCallback.{name} is gone")
            assert _parameters(method) == _parameters(getattr(base, name)), (
                f"moto changed under localcloud seam sfn_service_factory: StateTaskServiceCallback.{name} is now "
                f"{inspect.signature(getattr(base, name))}")
        assert _parameters(base.__init__) == ["self", "supported_integration_patterns"], (
            "moto changed under localcloud seam sfn_service_factory: StateTaskServiceCallback.__init__ is now "
            f"{inspect.signature(base.__init__)}")

    @pytest.mark.parametrize("seam", [s.name for s in registry.seams(kind="add")])
    def test_moto_still_lacks_the_added_actions(self, seam):
        """
        1. For each action localcloud adds to moto (kind "add" in the registry, e.g. StopTrainingJob), look at
           the owner class, ignoring localcloud's own addition.
        2. moto does not define it: if a moto upgrade adds one, localcloud would overwrite (and on uninstall
           delete) moto's own, so the addition needs reviewing.
        """
        entry = registry.by_name(seam)
        owner = entry.resolve_owner()
        value = vars(owner).get(entry.attribute)
        ours = value is not None and (value is entry.resolve_patch()
                                      or value.__module__.startswith(moto_seams.__name__))
        assert value is None or ours, (
            f"moto changed under localcloud seam {seam}: moto now defines {owner.__name__}.{entry.attribute}; "
            "localcloud overwrites it on install")
        assert not any(base for base in owner.__mro__[1:] if entry.attribute in vars(base)), (
            f"moto changed under localcloud seam {seam}: a base class of {owner.__name__} defines {entry.attribute}")


class TestReadInternals:
    """What the seams read from moto without patching it is still there."""

    @pytest.mark.parametrize("owner_path, attribute, expected", READ, ids=[f"{o}.{a}" for o, a, _ in READ])
    def test_read_callables_exist(self, owner_path, attribute, expected):
        """
        1. Import the moto module or class the seams call into.
        2. The attribute exists with the parameters localcloud passes.
        """
        import importlib

        try:
            owner = importlib.import_module(owner_path)
        except ModuleNotFoundError:
            module_path, _, name = owner_path.rpartition(".")
            owner = getattr(importlib.import_module(module_path), name)
        value = getattr(owner, attribute, None)
        assert value is not None, f"moto changed under localcloud seams: {owner_path}.{attribute} is gone"
        assert _parameters(value) == expected, (
            f"moto changed under localcloud seams: {owner_path}.{attribute} is now {inspect.signature(value)}")

    def test_global_cors_switch_exists(self):
        """
        1. Look up werkzeug_app.DISABLE_GLOBAL_CORS, the flag moto's create_backend_app reads at each call.
        2. It is a bool: serve_moto sets it so moto stops echoing any Origin in Access-Control-Allow-Origin.
        3. create_backend_app still reads it (its source names the flag).
        """
        from moto.moto_server import werkzeug_app

        assert isinstance(getattr(werkzeug_app, "DISABLE_GLOBAL_CORS", None), bool), (
            "moto changed under localcloud seam serve_moto: werkzeug_app.DISABLE_GLOBAL_CORS is gone")
        assert "DISABLE_GLOBAL_CORS" in inspect.getsource(werkzeug_app.create_backend_app), (
            "moto changed under localcloud seam serve_moto: create_backend_app no longer reads DISABLE_GLOBAL_CORS")

    @pytest.mark.parametrize("owner_path, attribute, text", SOURCE, ids=[f"{o}.{a}" for o, a, _ in SOURCE])
    def test_relied_on_source(self, owner_path, attribute, text):
        """
        1. Read the source of the moto function a seam works around.
        2. It still holds the code the workaround is written for.
        """
        import importlib

        module_path, _, name = owner_path.rpartition(".")
        function = getattr(getattr(importlib.import_module(module_path), name), attribute)
        assert text in inspect.getsource(function), (
            f"moto changed under localcloud seams: {owner_path}.{attribute} no longer holds {text!r}; "
            "review localcloud.moto_seams._lambda._Payload")

    def test_backend_collections_exist(self):
        """
        1. Make a SageMaker and an EventBridge backend and an S3 notification configuration as moto does.
        2. The collections the seams read are there: endpoints, endpoint configs, models, transform jobs;
           the default bus with its rules; the notification lists and the EventBridge flag.
        """
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.events.models import events_backends
        from moto.s3.models import NotificationConfiguration
        from moto.sagemaker.models import sagemaker_backends

        sagemaker = sagemaker_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"]
        for name in ("endpoints", "endpoint_configs", "_models", "transform_jobs"):
            assert isinstance(getattr(sagemaker, name, None), dict), f"moto changed: SageMaker backend .{name}"
        bus = events_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].event_buses.get("default")
        assert bus is not None and isinstance(bus.rules, dict), "moto changed: EventBridge default bus and rules"
        config = NotificationConfiguration(event_bridge={})
        for name in ("cloud_function", "queue", "topic", "event_bridge"):
            assert hasattr(config, name), f"moto changed: S3 NotificationConfiguration.{name}"

    def test_moto_account_id_sets_the_account_of_every_request(self):
        """``--account`` relies on moto's ``MOTO_ACCOUNT_ID`` (moto_seams._records.cloud_account).

        1. BaseResponse.get_current_account still reads MOTO_ACCOUNT_ID before the access key.
        2. cloud_account() follows the variable and falls back to moto's DEFAULT_ACCOUNT_ID.
        """
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.core.responses import BaseResponse

        from localcloud.moto_seams import cloud_account

        assert '"MOTO_ACCOUNT_ID" in os.environ' in inspect.getsource(BaseResponse.get_current_account), (
            "moto changed under localcloud --account: get_current_account no longer reads MOTO_ACCOUNT_ID")
        previous = os.environ.pop("MOTO_ACCOUNT_ID", None)
        try:
            assert cloud_account() == DEFAULT_ACCOUNT_ID
            os.environ["MOTO_ACCOUNT_ID"] = "210987654321"
            assert cloud_account() == "210987654321"
        finally:
            os.environ.pop("MOTO_ACCOUNT_ID", None)
            if previous is not None:
                os.environ["MOTO_ACCOUNT_ID"] = previous


class TestIamInternals:
    """What the IAM seam reads of moto's IAM and STS models, and where it hooks the Step Functions calls."""

    def test_role_and_assumed_role_attributes(self):
        """
        1. Create a role with an inline and a managed policy in moto's IAM backend; assume it through STS.
        2. The role exposes policies (name -> document), managed_policies (with default versions) and
           assume_role_policy_document; the assumed role its keys, session name and role ARN.
        """
        import json

        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
        document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                                        "Resource": "*"}]})
        role = iam.create_role("seam-check", "{}", "/", None, "", [], None)
        iam.put_role_policy("seam-check", "inline", document)
        managed = iam.create_policy("", "/", document, "seam-check-managed", [])
        iam.attach_role_policy(managed.arn, "seam-check")
        try:
            role = iam.get_role_by_arn(role.arn)
            assert role.policies == {"inline": document}, "moto changed: Role.policies"
            versions = [v for p in role.managed_policies.values() for v in p.versions if v.is_default]
            assert [v.document for v in versions] == [document], "moto changed: Role.managed_policies versions"
            assert isinstance(role.assume_role_policy_document, str), "moto changed: Role.assume_role_policy_document"
            sts = sts_backends[DEFAULT_ACCOUNT_ID]["aws"]
            assumed = sts.assume_role(region_name="us-east-1", role_session_name="s", role_arn=role.arn,
                                      policy=None, duration=900, external_id=None)
            found = sts.get_assumed_role_from_access_key(assumed.access_key_id)
            assert (found.role_arn, found.session_name) == (role.arn, "s"), "moto changed: STS AssumedRole"
            assert found.secret_access_key and found.session_token, "moto changed: STS AssumedRole keys"
        finally:
            iam.detach_role_policy(managed.arn, "seam-check")
            iam.delete_role_policy("seam-check", "inline")
            iam.delete_role("seam-check")

    def test_step_functions_modules_import_boto_client_for(self):
        """
        1. List moto's Step Functions modules that imported boto_client_for by name.
        2. The Lambda task and the aws-sdk task modules are among them (the kit's integrations).
        """
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_aws_sdk,
        )

        from localcloud.moto_seams._stepfunctions import client_modules

        modules = client_modules()
        assert lambda_eval_utils in modules and state_task_service_aws_sdk in modules, (
            "moto changed under localcloud seam sfn_boto_client_for: the Lambda or aws-sdk task no longer "
            "imports boto_client_for by name")
