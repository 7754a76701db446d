"""A job's folder may hold no more than its ML storage volume (``VolumeSizeInGB``).

On SageMaker a job's ``/opt/ml`` (inputs, outputs, the model, scratch files) is on a storage volume
of ``VolumeSizeInGB``; a job that writes past it gets ENOSPC and fails. Here the job folder is on the
machine's disk. A real limit would need a file system of that size: a tmpfs would hold the job's
files in RAM (volumes are 30 GB and more), and the folder must outlive the job's processes, since the
cloud uploads the outputs afterwards; a loop-mounted image needs root. So a :class:`VolumeWatch`
measures the folder (allocated blocks, so sparse files count as on a real disk) twice a second while
the job runs and once after it ends; past the volume, the job is killed and fails with
"No space left on device". Difference from AWS: the job is stopped from outside, so the script sees
no OSError it could catch, and it may write up to one interval's worth past the volume first.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.contracts import ALGORITHM_ERROR, JobFailure

_INTERVAL_SECONDS = 0.5
_GB = 1 << 30


def volume_gb(request: dict[str, Any]) -> int | None:
    """VolumeSizeInGB of a CreateProcessingJob or CreateTrainingJob request (None: not given)."""
    config = (request.get("ProcessingResources") or {}).get("ClusterConfig") or request.get("ResourceConfig") or {}
    size = config.get("VolumeSizeInGB")
    return int(size) if size else None


def used_bytes(folder: Path) -> int:
    """Bytes allocated to the files below ``folder`` (what a disk of that size would have to hold)."""
    total = 0
    for root, dirs, files in os.walk(folder, onerror=lambda _: None):
        for name in files + dirs:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass  # removed meanwhile
    return total


class VolumeFull(JobFailure):
    """The job wrote more than its volume holds."""

    def __init__(self, size_gb: int) -> None:
        super().__init__(ALGORITHM_ERROR, f"[Errno 28] No space left on device: the job's files outgrew its "
                         f"VolumeSizeInGB ({size_gb} GB) and it was stopped")


class VolumeWatch:
    """Calls ``on_full`` once when ``folder`` holds more than ``size_gb``; a context manager.

    Args:
        folder: the job's folder (its ``/opt/ml`` and the image's files).
        size_gb: VolumeSizeInGB; None watches nothing.
        on_full: what stops the job (kills its process tree).
    """

    def __init__(self, folder: Path, size_gb: int | None, on_full: Callable[[], None]) -> None:
        self.folder, self.size_gb, self.on_full = folder, size_gb, on_full
        self.full = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="localcloud-job-volume")

    def __enter__(self) -> VolumeWatch:
        if self.size_gb:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        if self.size_gb:
            self._thread.join()
            self._check()  # what was written since the last look (a fast job may end between two)

    def check(self) -> None:
        """Raise :class:`VolumeFull` if the volume was outgrown."""
        if self.full:
            raise VolumeFull(self.size_gb or 0)

    def _watch(self) -> None:
        while not self._done.wait(_INTERVAL_SECONDS) and not self.full:
            self._check()

    def _check(self) -> None:
        if not self.full and used_bytes(self.folder) > (self.size_gb or 0) * _GB:
            self.full = True
            self.on_full()
