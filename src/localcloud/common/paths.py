"""Paths the local cloud derives from API input stay inside the folder they belong to.

Job names, S3 keys, channel names and COPY targets all end up as host paths. Each such path
is built with :func:`inside`, which resolves it (``..``, symlinks) and refuses anything that
would land outside its root, so no API input can write or read elsewhere on the machine.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


class PathEscape(ValueError):
    """A path derived from API input would leave the folder it must stay in."""


def inside(root: Path, relative: str | os.PathLike[str], what: str = "path") -> Path:
    """``root / relative``, resolved, and guaranteed to lie strictly below ``root``.

    Args:
        root: the folder the path must stay in (need not exist yet).
        relative: a relative path from API input (an S3 key's tail, a channel name, ...).
        what: how the error names the input (e.g. ``"S3 key 'in/../x'"``).

    Returns:
        The resolved absolute path.

    Raises:
        PathEscape: ``relative`` is absolute, empty, or resolves to ``root`` itself or outside it.
    """
    text = os.fspath(relative)
    if not text or PurePosixPath(text).is_absolute() or Path(text).is_absolute():
        raise PathEscape(f"{what} is not a relative path below {root.name}/")
    base = root.resolve()
    candidate = (base / text).resolve()
    if candidate == base or base not in candidate.parents:
        raise PathEscape(f"{what} leads outside {root.name}/ (resolves to {candidate})")
    return candidate
