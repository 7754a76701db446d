"""What moto reads from the process's environment, set in one place: its default account and its server's port.

moto reads ``MOTO_ACCOUNT_ID`` (the account a request without an assumed role acts in) on every request, and
``MOTO_PORT`` where its Step Functions interpreter calls the server back (``moto.settings.moto_server_port``).
"""

from __future__ import annotations

import os

ACCOUNT, PORT = "MOTO_ACCOUNT_ID", "MOTO_PORT"


def use_account(account: str) -> str | None:
    """Make ``account`` moto's default account; returns the value it replaces (for :func:`restore_account`)."""
    previous = os.environ.get(ACCOUNT)
    os.environ[ACCOUNT] = account
    return previous


def restore_account(account: str, previous: str | None) -> None:
    """Put back what :func:`use_account` replaced, unless something else has set another account since."""
    if os.environ.get(ACCOUNT) != account:
        return
    if previous is None:
        os.environ.pop(ACCOUNT, None)
    else:
        os.environ[ACCOUNT] = previous


def use_port(port: int) -> None:
    """Tell moto's Step Functions interpreter which port its server answers on."""
    os.environ[PORT] = str(port)
