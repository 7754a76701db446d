"""What each role needs, derived from the kit's own code (no test logic here; the evaluator is _iam_policy).

Needs are (action, resource ARN, condition context) triples for a sample kit, named as
:class:`helpers.config.Names` names things:

* ``states``: every Task of every ``statemachines/*.asl.json``, with its Parameters evaluated for a
  sample execution input (``.sync`` adds what Step Functions does to watch the job);
* ``fetch-data``, ``start-preprocessing``, ``start-training`` (one role per function): every
  ``boto3.client(...).<method>(...)`` call in that function's ``src/lambdas/*.py`` (found with ``ast``);
* ``sagemaker``: what the jobs, models and endpoints those Tasks and handlers create do with the role;
* ``sdk``: notebook 08's SageMaker role: the ``sagemaker`` needs, and what the SageMaker Python SDK's role check
  simulates before a training job (read from the installed SDK);
* ``events``: the rule of notebook 07 starts the pipeline.
"""

from __future__ import annotations

import json

import ast
import functools
import re
from typing import Any

from _iam_policy import (PASSED_TO_SAGEMAKER, RUN, Arns, Need, allowed, as_list, dumps,  # noqa: F401 (re-exported)
                         rendered_policy, sample_kit, statement_matches)
from helpers import config, stepfunctions
from helpers.paths import LAMBDAS_DIR, STATEMACHINES_DIR

UPLOAD_KEY = "incoming/iris-upload.csv"  # notebook 07 uploads under incoming/
ENDPOINT_SUFFIX = "iris"  # notebook 06: endpoint_name = f"{prefix}-iris"
# Placeholder of a state machine -> the function it names (as notebook 05 fills them).
FUNCTION_PLACEHOLDERS = {"FetchFunctionArn": "fetch-data", "StartPreprocessingFunctionArn": "start-preprocessing",
                         "StartTrainingFunctionArn": "start-training"}

# -- the states role: Task states ------------------------------------------------------------------

# createXJob (.sync or not) -> (the job's kind in ARNs and API names, the Parameter naming it)
_SAGEMAKER_JOBS = {"createProcessingJob": ("processing-job", "ProcessingJobName", "ProcessingJob"),
                   "createTrainingJob": ("training-job", "TrainingJobName", "TrainingJob"),
                   "createTransformJob": ("transform-job", "TransformJobName", "TransformJob")}
_SAGEMAKER_DEPLOY = {"createModel": ("model", "ModelName"), "createEndpointConfig": ("endpoint-config",
                     "EndpointConfigName"), "createEndpoint": ("endpoint", "EndpointName"),
                     "updateEndpoint": ("endpoint", "EndpointName")}
_FORMAT = re.compile(r"^States\.Format\('((?:[^'\\]|\\.)*)'((?:\s*,\s*\$[\w.]+)*)\)$")


def _path(document: dict[str, Any], path: str) -> Any:
    value = document
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


def evaluate_parameters(parameters: Any, execution_input: dict[str, Any]) -> Any:
    """Parameters as Step Functions would send them: ``.$`` keys resolved (paths and States.Format)."""
    if isinstance(parameters, list):
        return [evaluate_parameters(p, execution_input) for p in parameters]
    if not isinstance(parameters, dict):
        return parameters
    result = {}
    for key, value in parameters.items():
        if not key.endswith(".$"):
            result[key] = evaluate_parameters(value, execution_input)
            continue
        if value.startswith("$."):
            result[key[:-2]] = _path(execution_input, value)
            continue
        match = _FORMAT.match(value)
        if not match:
            raise ValueError(f"the IAM test cannot evaluate {key}: {value!r} (extend _iam_model.evaluate_parameters)")
        text = match.group(1)
        for argument in re.findall(r"\$[\w.]+", match.group(2)):
            text = text.replace("{}", str(_path(execution_input, argument)), 1)
        result[key[:-2]] = text
    return result


def definitions(kit: config.Kit) -> dict[str, dict[str, Any]]:
    """Every state machine file, filled as the notebooks fill it for the sample kit."""
    arns = Arns(kit)
    registry = f"{kit.account}.dkr.ecr.{kit.region}.amazonaws.com"
    jobs_image = f"{registry}/{kit.names.repository('preprocess')}:latest"
    values = {**{p: arns.function(f) for p, f in FUNCTION_PLACEHOLDERS.items()},
              "SageMakerRoleArn": arns.role("sagemaker"), "PreprocessImageUri": jobs_image, "JobsImageUri": jobs_image,
              "TrainingImageUri": linear_learner_image(kit.region), "JobNamePrefix": kit.settings.prefix,
              "EndpointName": f"{kit.settings.prefix}-{ENDPOINT_SUFFIX}", "ProcessingInstanceType": "ml.t3.medium",
              "TrainingInstanceType": "ml.m5.large", "TransformInstanceType": "ml.m5.large",
              "EndpointInstanceType": "ml.m5.large"}
    return {path.name.removesuffix(".asl.json"): stepfunctions.load_definition(path.name.removesuffix(".asl.json"),
                                                                                **values)
            for path in sorted(STATEMACHINES_DIR.glob("*.asl.json"))}


@functools.cache
def linear_learner_image(region: str) -> str:
    """The training image, looked up as the notebooks look it up (an AWS-owned registry)."""
    from helpers import sagemaker

    return sagemaker.image_uri("linear-learner", region)


def execution_input(kit: config.Kit) -> dict[str, Any]:
    """What a Task of a run sees: the execution input plus what earlier states added."""
    bucket, prefix = kit.names.bucket, f"runs/{RUN}"
    return {"bucket": bucket, "run_id": RUN, "run_prefix": prefix,
            "raw_s3_uri": f"s3://{bucket}/{prefix}/raw/iris.data", "job_names": kit.names.jobs(RUN),
            "hyperparameters": kit.settings.hyperparameters, "dataset": kit.settings.dataset,
            "dataset_json": json.dumps(kit.settings.dataset),
            "train": {"model": f"s3://{bucket}/{prefix}/model/{kit.names.job('train', RUN)}/output/model.tar.gz"}}


def task_requests(kit: config.Kit) -> list[tuple[str, str, dict[str, Any]]]:
    """(state machine/state, Task resource, evaluated Parameters) of every Task."""
    sample = execution_input(kit)
    return [(f"statemachines/{name}.asl.json: {state_name}", state["Resource"],
             evaluate_parameters(state.get("Parameters", {}), sample))
            for name, definition in definitions(kit).items()
            for state_name, state in definition["States"].items() if state["Type"] == "Task"]


def states_needs(kit: config.Kit) -> list[Need]:
    """What the Step Functions role needs for every Task."""
    arns, needs = Arns(kit), []
    for source, resource, parameters in task_requests(kit):
        service_api = resource.split(":::", 1)[1] if ":::" in resource else ""
        if resource.split(":")[2] == "lambda":
            needs.append(Need("lambda:InvokeFunction", resource, source))
        elif service_api.startswith("sagemaker:"):
            needs += _sagemaker_task_needs(arns, source, service_api.removeprefix("sagemaker:"), parameters)
        elif service_api == "aws-sdk:s3:getObject":
            needs.append(Need("s3:GetObject", arns.object(parameters["Key"]), source))
        elif service_api == "aws-sdk:sagemaker:describeEndpoint":
            needs.append(Need("sagemaker:DescribeEndpoint",
                              arns.regional("sagemaker", f"endpoint/{parameters['EndpointName']}"), source))
        else:
            raise ValueError(f"{source}: the IAM test has no rule for Task resource {resource} (add one to _iam_model)")
    return needs


def _sagemaker_task_needs(arns: Arns, source: str, api: str, parameters: dict[str, Any]) -> list[Need]:
    name, sync = api.removesuffix(".sync"), api.endswith(".sync")
    action = f"sagemaker:{name[0].upper()}{name[1:]}"
    if name in _SAGEMAKER_JOBS:
        kind, name_parameter, noun = _SAGEMAKER_JOBS[name]
    elif name in _SAGEMAKER_DEPLOY and not sync:
        kind, name_parameter = _SAGEMAKER_DEPLOY[name]
    else:
        raise ValueError(f"{source}: the IAM test has no rule for sagemaker:{api} (add one to _iam_model)")
    target = arns.regional("sagemaker", f"{kind}/{parameters[name_parameter]}".lower())
    needs = [Need(action, target, source)]
    if name in ("createEndpoint", "updateEndpoint"):  # authorized against the endpoint config as well
        config_arn = arns.regional("sagemaker", f"endpoint-config/{parameters['EndpointConfigName']}".lower())
        needs.append(Need(action, config_arn, source))
    if "Tags" in parameters:
        needs.append(Need("sagemaker:AddTags", target, source))
    for role_parameter in ("RoleArn", "ExecutionRoleArn"):
        if role_parameter in parameters:
            needs.append(Need("iam:PassRole", parameters[role_parameter], source, tuple(PASSED_TO_SAGEMAKER.items())))
    if sync:  # Step Functions watches the job through a managed EventBridge rule, and stops it on abort
        needs += [Need(f"sagemaker:Describe{noun}", target, source), Need(f"sagemaker:Stop{noun}", target, source),
                  # the Step Functions guide's "IAM policies for Amazon SageMaker" grants ListTags for .sync
                  Need("sagemaker:ListTags", target, source)]
        rule = arns.regional("events", f"rule/StepFunctionsGetEventsForSageMaker{noun}sRule")
        needs += [Need(f"events:{verb}", rule, source) for verb in ("PutTargets", "PutRule", "DescribeRule")]
    return needs


# -- the lambda role: what the handlers call ------------------------------------------------------

def handler_calls() -> dict[str, set[tuple[str, str]]]:
    """``{handler file: {(service, method)}}`` for every call on a ``boto3.client("<service>")``.

    A client is known by the name it is assigned to, and by the parameter name of a module
    function it is passed to (``_read_object(s3, uri)``), so helpers of the handlers count too.
    """
    found: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(LAMBDAS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        clients: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and _client_service(node.value):
                clients.update({t.id: _client_service(node.value) for t in node.targets if isinstance(t, ast.Name)})
        for node in ast.walk(tree):  # clients handed to the module's own functions
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
                parameters = [a.arg for a in functions[node.func.id].args.args]
                for parameter, argument in zip(parameters, node.args):
                    if isinstance(argument, ast.Name) and argument.id in clients:
                        clients[parameter] = clients[argument.id]
        calls = found.setdefault(path.name, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                service = clients.get(owner.id) if isinstance(owner, ast.Name) else _client_service(owner)
                if service:
                    calls.add((service, node.func.attr))
    return found


def _client_service(node: ast.AST) -> str | None:
    """``"s3"`` for the expression ``boto3.client("s3")``, else None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "boto3" and node.args
            and isinstance(node.args[0], ast.Constant)):
        return node.args[0].value
    return None


def handler_call_needs(arns: Arns, service: str, method: str) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource, context) for one boto3 method, for the requests the handlers make with it."""
    preprocess, train = arns.names.job("preprocess", RUN), arns.names.job("train", RUN)
    passrole = ("iam:PassRole", arns.role("sagemaker"), PASSED_TO_SAGEMAKER)
    table = {
        ("s3", "get_object"): [("s3:GetObject", arns.object(UPLOAD_KEY), {})],  # fetch_data copies an upload
        ("s3", "put_object"): [("s3:PutObject", arns.object(f"runs/{RUN}/raw/iris.data"), {})],
        ("sagemaker", "create_processing_job"): [
            ("sagemaker:CreateProcessingJob", arns.regional("sagemaker", f"processing-job/{preprocess}"), {}),
            ("sagemaker:AddTags", arns.regional("sagemaker", f"processing-job/{preprocess}"), {}), passrole],
        ("sagemaker", "describe_processing_job"): [
            ("sagemaker:DescribeProcessingJob", arns.regional("sagemaker", f"processing-job/{preprocess}"), {})],
        ("sagemaker", "create_training_job"): [
            ("sagemaker:CreateTrainingJob", arns.regional("sagemaker", f"training-job/{train}"), {}),
            ("sagemaker:AddTags", arns.regional("sagemaker", f"training-job/{train}"), {}), passrole],
        ("sagemaker", "describe_training_job"): [
            ("sagemaker:DescribeTrainingJob", arns.regional("sagemaker", f"training-job/{train}"), {})],
    }
    if (service, method) not in table:
        raise ValueError(f"a handler calls {service}.{method}: add what it needs to _iam_model.handler_call_needs "
                         f"and the function's iam/policies/<function>.json")
    return table[(service, method)]


# One role per function: the role's purpose (as helpers.iam.ROLES names it) -> the handler it runs.
LAMBDA_ROLES = {"fetch-data": "fetch_data.py", "start-preprocessing": "start_preprocessing.py",
                "start-training": "start_training.py"}


def lambda_needs(kit: config.Kit, handler_file: str) -> list[Need]:
    """What one function's role needs: its handler's calls, and the function's own log group."""
    arns, needs = Arns(kit), []
    for handler, calls in handler_calls().items():
        if handler != handler_file:
            continue
        source = f"src/lambdas/{handler}"
        for service, method in sorted(calls):
            needs += [Need(a, r, f"{source}: {service}.{method}", tuple(c.items()))
                      for a, r, c in handler_call_needs(arns, service, method)]
        group = f"/aws/lambda/{kit.names.function(handler.removesuffix('.py').replace('_', '-'))}"
        needs += [Need("logs:CreateLogGroup", arns.log_group(group), f"{source}: logs"),
                  *(Need(a, arns.log_stream(group, "2026/11/25/[$LATEST]0123abcd"), f"{source}: logs")
                    for a in ("logs:CreateLogStream", "logs:PutLogEvents"))]
    return needs


# -- the sagemaker role: what the jobs, models and endpoints do ------------------------------------

_READS = ("ProcessingInputs", "InputDataConfig", "TransformInput", "PrimaryContainer")
_WRITES = ("ProcessingOutputConfig", "OutputDataConfig", "TransformOutput")
_LOG_GROUPS = {"processing-job": "/aws/sagemaker/ProcessingJobs", "training-job": "/aws/sagemaker/TrainingJobs",
               "transform-job": "/aws/sagemaker/TransformJobs"}


def _s3_uris(value: Any, section: str = "") -> list[tuple[str, str]]:
    """(section, s3:// URI) of every S3 location in a request, with the top-level section it is under."""
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in _s3_uris(item, section or key)]
    if isinstance(value, list):
        return [pair for item in value for pair in _s3_uris(item, section)]
    return [(section, value)] if isinstance(value, str) and value.startswith("s3://") else []


def sagemaker_needs(kit: config.Kit) -> list[Need]:
    """What the execution role needs: data in and out, logs and metrics, the kit's images."""
    arns, needs = Arns(kit), []
    registry = f"{kit.account}.dkr.ecr.{kit.region}.amazonaws.com/"
    for source, resource, parameters in task_requests(kit):
        kind = next((k for a, (k, _, _) in _SAGEMAKER_JOBS.items() if f":{a}" in resource), None)
        for section, uri in _s3_uris(parameters):
            bucket, _, key = uri[5:].partition("/")
            assert bucket == kit.names.bucket, f"{source}: {uri} is outside the kit's bucket"
            if section in _READS:
                needs.append(Need("s3:GetObject", arns.object(f"{key}part.csv" if key.endswith("/") else key), source))
                if section != "PrimaryContainer":  # S3Prefix inputs are listed first; model data is one object
                    needs.append(Need("s3:ListBucket", arns.bucket(), source, (("s3:prefix", key),)))
            elif section in _WRITES:
                needs.append(Need("s3:PutObject", arns.object(f"{key.rstrip('/')}/output.bin"), source))
        images = [v for k, v in _flat(parameters) if k in ("ImageUri", "TrainingImage", "Image")]
        for image in images:
            if image.startswith(registry):  # the kit's own repository; AWS's algorithm images need nothing
                repository = arns.regional("ecr", f"repository/{image[len(registry):].split(':')[0]}")
                needs += [Need(a, repository, source) for a in
                          ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")]
                needs.append(Need("ecr:GetAuthorizationToken", "*", source))
        groups = [(_LOG_GROUPS[kind], _LOG_GROUPS[kind])] if kind else []  # (log group, metrics namespace)
        if resource.endswith(":createEndpoint"):
            groups.append((f"/aws/sagemaker/Endpoints/{parameters['EndpointName']}", "/aws/sagemaker/Endpoints"))
        for group, namespace in groups:
            needs += [Need(a, arns.log_group(group), f"{source}: logs") for a in
                      ("logs:CreateLogGroup", "logs:DescribeLogStreams")]
            needs += [Need(a, arns.log_stream(group, "sample/algo-1-1764000000"), f"{source}: logs") for a in
                      ("logs:CreateLogStream", "logs:PutLogEvents")]
            needs.append(Need("cloudwatch:PutMetricData", "*", f"{source}: metrics",
                              (("cloudwatch:namespace", namespace),)))
    return needs


def _flat(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in [(key, item), *_flat(item)]]
    if isinstance(value, list):
        return [pair for item in value for pair in _flat(item)]
    return []


def events_needs(kit: config.Kit) -> list[Need]:
    """The rule of notebook 07 starts the pipeline state machine."""
    machine = Arns(kit).regional("states", f"stateMachine:{kit.names.state_machine('pipeline')}")
    return [Need("states:StartExecution", machine, "notebooks/07_triggers.ipynb: the rule's target")]


def sdk_checked_actions() -> list[str]:
    """The actions the SageMaker Python SDK's role check simulates before ModelTrainer starts a training job."""
    from sagemaker.core.helper import iam_role_resolver

    return sorted(set(iam_role_resolver._get_smoke_test_actions("training")))


def sdk_needs(kit: config.Kit) -> list[Need]:
    """Notebook 08's role: what the sagemaker role's jobs do, and what the SDK's role check simulates (no ARN)."""
    source = "sagemaker.core.helper.iam_role_resolver: ModelTrainer's role check"
    return sagemaker_needs(kit) + [Need(action, "*", source) for action in sdk_checked_actions()]


NEEDS = {"states": states_needs, "sagemaker": sagemaker_needs, "sdk": sdk_needs, "events": events_needs,
         **{purpose: functools.partial(lambda_needs, handler_file=handler)
            for purpose, handler in LAMBDA_ROLES.items()}}
