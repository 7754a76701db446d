"""Seam 17: moto's Step Functions backend, reached only after the ``stepfunctions`` stage of seams is in."""

from __future__ import annotations

from typing import Any

from moto.core.config import default_user_config

from localcloud.moto_seams import _state


def get_backend(account: str, region: str) -> Any:
    """moto's ``get_backend``, once the Step Functions seams are installed (when the cloud executes them)."""
    if default_user_config["stepfunctions"].get("execute_state_machine"):
        from localcloud.moto_seams import install_stepfunctions

        install_stepfunctions()
    return _state.originals["sfn_get_backend"](account, region)
