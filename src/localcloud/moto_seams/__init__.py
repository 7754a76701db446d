"""Every place where the local cloud patches or subclasses moto's internals: this package.

:mod:`.registry` lists the seams, one :class:`~.registry.Seam` each (number, owner, attribute, patch, why, the moto
signature it is written against); this module installs and removes them. The patches live beside it, one module
per service (``_lambda``, ``_sagemaker``, ``_stepfunctions``, ``_event_delivery``, ``_s3*``, ``_iam*``), and ``_records``
holds what the executors update in moto's records; ``_environment`` sets what moto reads from the process's
environment (its default account, its server's port). moto is pinned exactly; ``tests/localcloud/test_moto_seams.py``
reads the registry and fails loudly if a seam moves.

Besides the registry: ``_server.serve_moto`` builds moto's HTTP server from ``moto.moto_server.werkzeug_app`` (its
dispatcher app and request handler, global CORS off) instead of ``ThreadedMotoServer``, which hangs on a busy port
and cannot take middleware (the test checks those names, ``READ``). ``_imports.import_ec2_models`` imports
``moto.ec2.models`` with one botocore session for the three region lists its class body builds, and
``_imports.defer_batch_models`` keeps moto's Batch models (and so EC2's) unloaded until a Batch request: the parser
imports ``moto.batch.utils``. ``_warmup.warm_in_background`` installs the ``stepfunctions`` stage and parses one
definition with moto's ASL parser, so that ANTLR's tables are built before the first CreateStateMachine
(``--warm-stepfunctions``).
"""

from __future__ import annotations

import threading
from typing import Any

from localcloud.moto_seams._imports import defer_batch_models

defer_batch_models()  # before the Step Functions parser imports moto.batch.utils (see _imports)

from localcloud.moto_seams import _state, registry  # noqa: E402
from localcloud.moto_seams._environment import restore_account, use_account, use_port  # noqa: E402
from localcloud.moto_seams._executions import executions_busy  # noqa: E402
from localcloud.moto_seams._iam import role_credentials  # noqa: E402
from localcloud.moto_seams._iam_request import issued_key  # noqa: E402
from localcloud.moto_seams._records import cloud_account, update_job, write_logs  # noqa: E402
from localcloud.moto_seams._server import serve_moto  # noqa: E402
from localcloud.moto_seams.registry import Seam  # noqa: E402

__all__ = ["all_seams", "cloud_account", "executions_busy", "install", "install_stepfunctions", "issued_key",
           "registry", "restore_account", "role_credentials", "serve_moto", "stepfunctions_seams", "uninstall",
           "update_job", "use_account", "use_port", "warm_in_background", "write_logs"]
_originals = _state.originals
_INHERITED: set[str] = set()  # seams moto's class inherits: uninstall deletes the patch instead of setting it back
_stepfunctions_lock = threading.Lock()


def _owners(stage: registry.Stage | None) -> dict[str, tuple[Any, str]]:
    return {seam.name: (seam.resolve_owner(), seam.attribute)
            for seam in registry.seams(stage) if seam.kind != "setting"}


def stepfunctions_seams() -> dict[str, tuple[Any, str]]:
    """Owner and attribute of each seam of the ``stepfunctions`` stage (importing moto's parser: see seam 17)."""
    return _owners("stepfunctions")


def all_seams() -> dict[str, tuple[Any, str]]:
    """Owner and attribute of every seam, those installed at first use included (imports moto's parser)."""
    return _owners(None)


def _setting(seam: Seam, value: Any) -> None:
    section, _, key = seam.attribute.partition(".")
    seam.resolve_owner()[section][key] = value


def _patch(stage: registry.Stage) -> None:
    for seam in registry.seams(stage):
        if seam.kind == "setting":
            continue
        owner, patch = seam.resolve_owner(), seam.resolve_patch()
        if seam.kind == "replace":
            _originals[seam.name] = getattr(owner, seam.attribute)
            if isinstance(owner, type) and seam.attribute not in vars(owner):
                _INHERITED.add(seam.name)
        setattr(owner, seam.attribute, patch)


def _unpatch(stage: registry.Stage) -> None:
    for seam in registry.seams(stage):
        if seam.kind == "setting":
            continue
        owner = seam.resolve_owner()
        if seam.kind == "add":
            if seam.attribute in vars(owner):
                delattr(owner, seam.attribute)
        elif seam.name in _INHERITED:
            _originals.pop(seam.name, None)
            _INHERITED.discard(seam.name)
            delattr(owner, seam.attribute)
        elif seam.name in _originals:
            setattr(owner, seam.attribute, _originals.pop(seam.name))


def install(cloud: Any) -> None:
    """Point the seams at ``cloud``'s executors (once per process) and turn execution on.

    IAM is enforced unless ``cloud.iam`` is False; executors get the roles' keys through
    ``credentials`` (see :func:`._iam.role_credentials`). The ``stepfunctions`` stage follows at first use.
    """
    _state.cloud = cloud
    _state.iam_enforced = bool(getattr(cloud, "iam", True))
    for seam in registry.seams(kind="setting"):
        _setting(seam, True)
    if "lambda_invoke" in _originals:
        return
    _patch("start")


def install_stepfunctions() -> None:
    """Install the ``stepfunctions`` stage (once; a no-op without an installed cloud). Thread-safe: the first
    Step Functions request waits here for a warm-up thread that is installing it."""
    if "sfn_boto_client_for" in _originals:  # installed: every Step Functions request after the first
        return
    with _stepfunctions_lock:
        if _state.cloud is None or "sfn_boto_client_for" in _originals:
            return
        from localcloud.moto_seams._stepfunctions import _boto_client_for, client_modules

        _patch("stepfunctions")
        for module in client_modules():  # seam 16: each Step Functions module that imported boto_client_for by name
            module.boto_client_for = _boto_client_for


def uninstall() -> None:
    """Put moto back as it was (tests use this to prove the seams are what changes behaviour)."""
    with _stepfunctions_lock:
        if "sfn_boto_client_for" in _originals:
            from localcloud.moto_seams._stepfunctions import client_modules

            for module in client_modules():
                module.boto_client_for = _originals["sfn_boto_client_for"]
            _unpatch("stepfunctions")
    _unpatch("start")
    for seam in registry.seams(kind="setting"):
        _setting(seam, False)
    _state.cloud = None
    _state.iam_enforced = False


def warm_in_background() -> threading.Thread:
    """Install the Step Functions seams and warm moto's parser in a daemon thread (``--warm-stepfunctions``)."""
    from localcloud.moto_seams._warmup import warm_stepfunctions

    def warm() -> None:
        install_stepfunctions()
        warm_stepfunctions()

    thread = threading.Thread(target=warm, daemon=True, name="localcloud-warm-stepfunctions")
    thread.start()
    return thread
