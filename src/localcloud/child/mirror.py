"""Offline URLs for the code the cloud runs: ``--mirror URL=FILE`` answers, everything else is refused at once.

Lambda handlers and job scripts written for AWS download from the internet
(``requests.get("https://archive.ics.uci.edu/…")``). The local cloud passes its mirror table to
every Lambda environment and job process in :data:`ENV_TABLE` (JSON ``{url: file}``), and
:func:`install`, run at their start-up (lambda_bootstrap, job_site/sitecustomize.py), makes

* ``requests`` and ``urllib3`` (one patch: ``HTTPConnectionPool.urlopen``) and ``urllib.request``
  (``OpenerDirector.open``) answer a mirrored URL with the file's bytes and a 200, over http or
  https, without opening a socket;
* any other URL whose host is not loopback fail at once with one line naming the URL and the
  ``--mirror`` flag that would serve it (before any DNS lookup, so nothing hangs);
* any other socket connection or name lookup to a non-loopback host fail the same way
  (``sys.addaudithook``), for code that talks ``http.client`` or sockets directly.

The library patches are applied when the library is first imported (a post-import hook), so a
handler that never imports ``requests`` does not pay for importing it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import io
import ipaddress
import json
import mimetypes
import os
import sys
from urllib.parse import urlsplit

ENV_TABLE = "LOCALCLOUD_MIRRORS"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_table: dict[tuple, str] = {}
_installed = False


class OfflineError(ConnectionError):
    """A URL or host the local cloud does not mirror: nothing leaves 127.0.0.1."""


def url_key(url: str) -> tuple | None:
    """A URL compared as HTTP does: scheme and host case-insensitive, default port implied, path "/" if empty."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port, parts.path or "/", parts.query


def is_local(host: str | bytes | None) -> bool:
    """True for loopback addresses and localhost names (reaching them needs no network)."""
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", "replace")
    name = (host or "").strip("[]").split("%", 1)[0].lower().rstrip(".")
    if not name or name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal(url: str) -> str:
    """The one line a refused URL gets."""
    return (f"localcloud: {url} is not reachable offline (nothing the local cloud runs leaves 127.0.0.1); "
            f"start the cloud with --mirror {url}=FILE to answer it with FILE's bytes")


def lookup(url: str) -> str | None:
    """The file mirroring ``url``; None for a loopback URL; raises :class:`OfflineError` for any other."""
    key = url_key(url)
    if key is None or is_local(key[1]):
        return None
    if key in _table:
        return _table[key]
    raise OfflineError(refusal(url))


def _file_response(path: str) -> tuple[bytes, dict[str, str]]:
    with open(path, "rb") as handle:
        body = handle.read()
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return body, {"Content-Type": kind, "Content-Length": str(len(body))}


def _patch_urllib3(connectionpool) -> None:
    from urllib3.response import HTTPResponse

    original = connectionpool.HTTPConnectionPool.urlopen

    def urlopen(self, method, url, *args, **kwargs):
        port = "" if self.port in (None, _DEFAULT_PORTS.get(self.scheme)) else f":{self.port}"
        full = url if "://" in url else f"{self.scheme}://{self.host}{port}{url}"
        path = lookup(full)
        if path is None:
            return original(self, method, url, *args, **kwargs)
        body, headers = _file_response(path)
        return HTTPResponse(body=io.BytesIO(b"" if method == "HEAD" else body), headers=headers, status=200,
                            reason="OK", preload_content=kwargs.get("preload_content", True),
                            decode_content=kwargs.get("decode_content", True), request_method=method,
                            request_url=full)

    connectionpool.HTTPConnectionPool.urlopen = urlopen


def _patch_urllib(request_module) -> None:
    import email
    import http.client
    import urllib.error
    import urllib.response

    original = request_module.OpenerDirector.open

    def open_url(self, fullurl, *args, **kwargs):
        url = fullurl if isinstance(fullurl, str) else fullurl.full_url
        try:
            path = lookup(url)
        except OfflineError as exc:
            raise urllib.error.URLError(str(exc)) from None
        if path is None:
            return original(self, fullurl, *args, **kwargs)
        body, headers = _file_response(path)
        message = email.message_from_string("".join(f"{k}: {v}\n" for k, v in headers.items()),
                                            _class=http.client.HTTPMessage)
        return urllib.response.addinfourl(io.BytesIO(body), message, url, 200)

    request_module.OpenerDirector.open = open_url


_PATCHES = {"urllib3.connectionpool": _patch_urllib3, "urllib.request": _patch_urllib}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Applies a patch right after the module it is for is first imported."""

    def find_spec(self, name, path, target=None):
        if name not in _PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        loader_exec = spec.loader.exec_module

        def exec_module(module):
            loader_exec(module)
            _PATCHES[name](module)

        spec.loader.exec_module = exec_module
        return spec


def _audit(event: str, args: tuple) -> None:
    if event == "socket.getaddrinfo" or event == "socket.gethostbyname":
        host, port = args[0], (args[1] if len(args) > 1 else "")
    elif event in ("socket.connect", "socket.sendto"):
        address = args[-1]
        if not isinstance(address, tuple) or not address:
            return  # AF_UNIX paths are local
        host, port = address[0], address[1] if len(address) > 1 else ""
    else:
        return
    if not is_local(host):
        host = bytes(host).decode("ascii", "replace") if isinstance(host, (bytes, bytearray)) else host
        raise OfflineError(f"localcloud: connection to {host}:{port} refused (nothing the local cloud runs "
                           "leaves 127.0.0.1); fetch over http(s) and start the cloud with --mirror URL=FILE")


def install(environ: dict[str, str] | None = None) -> None:
    """Read the mirror table from the environment and arm the patches; nothing when the variable is absent."""
    global _installed
    text = (environ if environ is not None else os.environ).get(ENV_TABLE)
    if text is None or _installed:
        return
    _installed = True
    for url, path in json.loads(text or "{}").items():
        key = url_key(url)
        if key is not None:
            _table[key] = path
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, _PatchOnImport())
    sys.addaudithook(_audit)
