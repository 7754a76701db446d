"""The environment variables a Python process reads only as it starts.

A Lambda spare (:mod:`localcloud.awslambda.lambda_spare`) and a warm job (:mod:`localcloud.sagemaker.jobs.warm_jobs`)
are processes started earlier, with the cloud's environment, and handed a function's or job's environment later. They
may serve only when that environment agrees with theirs in everything read at start-up, so that they behave exactly
as a fresh process started with it would; otherwise the environment or job starts fresh.
"""

from __future__ import annotations

from collections.abc import Iterable

# Read by the interpreter (PYTHON*), the dynamic loader (LD_*), the C allocator (MALLOC_*), BLAS and OpenMP
# (*_NUM_THREADS) and the locale set up at start-up (LC_*, LANG, LANGUAGE: the preferred and the standard
# streams' encodings), which a process handed a new os.environ keeps.
_PREFIXES = ("PYTHON", "LD_", "MALLOC_", "LC_")
_SUFFIXES = ("_NUM_THREADS",)
_NAMES = ("LANG", "LANGUAGE")


def startup_settings(env: dict[str, str], also: Iterable[str] = ()) -> dict[str, str]:
    """The variables of ``env`` a process reads as it starts (a process started without them cannot serve it).

    Args:
        env: a process's environment.
        also: further names the caller's own start-up reads (a Lambda spare's leader mounts its private /tmp
            at ``LOCALCLOUD_TMP_MB`` before the spare starts).

    Returns:
        Those variables and their values: equal for two environments when a process started with one can
        serve the other.
    """
    names = {*_NAMES, *also}
    return {k: v for k, v in env.items() if k.startswith(_PREFIXES) or k.endswith(_SUFFIXES) or k in names}
