"""One retry for the calls that name a role made seconds ago (IAM is eventually consistent).

IAM changes take a few seconds to reach the other services
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot.html#troubleshoot_general_eventual-consistency):
a function, state machine or job created right after its role can be refused with an error
that says the role cannot be assumed. Only those errors are retried, a bounded number of
times with growing delays; any other error, and the last refusal, are raised as they came.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")

# (error code, part of the message) AWS answers while a new role propagates.
PROPAGATION_ERRORS = (
    # Lambda CreateFunction / UpdateFunctionConfiguration
    ("InvalidParameterValueException", "cannot be assumed by Lambda"),
    # Step Functions CreateStateMachine / UpdateStateMachine: "Neither the global service principal
    # states.amazonaws.com, nor the regional one is authorized to assume the provided role."
    ("AccessDeniedException", "authorized to assume the provided role"),
    # SageMaker CreateProcessingJob / CreateTrainingJob / CreateModel: "Could not assume role …"
    ("ValidationException", "Could not assume role"),
)
# EventBridge's PutTargets is not here: it does not assume the target's role when called; it does so
# when it delivers an event, and retries a failed delivery by itself (its target RetryPolicy).
ATTEMPTS = 8
FIRST_DELAY = 2.0  # seconds; doubled after each refusal, at most MAX_DELAY: 2+4+8+15+15+15+15 ≈ 74 s in all
MAX_DELAY = 15.0
sleep: Callable[[float], None] = time.sleep  # tests replace it: no real waiting


def is_role_propagation(error: BaseException) -> bool:
    """True when ``error`` is one of AWS's "the new role cannot be assumed yet" refusals."""
    if not isinstance(error, ClientError):
        return False
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    return any(code == known and fragment in message for known, fragment in PROPAGATION_ERRORS)


def delays(attempts: int = ATTEMPTS) -> list[float]:
    """The waits between attempts: ``attempts - 1`` of them, doubling from FIRST_DELAY up to MAX_DELAY."""
    return [min(FIRST_DELAY * 2 ** n, MAX_DELAY) for n in range(attempts - 1)]


def with_role_retry(call: Callable[..., T], /, *args: Any, attempts: int = ATTEMPTS, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, again after a wait while AWS says the role it names cannot be assumed yet.

    Raises:
        ClientError: any other error at once; the propagation error itself after ``attempts`` tries.
    """
    waits = delays(attempts)
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except ClientError as error:
            if not is_role_propagation(error) or attempt == attempts - 1:
                raise
            operation = getattr(error, "operation_name", "the call")
            print(f"{operation}: the role is not usable yet (IAM propagates changes in seconds); "
                  f"retrying in {waits[attempt]:g} s")
            sleep(waits[attempt])
    raise AssertionError("unreachable")
