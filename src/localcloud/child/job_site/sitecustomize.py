"""Loaded at start-up by every job process the local cloud runs (it is first on PYTHONPATH).

Job scripts written for SageMaker open fixed paths such as
``/opt/ml/processing/input/iris.csv``. Without a container there is no ``/opt/ml``, so
this maps every path under it to the job's folder (``LOCALCLOUD_OPT_ML``) in the os and
io functions that Python's file APIs (open, pathlib, os.path, glob, shutil, pandas'
readers) go through. Arguments and environment values are remapped by the job runner.

It also makes each of the job's channel folders (``LOCALCLOUD_MOUNTS``: every processing input
and output ``LocalPath``; a training job's input channels, ``model`` and ``output``) behave as
its own file system: on SageMaker each is its own mount, so a rename or hard link from one to
another fails with EXDEV ("Invalid cross-device link") and ``shutil.move`` falls back to a copy.
Without this, a script that renames across channels passes here and fails on AWS
(docs/ARCHITECTURE.md, "Channels are separate mounts").
"""

import builtins
import errno
import io
import os

_ROOT = None  # the job's /opt/ml folder, set by install()
_MOUNTS = []  # its channel folders, longest first


def _map(path):
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, str) and (path == "/opt/ml" or path.startswith("/opt/ml/")):
        return _ROOT + path[len("/opt/ml"):]
    return path


def _wrap(function, arguments=1):
    def wrapper(*args, **kwargs):
        mapped = tuple(_map(a) for a in args[:arguments]) + args[arguments:]
        return function(*mapped, **kwargs)

    wrapper.__wrapped__ = function
    return wrapper


def _device(path, dir_fd=None):
    """The mount a (mapped) path lives on: the longest channel folder holding it, "" for the rest."""
    if dir_fd is not None or not _MOUNTS:
        return None  # relative to a directory descriptor: not checked (the kit's scripts never do it)
    path = os.fsdecode(path)
    # The entry itself is renamed, not what a symlink points to: resolve its folder only.
    parent, name = os.path.split(os.path.abspath(path))
    resolved = os.path.join(os.path.realpath(parent), name)
    for mount in _MOUNTS:
        if resolved == mount or resolved.startswith(mount + os.sep):
            return mount
    return ""


def _same_device(function):
    """Wrap a two-path call (rename, replace, link) to fail with EXDEV across channel folders."""
    def wrapper(src, dst, *args, **kwargs):
        src, dst = _map(src), _map(dst)
        source = _device(src, kwargs.get("src_dir_fd"))
        target = _device(dst, kwargs.get("dst_dir_fd"))
        if source is not None and target is not None and source != target:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), src, None, dst)
        return function(src, dst, *args, **kwargs)

    wrapper.__wrapped__ = function
    return wrapper


def install(root, mounts=""):
    """Map ``/opt/ml`` to ``root`` and make each folder of ``mounts`` (os.pathsep-separated) its own mount.

    Run at start-up when the job's environment names its folder; a warm job process
    (localcloud.child.warm_template), forked from a template that never had one, calls it itself.
    """
    global _ROOT, _MOUNTS
    _ROOT = root
    _MOUNTS = sorted({os.path.realpath(m) for m in mounts.split(os.pathsep) if m}, key=len, reverse=True)
    builtins.open = io.open = _wrap(io.open)
    for name in ("open", "stat", "lstat", "listdir", "scandir", "mkdir", "rmdir", "remove", "unlink",
                 "access", "chdir", "utime", "chmod", "readlink", "truncate",
                 # shutil.copy2/copystat (shutil.move's copy) read and copy extended attributes
                 "listxattr", "getxattr", "setxattr", "removexattr"):
        if hasattr(os, name):  # the xattr functions exist on Linux only
            setattr(os, name, _wrap(getattr(os, name)))
    os.symlink = _wrap(os.symlink, arguments=2)
    for name in ("rename", "replace", "link"):
        setattr(os, name, _same_device(getattr(os, name)))


if os.environ.get("LOCALCLOUD_OPT_ML"):
    install(os.environ["LOCALCLOUD_OPT_ML"], os.environ.get("LOCALCLOUD_MOUNTS", ""))


def _run_next_sitecustomize():
    """Run the next ``sitecustomize.py`` found after this folder on sys.path, as if it had been imported.

    Python imports only the first ``sitecustomize`` module on sys.path, and the job runner puts
    this folder first: without this, one that the job's environment relies on (the loopback-only
    audit of tests/series, a distribution's own) would silently not run in job processes.
    """
    import importlib.util
    import sys

    here = os.path.dirname(os.path.realpath(__file__))
    entries = [os.path.realpath(entry or os.getcwd()) for entry in sys.path]
    if here not in entries:
        return
    for entry in entries[entries.index(here) + 1:]:
        candidate = os.path.join(entry, "sitecustomize.py")
        if entry != here and os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_next_sitecustomize", candidate)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            return


_run_next_sitecustomize()
# After the next sitecustomize: an audit hook it installs (tests/series) sees a refused connection first.
if "LOCALCLOUD_MIRRORS" in os.environ:  # --mirror URLs answered, other non-loopback URLs refused (localcloud.child.mirror)
    from localcloud.child import mirror

    mirror.install()
