"""Refuse requests a web browser makes to the local cloud on behalf of another site.

The local cloud runs code (Lambda handlers, job entrypoints) as the user who started it, and it
takes dummy credentials. Two browser features would let any web page reach it:

* DNS rebinding: a page on ``evil.example`` re-resolves its own name to 127.0.0.1 and then talks
  to the cloud "same-origin". Its requests still carry ``Host: evil.example:PORT``, so the cloud
  answers only requests whose ``Host`` is a loopback name or address with the cloud's port.
* "Simple" cross-origin requests: a form or a ``fetch(..., {mode: "no-cors"})`` POST with a
  text/plain or form body is sent without a CORS preflight; the page cannot read the answer, but
  the side effect happens. Browsers mark such requests with ``Origin`` (every POST) and
  ``Sec-Fetch-Site``; the cloud refuses a foreign ``Origin`` and any ``Sec-Fetch-Site`` other than
  ``same-origin``/``none`` unless the ``Origin`` is allowed. (A page on another port of 127.0.0.1
  is "same-site", and its GETs carry no ``Origin``, so ``cross-site`` alone is not enough.)

boto3, the AWS CLI and the kit's kernels send ``Host: 127.0.0.1:PORT`` and neither header, so
they are unaffected. The same check guards the moto server (as WSGI middleware) and the data
server (an ``http.server`` handler).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

_BROWSER_SAFE_FETCH_SITES = {"same-origin", "none"}  # "none": typed into the address bar


def is_loopback_host(name: str) -> bool:
    """127.0.0.0/8, ::1, ``localhost`` and ``*.localhost`` (RFC 6761: always loopback, never DNS)."""
    name = name.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_host(value: str, default_port: int) -> tuple[str, int] | None:
    """``host[:port]`` (``[::1]:port`` too) → (host, port); None when malformed."""
    try:
        parts = urlsplit(f"//{value}")
        return parts.hostname or "", parts.port or default_port
    except ValueError:
        return None


def normalise_origin(origin: str) -> str:
    """``scheme://host:port`` in lower case, the port always written (so comparisons are exact).

    Raises:
        ValueError: not an http(s) origin (``null``, a path, no host).
    """
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"not an http(s) origin: {origin!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host.lower()}:{port}"


class RequestGuard:
    """Decides whether a request may reach the cloud.

    Args:
        ports: the ports the cloud's servers listen on (the API and the data server); a ``Host``
            or a loopback ``Origin`` must name one of them.
        allowed_origins: further origins a browser page may call from (``--allow-origin``, e.g.
            JupyterLab's ``http://127.0.0.1:8888``).
    """

    def __init__(self, ports: Iterable[int] = (), allowed_origins: Iterable[str] = ()) -> None:
        self.ports: set[int] = set(ports)
        self.allowed_origins = {normalise_origin(origin) for origin in allowed_origins}

    def _own_origin(self, origin: str) -> bool:
        parts = urlsplit(origin)
        return parts.scheme == "http" and is_loopback_host(parts.hostname or "") and parts.port in self.ports

    def refusal(self, headers: Mapping[str, str] | Callable[[str], str | None]) -> str | None:
        """Why the request is refused (one line), or None when it may pass.

        Args:
            headers: the request's headers, or a case-insensitive ``get(name)``.
        """
        get = headers if callable(headers) else headers.get
        host = get("Host")
        if not host:
            return "no Host header: the local cloud answers only requests to its loopback address"
        split = _split_host(host, 80)
        if split is None or not is_loopback_host(split[0]) or split[1] not in self.ports:
            return (f"Host {host[:100]!r} is not this local cloud's loopback address and port "
                    "(DNS rebinding protection)")
        origin = get("Origin")
        if origin is not None:
            try:
                origin_key = normalise_origin(origin)
            except ValueError:
                return f"Origin {origin[:100]!r} may not call the local cloud (only its own loopback origin)"
            if not (self._own_origin(origin_key) or origin_key in self.allowed_origins):
                return (f"Origin {origin[:100]!r} may not call the local cloud (a web page of another site "
                        "or port); start it with --allow-origin to allow one")
            return None
        site = (get("Sec-Fetch-Site") or "").strip().lower()
        if site and site not in _BROWSER_SAFE_FETCH_SITES:
            return f"Sec-Fetch-Site {site!r}: a web page of another site or port may not call the local cloud"
        return None


class GuardMiddleware:
    """WSGI middleware: 403 with a one-line reason for refused requests; never a foreign CORS echo."""

    def __init__(self, app: Callable[..., Any], guard: RequestGuard) -> None:
        self.app, self.guard = app, guard

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def get(name: str) -> str | None:
            return environ.get("HTTP_" + name.upper().replace("-", "_"))

        reason = self.guard.refusal(get)
        if reason:
            body = f"Forbidden: {reason}\n".encode()
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        origin = get("Origin")

        def guarded_start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            # Only an allowed Origin got this far; any other Access-Control-Allow-Origin value (moto's
            # global CORS, an S3 bucket's CORS rule) is dropped rather than trusted.
            kept = [(k, v) for k, v in headers
                    if k.lower() != "access-control-allow-origin" or (origin is not None and v == origin)]
            return start_response(status, kept, *exc_info)

        return self.app(environ, guarded_start)
