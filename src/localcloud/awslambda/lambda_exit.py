"""How Lambda words the end of a runtime process that a handler (or its init code) ended.

As reported from AWS: "Runtime exited with error: exit status 1"
(https://github.com/aws/aws-lambda-python-runtime-interface-client/issues/10), "Runtime exited without providing
a reason" for status 0 (https://github.com/ballerina-platform/module-ballerinax-aws.lambda/issues/229), and
"Runtime exited with error: signal: killed" for a process killed by a signal (Go's os.ProcessState wording).
"""

from __future__ import annotations

import signal

# How Lambda names a runtime's death (Go's os.ProcessState wording): "signal: killed" for SIGKILL.
_SIGNAL_WORDS = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
                 signal.SIGTERM: "terminated", signal.SIGBUS: "bus error", signal.SIGINT: "interrupt"}


def exit_reason(code: int | None) -> str:
    """What Lambda says of a runtime process that ended with ``code`` (a Popen returncode)."""
    if code == 0:
        return "Runtime exited without providing a reason"
    if code is None:
        return "Runtime exited with error: unknown status"
    if code < 0:
        try:
            word = _SIGNAL_WORDS.get(signal.Signals(-code)) or signal.Signals(-code).name.lower()
        except ValueError:
            word = str(-code)
        return f"Runtime exited with error: signal: {word}"
    return f"Runtime exited with error: exit status {code}"
