"""When a job's instance "starts": the order of SageMaker's start-up phases, without its minutes.

On AWS a job's instance takes minutes to launch, while a state machine runs its quick steps (Lambda
Tasks that only start jobs) in a second or two. So every job a chain of quick steps starts is still
launching when the chain's last step runs; and once instances are up, a training job downloads its
data first (secondary statuses ``Starting`` → ``Downloading`` → ``Training`` → ``Uploading``, the
training image after the data: "Training image download completed. Training in progress.",
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_SecondaryStatusTransition.html),
while a processing job pulls its image and runs its container before its outputs reach S3 (they are
uploaded when the job completes, ``S3UploadMode`` ``EndOfJob``; the output folders exist "when your
container's entrypoint is invoked",
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingS3Output.html).

The local cloud starts a job in milliseconds, so with warm jobs the article chain's preprocessing
job would end before its training job looked for data, hiding the race AWS always shows. This
module keeps AWS's order of events, by events rather than by sleeping:

1. **Launch.** A job's instance starts once no Step Functions execution is running quick steps
   (``busy()`` is False: every running execution waits in a Wait state, a ``.sync`` or callback task,
   or has ended). A job a notebook or a Lambda invoked by hand starts at once (nothing is busy); a
   ``.sync`` job starts as soon as its task has submitted it.
2. **Data before containers.** A processing job's container starts only after every training job
   created before this processing job's instance started has finished downloading its channels.

So in the article's chain the training job is created while the chain runs, before the preprocessing
job's instance starts; it looks for ``processed/train/`` before preprocessing has written anything,
fails, and was created before preprocessing ended: every time, however loaded the machine is. Each
wait is capped (:data:`MAX_WAIT`) so a state machine whose Lambda waits for its own job cannot hang.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_WAIT = 30.0  # seconds; a cap, not a model: the order above is reached in milliseconds to a second or two
_POLL = 0.01


class InstanceStarts:
    """The start-up order of the cloud's jobs (see the module's docstring).

    Args:
        busy: True while some Step Functions execution runs quick steps (the cloud reads moto's executions).
        max_wait: the longest any job waits for either condition.
    """

    def __init__(self, busy: Callable[[], bool] = lambda: False, max_wait: float = MAX_WAIT) -> None:
        self.busy = busy
        self.max_wait = max_wait
        self._downloading: set[object] = set()  # training jobs created and not done downloading
        self._changed = threading.Condition()

    def created(self, job: object, kind: str) -> None:
        """Record a job as it is created (in the Create* request, before its thread runs)."""
        if kind == "training":
            with self._changed:
                self._downloading.add(job)

    def launched(self, stop: threading.Event | None = None) -> None:
        """Return when the job's instance has started (1.), or ``stop`` is set."""
        deadline = time.monotonic() + self.max_wait
        while self.busy() and time.monotonic() < deadline:
            if stop is not None and stop.wait(_POLL):
                return
            if stop is None:
                time.sleep(_POLL)

    def downloaded(self, job: object) -> None:
        """A training job has its data (or failed before it got any)."""
        with self._changed:
            self._downloading.discard(job)
            self._changed.notify_all()

    def before_container(self, stop: threading.Event | None = None) -> None:
        """Wait until the training jobs created before now have downloaded their data (2.)."""
        deadline = time.monotonic() + self.max_wait
        with self._changed:
            earlier = set(self._downloading)
            while earlier & self._downloading and not (stop is not None and stop.is_set()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(min(remaining, 0.1))
