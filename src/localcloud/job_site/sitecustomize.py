"""Loaded at start-up by every job process the local cloud runs (it is first on PYTHONPATH).

Job scripts written for SageMaker open fixed paths such as
``/opt/ml/processing/input/iris.csv``. Without a container there is no ``/opt/ml``, so
this maps every path under it to the job's folder (``LOCALCLOUD_OPT_ML``) in the os and
io functions that Python's file APIs (open, pathlib, os.path, glob, shutil, pandas'
readers) go through. Arguments and environment values are remapped by the job runner.
"""

import builtins
import io
import os

_ROOT = os.environ.get("LOCALCLOUD_OPT_ML")


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


if _ROOT:
    builtins.open = io.open = _wrap(io.open)
    for _name in ("open", "stat", "lstat", "listdir", "scandir", "mkdir", "rmdir", "remove", "unlink",
                  "access", "chdir", "utime", "chmod", "readlink", "truncate"):
        setattr(os, _name, _wrap(getattr(os, _name)))
    for _name in ("rename", "replace", "symlink", "link"):
        setattr(os, _name, _wrap(getattr(os, _name), arguments=2))


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
