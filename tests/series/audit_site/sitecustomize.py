"""Loopback-only audit: every Python process started with this folder on PYTHONPATH refuses the network.

The shared series (``tests/series/conftest.py``, checked by ``tests/series/test_loopback_only.py``) runs
the whole series with ``PYTHONPATH=<this folder>`` and ``LOOPBACK_AUDIT_LOG=<file>``. Python imports this module
at start-up in every process of the run (runner, papermill kernels, the local cloud,
Lambda workers, job processes, whose ``job_site/sitecustomize.py`` runs this one after its
own set-up), and :func:`_hook` then watches, through ``sys.addaudithook``:

* ``socket.connect`` / ``socket.sendto``: an AF_INET/AF_INET6 address must be loopback
  (127.0.0.0/8, ::1) or ``localhost``; AF_UNIX paths are local by definition;
* ``socket.getaddrinfo`` / ``socket.gethostbyname``: a *name* other than localhost would be
  a DNS lookup (IP literals resolve without one; where they connect is checked above).

Anything else is appended to the log as ``pid<TAB>program<TAB>event<TAB>address`` and
refused with :class:`PermissionError` before the system call, so nothing is sent.
``open`` of a file in an ``.aws`` folder (the user's profiles and credentials) is logged to
``<log>.aws-files`` (not refused: the test asserts that local runs never open them).
Each process also appends ``pid<TAB>argv`` to ``<log>.armed``: the test reads it to prove
that every kind of process was covered.

The local cloud gives jobs and Lambda workers a minimal environment of its own (PATH,
HOME, PYTHONPATH, …). So that their violations reach the same log, the hook copies
``LOOPBACK_AUDIT_LOG`` into the explicit ``env`` of any child process, through the
``subprocess.Popen`` audit event. It does not add this folder to a child's PYTHONPATH:
that the local cloud passes PYTHONPATH on to its workers is part of what the test checks.
"""

import os
import sys

ENV_LOG = "LOOPBACK_AUDIT_LOG"
_HERE = os.path.dirname(os.path.realpath(__file__))
_LOG = os.environ.get(ENV_LOG)
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_busy = False  # re-entrancy guard: writing the log fires audit events of its own


def _program() -> str:
    argv = getattr(sys, "orig_argv", None) or getattr(sys, "argv", None) or ["?"]
    text = " ".join(str(a) for a in argv)[:300]
    return "".join(c if c.isprintable() and c != "\t" else " " for c in text)  # one line per entry


def _append(path, line: str) -> None:
    if not path:
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode("utf-8", "replace"))
    finally:
        os.close(descriptor)


def _text(host) -> str:
    if isinstance(host, (bytes, bytearray)):
        return bytes(host).decode("ascii", "replace")
    return "" if host is None else str(host)


def _ip_literal(host: str):
    import ipaddress

    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 scope id
    except ValueError:
        return None


def _local_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name in _LOCAL_NAMES or name.endswith(".localhost")


def _address_is_local(sock, address) -> bool:
    """True for AF_UNIX paths and loopback AF_INET/AF_INET6 addresses."""
    import socket

    family = getattr(sock, "family", None)
    if family == getattr(socket, "AF_UNIX", object()):
        return True
    if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple) or not address:
        return False  # another family (raw, packet, …) is not something the kit should ever use
    host = _text(address[0])
    literal = _ip_literal(host)
    return literal.is_loopback if literal is not None else _local_name(host)


def _lookup_is_local(host) -> bool:
    """True when resolving ``host`` needs no DNS: nothing, localhost, or an IP literal."""
    host = _text(host)
    return not host or _local_name(host) or _ip_literal(host) is not None


def _refuse(event: str, address) -> None:
    global _busy
    _busy = True
    try:
        _append(_LOG, f"{os.getpid()}\t{_program()}\t{event}\t{address!r}\n")
    finally:
        _busy = False
    raise PermissionError(f"loopback-only audit: {event} to {address!r} refused (see ${ENV_LOG})")


def _log_aws_file(path: str) -> None:
    global _busy
    _busy = True
    try:
        _append(_LOG + ".aws-files", f"{os.getpid()}\t{_program()}\t{path}\n")
    finally:
        _busy = False


def _hand_down(env) -> None:
    """Give a child started with an explicit environment the same log (PYTHONPATH is its parent's business)."""
    if not isinstance(env, dict) or not _LOG:
        return
    as_bytes = any(isinstance(k, bytes) for k in env)
    key, value = (ENV_LOG.encode(), _LOG.encode()) if as_bytes else (ENV_LOG, _LOG)
    env.setdefault(key, value)


def _hook(event: str, args: tuple) -> None:
    if _busy or not (event.startswith("socket.") or event in ("subprocess.Popen", "open")):
        return
    if event == "open":
        path = args[0]
        if isinstance(path, (str, bytes)) and "/.aws/" in os.fsdecode(path):
            _log_aws_file(os.fsdecode(path))
        return
    if event in ("socket.connect", "socket.sendto"):
        sock, address = args[0], args[-1]
        if not _address_is_local(sock, address):
            _refuse(event, address)
    elif event == "socket.getaddrinfo":
        if not _lookup_is_local(args[0]):
            _refuse(event, (_text(args[0]), args[1]))
    elif event in ("socket.gethostbyname", "socket.gethostbyaddr"):
        if not _lookup_is_local(args[0]):
            _refuse(event, _text(args[0]))
    elif event == "subprocess.Popen":
        _hand_down(args[3])


def _run_next_sitecustomize() -> None:
    """Python imports only the first ``sitecustomize`` on sys.path: run the next one, as job_site does."""
    import importlib.util

    entries = [os.path.realpath(p or os.getcwd()) for p in sys.path]
    if _HERE not in entries:
        return
    for entry in entries[entries.index(_HERE) + 1:]:
        candidate = os.path.join(entry, "sitecustomize.py")
        if entry != _HERE and os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_next_sitecustomize", candidate)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            return


if _LOG:
    sys.addaudithook(_hook)
    _append(_LOG + ".armed", f"{os.getpid()}\t{_program()}\n")
_run_next_sitecustomize()
