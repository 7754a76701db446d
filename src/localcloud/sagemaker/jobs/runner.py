"""Run SageMaker processing and training jobs for real, without containers.

A job gets a folder that stands in for the container's filesystem (``fs/``), laid out
as SageMaker lays out ``/opt/ml``: S3 inputs are downloaded into it, the command runs
with the kit's Python and every ``/opt/ml`` path in its arguments and environment
remapped into the folder, and what it leaves in the output folders is uploaded to S3.
Status changes are reported through a callback, so this module knows nothing of moto.

A job's folder goes when the job ends (its output is in S3, its log in CloudWatch Logs), except
the folder of the most recent *failed* job, kept for a look inside (``output.log``, ``fs/``)
until the next job fails or the cloud stops: the workdir holds the running jobs plus at most one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.common import clients
from localcloud.sagemaker import algorithms
from localcloud.child import log_events, process_group
from localcloud.common.images import ImageCatalog, ImageNotFound, parse_image_uri
from localcloud.sagemaker.jobs.startup_order import InstanceStarts
from localcloud.contracts import (
    ALGORITHM_ERROR,
    CLIENT_ERROR,
    FAILURE_REASON_CHARS,
    INTERNAL_ERROR,
    Credentials,
    JobFailure,
    LogWriter,
    StatusUpdate,
    Stopped,
    standalone_credentials,
)
from localcloud.sagemaker.jobs.job_files import split_s3_uri
from localcloud.sagemaker.jobs.job_files import download as _download
from localcloud.sagemaker.jobs.job_files import upload_tar as _upload_tar
from localcloud.sagemaker.jobs.job_files import upload_tree as _upload_tree
from localcloud.sagemaker.jobs.job_model import Job as _Job
from localcloud.sagemaker.jobs.job_model import RuntimeExceeded as _RuntimeExceeded
from localcloud.sagemaker.jobs.job_model import now as _now
from localcloud.sagemaker.jobs.job_model import read_metrics as _read_metrics
from localcloud.sagemaker.jobs.job_volume import VolumeWatch, volume_gb
from localcloud.common.paths import PathEscape, inside
from localcloud.sagemaker.jobs.warm_jobs import WarmJobs

__all__ = ["JobFailure", "JobRunner", "split_s3_uri"]

_PYTHON_NAMES = {"python", "python3", "python3.11", "/usr/bin/python3", "/usr/local/bin/python3",
                 "/usr/local/bin/python", "/usr/bin/python"}
_JOB_SITE = Path(__file__).parents[2] / "child" / "job_site"  # localcloud/child/job_site


class JobRunner:
    """Starts jobs in background threads and reports their progress.

    Args:
        workdir: parent folder of the per-job folders.
        endpoint_url: the local cloud's URL, for S3 and CloudWatch Logs calls.
        images_dir: the kit's ``docker/`` folder, or an :class:`ImageCatalog` (with ``--image`` folders).
        update: callback that sets attributes on the cloud's record of a job.
        write_logs: ``(region, group, stream, lines)`` sink for CloudWatch Logs.
        child_env: variables every job process gets (the ``--mirror`` table, see localcloud.child.mirror).
        warm: run Python jobs as forks of a process that has imported pandas and scikit-learn
            (:mod:`localcloud.sagemaker.jobs.warm_jobs`); False starts a fresh Python for every job.
    """

    def __init__(self, workdir: Path, endpoint_url: str, images_dir: Path | ImageCatalog,
                 update: StatusUpdate, write_logs: LogWriter, child_env: dict[str, str] | None = None,
                 warm: bool = True) -> None:
        self.workdir, self.endpoint_url = workdir, endpoint_url
        self.images = images_dir if isinstance(images_dir, ImageCatalog) else ImageCatalog(images_dir)
        self.images_dir = self.images.images_dir
        self.child_env = dict(child_env or {})
        self.update, self.write_logs = update, write_logs
        self._jobs: dict[tuple[str, str, str], _Job] = {}
        self._lock = threading.Lock()
        self._kept_failed: Path | None = None  # the last failed job's folder (see the module's docstring)
        self.credentials: Credentials = standalone_credentials  # the cloud sets its own (LocalCloud.credentials)
        self.warm = WarmJobs() if warm else None
        self.instances = InstanceStarts()  # the start-up order of jobs (the cloud gives it Step Functions' state)

    # -- public API ---------------------------------------------------------------------
    def start_processing(self, region: str, request: dict[str, Any]) -> None:
        """Run a CreateProcessingJob request in the background."""
        self._start("processing", region, request["ProcessingJobName"], request)

    def start_training(self, region: str, request: dict[str, Any]) -> None:
        """Run a CreateTrainingJob request in the background."""
        self._start("training", region, request["TrainingJobName"], request)

    def stop(self, kind: str, region: str, name: str) -> bool:
        """Stop a running job; False when it is not running."""
        job = self._jobs.get((kind, region, name))
        if job is None:
            return False
        job.stop_requested.set()
        if job.process and job.process.poll() is None:
            process_group.kill(job.process)  # the job's children too, as when a container stops
        return True

    def wait_ended(self, kind: str, region: str, name: str, timeout: float) -> bool:
        """Return when the job's final status is recorded, or after ``timeout``; False at once for a job not
        running here."""
        job = self._jobs.get((kind, region, name))
        if job is None:
            return False
        job.ended.wait(timeout)
        return True

    def wait_all(self, timeout: float = 30.0) -> None:
        """Wait for running jobs (used on shutdown and in tests)."""
        deadline = time.monotonic() + timeout
        while self._jobs and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        for key in list(self._jobs):
            self.stop(*key)
        self.wait_all(10)
        if self.warm:
            self.warm.close()

    # -- running ------------------------------------------------------------------------
    def _start(self, kind: str, region: str, name: str, request: dict[str, Any]) -> None:
        # The name passed AWS's pattern at create; inside() keeps the folder in the workdir regardless.
        root = inside(self.workdir / "jobs" / kind, f"{name}-{uuid.uuid4().hex[:8]}", what=f"job name {name!r}")
        job = _Job(kind, region, name, root)
        job.volume_gb = volume_gb(request)  # the ML storage volume its folder may fill (localcloud.sagemaker.jobs.job_volume)
        with self._lock:
            self._jobs[(kind, region, name)] = job
        self.instances.created(job, kind)
        target = self._run_processing if kind == "processing" else self._run_training
        threading.Thread(target=self._guard, args=(target, job, request), daemon=True,
                         name=f"localcloud-{kind}-{name}").start()

    def _guard(self, target: Callable, job: _Job, request: dict[str, Any]) -> None:
        try:
            target(job, request)
        except JobFailure as exc:
            self._finish(job, "Failed", str(exc))
        except ClientError as exc:  # an S3 transfer the job's role may not make (AccessDenied, NoSuchKey)
            self._finish(job, "Failed", str(JobFailure(CLIENT_ERROR, str(exc))))
        except Exception as exc:  # the job fails, the cloud keeps serving
            self._finish(job, "Failed", str(JobFailure(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")))
        finally:
            self.instances.downloaded(job)
            with self._lock:
                self._jobs.pop((job.kind, job.region, job.name), None)
                # A job's folder (its inputs, outputs and a copy of the image's files) goes with the job,
                # so a long-lived cloud's workdir does not grow with every job.
                if job.status == "Failed":
                    remove, self._kept_failed = self._kept_failed, job.root
                else:
                    remove = job.root
            if remove:
                shutil.rmtree(remove, ignore_errors=True)

    def _keys(self, request: dict[str, Any], name: str) -> dict[str, str]:
        """The job's RoleArn's temporary keys: its S3 transfers act as that role, as on AWS."""
        return self.credentials(request.get("RoleArn", ""), f"SageMaker-{name}"[:64])

    def _s3(self, region: str, keys: dict[str, str]):
        return clients.client("s3", region, self.endpoint_url, keys, config=Config(retries={"max_attempts": 2}))

    def _status_field(self, job: _Job) -> str:
        return "processing_job_status" if job.kind == "processing" else "training_job_status"

    def _finish(self, job: _Job, status: str, reason: str | None = None, **extra: Any) -> None:
        job.status = status
        now = _now()
        fields: dict[str, Any] = {self._status_field(job): status, "last_modified_time": now, **extra}
        if job.kind == "processing":
            fields["processing_end_time"] = now
            if reason:
                fields["exit_message"] = reason
        else:
            fields["training_end_time"] = now
            fields["secondary_status"] = extra.get("secondary_status", status)
        if reason:
            fields["failure_reason"] = reason[:FAILURE_REASON_CHARS]
        self.update(job.kind, job.region, job.name, fields)
        job.ended.set()

    def _run_command(self, job: _Job, command: list[str], env: dict[str, str], max_runtime: float) -> None:
        """Run the job's command with a deadline, streaming its output to CloudWatch Logs."""
        group = "/aws/sagemaker/ProcessingJobs" if job.kind == "processing" else "/aws/sagemaker/TrainingJobs"
        log_path = job.root / "output.log"
        try:  # the image's WORKDIR, inside the job's stand-in file system
            cwd = inside(job.fs, job.workdir.lstrip("/"), what=f"WORKDIR {job.workdir!r}") \
                if job.workdir.strip("/") else job.fs
        except PathEscape as exc:
            raise JobFailure(CLIENT_ERROR, str(exc)) from None
        cwd.mkdir(parents=True, exist_ok=True)
        # The output goes to CloudWatch Logs as it is written, within the log budget (localcloud.child.log_events)
        log = log_events.BoundedLog(lambda batch: self.write_logs(job.region, group, job.log_stream, batch),
                                    what="this job's output")
        exited = threading.Event()
        read = [0]
        volume = VolumeWatch(job.root, job.volume_gb, lambda: job.process and process_group.kill(job.process))
        with open(log_path, "w") as log_file, volume:
            follower = threading.Thread(target=lambda: read.__setitem__(0, log_events.follow(
                log_path, log, exited, job.unmap)), daemon=True, name=f"localcloud-log-{job.name}")
            follower.start()
            # A fork of the warm template when the command is the kit's Python running a script or module.
            job.process = self.warm.start(command, env, cwd, log_path) if self.warm else None
            if job.process is None:
                job.process = process_group.start(command, cwd=cwd, env=env, stdout=log_file,
                                                  stderr=subprocess.STDOUT, text=True)
            # A Stop* request may arrive before the process exists (inputs still downloading): it finds
            # nothing to kill then, so the process is ended here as soon as it starts.
            if job.stop_requested.is_set():
                process_group.kill(job.process)
            try:
                code = job.process.wait(timeout=max_runtime)
            except subprocess.TimeoutExpired:
                code = None
            process_group.kill(job.process)  # past MaxRuntime, or what the command left running
        exited.set()
        follower.join()
        log.close()
        if not read[0]:
            self.write_logs(job.region, group, job.log_stream, ["(no output)"])
        if job.stop_requested.is_set():
            raise Stopped()
        volume.check()
        if code is None:
            raise _RuntimeExceeded(max_runtime)
        if code != 0:
            detail = job.failure_detail(log_path)
            # exit code 2 is a usage error (argparse's, the linear-learner stand-in's bad input): the caller's
            raise JobFailure(CLIENT_ERROR if code == 2 else ALGORITHM_ERROR, f"exit code {code}: {detail}")

    def _base_env(self, job: _Job, region: str, extra: dict[str, str], keys: dict[str, str],
                  mounts: list[Path]) -> dict[str, str]:
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        env.update(self.child_env)
        env.update(job.image_env)  # the image's ENV; the job's Environment (below) wins, as on SageMaker
        # job_site/sitecustomize.py maps fixed /opt/ml paths inside the script to the job folder
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_JOB_SITE), os.environ.get("PYTHONPATH")]))
        env["LOCALCLOUD_OPT_ML"] = str(job.fs / "opt" / "ml")
        # One BLAS thread per job unless the job asks otherwise: on a 2-core laptop a thread per
        # core for every small matrix product made training twice as slow under load.
        env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        env.update({k: job.remap(str(v)) for k, v in (extra or {}).items()})
        env.update({"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_ENDPOINT_URL": self.endpoint_url,
                    **keys, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                    "PYTHONUNBUFFERED": "1"})
        # Each channel folder acts as its own file system (renames across them fail with EXDEV, as on
        # SageMaker where each is its own mount): see job_site/sitecustomize.py.
        env["LOCALCLOUD_MOUNTS"] = os.pathsep.join(str(path) for path in mounts)
        return env

    def _command(self, job: _Job, image_uri: str, entrypoint: list[str] | None, arguments: list[str] | None) -> list[str]:
        """The command the container would run, pointed at the kit's Python and the job folder."""
        try:
            image = self.images.resolve(image_uri)
            image.stage(job.fs, prefix="/")
            job.image_env = {key: job.remap(value) for key, value in image.env.items()}
            job.workdir = image.workdir
            # As docker run: a ContainerEntrypoint replaces ENTRYPOINT and drops CMD; arguments replace CMD.
            if not entrypoint:
                entrypoint = image.entrypoint
                arguments = arguments if arguments is not None else image.cmd
        except ImageNotFound as exc:
            ref = parse_image_uri(image_uri)
            if not entrypoint or (ref and ref.repository in self.images.repositories):
                raise JobFailure(CLIENT_ERROR, f"localcloud cannot run image {image_uri}: {exc}; give "
                               "ContainerEntrypoint, add docker/<repository>/Dockerfile, or start the cloud "
                               "with --image REPOSITORY=DIR") from None
        command = [*(entrypoint or []), *(arguments or [])]
        if command and command[0] in _PYTHON_NAMES:
            command[0] = sys.executable
        return [job.remap(part) for part in command]

    # -- processing ---------------------------------------------------------------------
    def _run_processing(self, job: _Job, request: dict[str, Any]) -> None:
        keys = self._keys(request, job.name)
        s3 = self._s3(job.region, keys)
        job.fs.mkdir(parents=True)
        self.instances.launched(job.stop_requested)  # the instance starts (localcloud.sagemaker.jobs.startup_order)
        app = request["AppSpecification"]
        command = self._command(job, app["ImageUri"], app.get("ContainerEntrypoint"), app.get("ContainerArguments"))
        for item in request.get("ProcessingInputs") or []:
            if "S3Input" in item:
                source = item["S3Input"]
                _download(s3, source["S3Uri"], job.processing_path(source["LocalPath"]))
        outputs = (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        for item in outputs:
            job.processing_path(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        mounts = [job.processing_path(item[kind]["LocalPath"])
                  for kind, items in (("S3Input", request.get("ProcessingInputs") or []), ("S3Output", outputs))
                  for item in items if kind in item]
        self.instances.before_container(job.stop_requested)  # the image pull: training data goes first
        self.update(job.kind, job.region, job.name, {"processing_start_time": _now()})
        max_runtime = float((request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400))
        try:
            env = self._base_env(job, job.region, request.get("Environment"), keys, mounts)
            self._run_command(job, command, env, max_runtime)
        except Stopped:
            return self._finish(job, "Stopped")
        except _RuntimeExceeded as exc:
            return self._finish(job, "Failed", str(exc))
        except JobFailure as exc:
            return self._finish(job, "Failed", str(exc))
        for item in outputs:
            output = item["S3Output"]
            _upload_tree(s3, job.processing_path(output["LocalPath"]), output["S3Uri"], output["LocalPath"])
        self._finish(job, "Completed")

    # -- training -----------------------------------------------------------------------
    def _run_training(self, job: _Job, request: dict[str, Any]) -> None:
        keys = self._keys(request, job.name)
        s3 = self._s3(job.region, keys)
        opt_ml = job.fs / "opt" / "ml"
        transitions: list[dict[str, Any]] = []

        def secondary(status: str, message: str) -> None:
            now = _now()
            if transitions:
                transitions[-1]["EndTime"] = now
            transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
            self.update(job.kind, job.region, job.name, {
                "secondary_status": status, "secondary_status_transitions": list(transitions),
                "last_modified_time": now})

        for folder in ("input/config", "model", "output/data", "code"):
            (opt_ml / folder).mkdir(parents=True, exist_ok=True)
        secondary("Starting", "Preparing the instances for training")
        self.instances.launched(job.stop_requested)  # the instance starts (localcloud.sagemaker.jobs.startup_order)
        spec = request["AlgorithmSpecification"]
        image_uri = spec.get("TrainingImage", "")
        if module := algorithms.training_module(image_uri, request.get("HyperParameters")):  # a built-in algorithm
            command = [sys.executable, "-m", module, "--ml-root", str(opt_ml)]
        else:
            command = self._command(job, image_uri, spec.get("ContainerEntrypoint"),
                                    spec.get("ContainerArguments") or ["train"])
        secondary("Downloading", "Downloading input data")
        channels = {}
        for channel in request.get("InputDataConfig") or []:
            source = channel["DataSource"]["S3DataSource"]
            try:  # ChannelName's pattern ([A-Za-z0-9.\-_]+) lets "." and ".." through
                folder = inside(opt_ml / "input" / "data", channel["ChannelName"],
                                what=f"ChannelName {channel['ChannelName']!r}")
            except PathEscape as exc:
                raise JobFailure(CLIENT_ERROR, str(exc)) from None
            _download(s3, source["S3Uri"], folder)
            channels[channel["ChannelName"]] = {
                "ContentType": channel.get("ContentType", "application/octet-stream"),
                "TrainingInputMode": channel.get("InputMode", spec.get("TrainingInputMode", "File")),
                "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None")}
        self.instances.downloaded(job)
        (opt_ml / "input/config/hyperparameters.json").write_text(json.dumps(request.get("HyperParameters") or {}))
        (opt_ml / "input/config/inputdataconfig.json").write_text(json.dumps(channels))
        (opt_ml / "input/config/resourceconfig.json").write_text(json.dumps(
            {"current_host": "algo-1", "hosts": ["algo-1"]}))
        mounts = [opt_ml / "model", opt_ml / "output", *(opt_ml / "input" / "data" / name for name in channels)]
        started = _now()
        self.update(job.kind, job.region, job.name, {"training_start_time": started})
        secondary("Training", "Training image download completed. Training in progress.")
        max_runtime = float((request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400))
        try:
            env = self._base_env(job, job.region, request.get("Environment"), keys, mounts)
            self._run_command(job, command, env, max_runtime)
        except Stopped:
            secondary("Stopped", "Training job stopped")
            return self._finish(job, "Stopped", secondary_status="Stopped")
        except _RuntimeExceeded as exc:
            secondary("MaxRuntimeExceeded", str(exc))
            return self._finish(job, "Stopped", str(exc), secondary_status="MaxRuntimeExceeded")
        except JobFailure as exc:
            secondary("Failed", str(exc)[:200])
            return self._finish(job, "Failed", str(exc), secondary_status="Failed")
        secondary("Uploading", "Uploading generated training model")
        artifact = request["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{job.name}/output/model.tar.gz"
        _upload_tar(s3, opt_ml / "model", artifact)
        if any((opt_ml / "output" / "data").iterdir()):
            _upload_tar(s3, opt_ml / "output" / "data", artifact.replace("model.tar.gz", "output.tar.gz"))
        metrics = _read_metrics(opt_ml / "output" / "metrics.json")
        secondary("Completed", "Training job completed")
        seconds = max(1, int((_now() - started).total_seconds()))
        self._finish(job, "Completed", secondary_status="Completed", final_metric_data_list=metrics,
                     model_artifacts={"S3ModelArtifacts": artifact},
                     training_time_in_seconds=seconds, billable_time_in_seconds=seconds)
