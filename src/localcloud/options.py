"""Every option of ``python -m localcloud`` and every ``LOCALCLOUD_*`` variable, declared once.

:data:`TABLE` holds one :class:`Option` per behaviour: its flag(s), its environment variable where one exists, its
default and its help text. The argparse parser (:func:`build_parser`), the validation (:func:`parse`, :func:`check`)
and the docs (docs/ARCHITECTURE.md's options table, which ``tests/unit/test_options.py`` compares with
:func:`doc_rows`) come from it. Precedence: a flag, else the environment, else the default.

:data:`ENVIRONMENT` lists every ``LOCALCLOUD_*`` variable with the module that reads it. The cloud's children
(``localcloud.child``) read theirs themselves: they may import nothing outside ``localcloud.child``, so this module
only documents them. Importing it is cheap (no moto, no boto3): ``python -m localcloud`` checks its options before
it imports moto.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.server.keys import CloudKeys

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_OFF = ("0", "off", "false", "no")


class OptionError(ValueError):
    """An option's value is unusable; the message is one line that starts with the option (``--account '12': ...``)."""


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, the module that reads it (as the docs write it) and what it means."""

    name: str
    read_by: str
    meaning: str


@dataclass(frozen=True)
class Option:
    """One behaviour of the cloud, as the command line, the environment and the docs know it.

    Attributes:
        name: the :class:`Options` field (and, but for the run loop's, :class:`~localcloud.cloud.LocalCloud`'s keyword).
        flag: the flag; a switch when ``metavar`` is None.
        metavar: the value's placeholder (``N``, ``DIR``); None for a switch.
        help: what it does (``--help`` and the docs), without its default or variable.
        default: the value when neither a flag nor the environment gives one.
        default_text: the default as the docs and ``--help`` say it ("" for none worth saying).
        convert: the flag's text to a value (argparse's ``type``).
        repeat: repeatable; the values are collected in order.
        switch: the value the switch sets.
        also: further switches of the same behaviour: (flag, value it sets, help); the first flag given in
            :data:`TABLE`'s order wins when several are.
        env: the variables that set it when no flag does.
        from_env: the value the environment gives, or None when it gives none.
        problem: what is wrong with a value, or None when it is fine.
    """

    name: str
    flag: str
    help: str
    default: Any = None
    default_text: str = ""
    metavar: str | None = None
    convert: Callable[[str], Any] = str
    repeat: bool = False
    switch: Any = True
    also: tuple[tuple[str, Any, str], ...] = ()
    env: tuple[Variable, ...] = ()
    from_env: Callable[[Mapping[str, str]], Any] | None = None
    problem: Callable[[Any], str | None] | None = None

    @property
    def flags(self) -> tuple[str, ...]:
        return (self.flag, *(flag for flag, _, _ in self.also))


def _port_problem(port: int) -> str | None:
    return None if 0 <= port <= 65535 else "a TCP port is 0-65535 (0: any free port)"


def _account_problem(account: str | None) -> str | None:
    return None if account is None or re.fullmatch(r"[0-9]{12}", account) else "an AWS account id is 12 digits"


def _concurrency_problem(concurrency: int) -> str | None:
    return None if concurrency >= 1 else "at least one invocation must be able to run"


def _idle_problem(seconds: float) -> str | None:
    return None if math.isfinite(seconds) and seconds > 0 else "a number of seconds above 0"


def _folder_problem(folder: Path) -> str | None:
    return None if Path(folder).expanduser().is_dir() else "no such directory"


def _iam_from_env(environ: Mapping[str, str]) -> bool | None:
    text = environ.get("LOCALCLOUD_IAM")
    return None if text is None else text.strip().lower() not in _OFF


def _cold_jobs_from_env(environ: Mapping[str, str]) -> bool | None:
    if environ.get("LOCALCLOUD_COLD_JOBS") == "1" or environ.get("LOCALCLOUD_WARM_JOBS") == "0":
        return True
    return None


TABLE: tuple[Option, ...] = (
    Option("host", "--host", "address to listen on", "127.0.0.1", "127.0.0.1", metavar="ADDR"),
    Option("port", "--port", "TCP port (0: any free port)", 5050, "5050", metavar="N", convert=int,
           problem=_port_problem),
    Option("data_port", "--data-port", "TCP port of the data folder's server (0: any free port)", 0, "0",
           metavar="N", convert=int, problem=_port_problem),
    Option("images_dir", "--images-dir", "folder of `docker/<image>/Dockerfile` that image URIs resolve to",
           PROJECT_ROOT / "docker", "the kit's `docker/`", metavar="DIR", convert=Path, problem=_folder_problem),
    Option("data_dir", "--data-dir", "folder served over HTTP for offline downloads", PROJECT_ROOT / "data",
           "the kit's `data/`", metavar="DIR", convert=Path, problem=_folder_problem),
    Option("allowed_origins", "--allow-origin", "a web origin (e.g. JupyterLab's http://127.0.0.1:8888) whose pages "
           "may call the cloud; repeatable. Every other Origin is refused", (), metavar="URL", repeat=True),
    Option("exit_with_parent", "--exit-with-parent", "stop (cleanly) when the process that started this one is gone, "
           "even if it was killed", False),
    Option("lambda_idle_seconds", "--lambda-idle-seconds", "stop a warm Lambda environment unused for this long",
           300.0, "300", metavar="S", convert=float, problem=_idle_problem),
    Option("lambda_concurrency", "--lambda-concurrency", "Lambda invocations that may run at once, all functions "
           "together (AWS's account concurrency); past it a synchronous Invoke answers 429", 1000, "1000",
           metavar="N", convert=int, problem=_concurrency_problem),
    Option("iam", "--no-iam", "do not enforce IAM (moto's permissiveness)", True, "enforced", switch=False,
           env=(Variable("LOCALCLOUD_IAM", "`options.py`", "`0`/`off`/`false`/`no`: do not enforce IAM"),),
           from_env=_iam_from_env),
    Option("account", "--account", "the 12-digit account id the cloud plays (ARNs, sts get-caller-identity, ECR "
           "registry host)", None, "moto's default account", metavar="ID", problem=_account_problem),
    Option("images", "--image", "ECR repository REPO's images are built from `DIR/Dockerfile`, DIR the build "
           "context; repeatable", {}, metavar="REPO=DIR", repeat=True),
    Option("mirrors", "--mirror", "Lambda handlers and jobs fetching URL get FILE's bytes; any other non-loopback "
           "URL fails at once; repeatable", {}, metavar="URL=FILE", repeat=True),
    Option("cold_jobs", "--cold-jobs", "start a fresh Python for every processing/training job instead of forking "
           "the warm template", False, "warm",
           also=(("--warm-jobs", False, "fork jobs from the warm template even if the environment says cold"),),
           env=(Variable("LOCALCLOUD_COLD_JOBS", "`options.py`", "`1`: every job starts cold"),
                Variable("LOCALCLOUD_WARM_JOBS", "`options.py`", "`0`: every job starts cold (the older spelling)")),
           from_env=_cold_jobs_from_env),
    Option("warm_stepfunctions", "--warm-stepfunctions", "once ready, build the Step Functions parser's tables in "
           "the background (~0.5 s off the first CreateStateMachine)", False),
    Option("warm_clients", "--warm-clients", "once ready, read the S3 model the cloud's own clients use in the "
           "background (~0.16 s off the first job)", False),
)
_BY_NAME = {option.name: option for option in TABLE}
# Run-loop options: __main__ acts on them; LocalCloud does not take them.
_RUN_LOOP = ("exit_with_parent", "warm_stepfunctions", "warm_clients")

ENVIRONMENT: tuple[Variable, ...] = (
    Variable("LOCALCLOUD_ACCESS_KEY_ID", "`server/keys.py`", "root key id a parent hands the cloud it starts "
             "(with the secret; else new keys)"),
    Variable("LOCALCLOUD_SECRET_ACCESS_KEY", "`server/keys.py`", "the secret of that key (both or neither)"),
    Variable("LOCALCLOUD_RUNTIME_DIR", "`server/keys.py`",
             "folder of the runtime files (default `$XDG_DATA_HOME/localcloud/runtime`)"),
    *(variable for option in TABLE for variable in option.env),
    # Set by the cloud for its children, which read them (localcloud.child imports nothing outside itself).
    Variable("LOCALCLOUD_MIRRORS", "`child/mirror.py` (set by the cloud for its children)",
             "the `--mirror` table as JSON `{url: file}`"),
    Variable("LOCALCLOUD_OPT_ML", "`child/job_site/sitecustomize.py` (set for a job)",
             "the job's folder that `/opt/ml` maps to"),
    Variable("LOCALCLOUD_MOUNTS", "`child/job_site/sitecustomize.py` (set for a job)",
             "the job's channel folders, each its own \"mount\""),
    Variable("LOCALCLOUD_TMP_MB", "`child/process_group.py` (set for an environment)",
             "the size of the environment's private `/tmp`"),
    Variable("LOCALCLOUD_PRIVATE_TMP", "`child/private_tmp.py`",
             "`0`: force the folder fallback; what handlers see: `1` or `0`"),
    Variable("LOCALCLOUD_HIDE", "`child/private_tmp.py` (set for an environment)",
             "folders the environment must not see (the key folder)"),
    Variable("LOCALCLOUD_REDIRECT_AWS_URLS", "`client/aws_urls.py` (set by `localcloud env`, the runner, `make lab`)",
             "`1`: a client's explicit AWS URL (the SageMaker SDK's STS) reaches `AWS_ENDPOINT_URL`"),
)


@dataclass(frozen=True)
class Options:
    """What one ``python -m localcloud`` does, parsed and checked (see :data:`TABLE` for each field)."""

    host: str
    port: int
    data_port: int
    images_dir: Path
    data_dir: Path
    allowed_origins: tuple[str, ...]
    exit_with_parent: bool
    lambda_idle_seconds: float
    lambda_concurrency: int
    iam: bool
    account: str | None
    images: Mapping[str, Path]
    mirrors: Mapping[str, Path]
    cold_jobs: bool
    warm_stepfunctions: bool
    warm_clients: bool
    notes: tuple[str, ...] = field(default=(), compare=False)  # not an option: what the image check found worth saying

    def cloud_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :class:`~localcloud.cloud.LocalCloud` these options give."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in (*_RUN_LOOP, "notes")}


def _help(option: Option) -> str:
    text = option.help
    if option.default_text:
        text += f"; default {option.default_text}"
    if option.env:
        text += f" (environment: {', '.join(variable.name for variable in option.env)})"
    return text.replace("%", "%%")


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    """The argparse parser of :data:`TABLE` (values are checked by :func:`parse`, not here)."""
    # allow_abbrev=False: --image must never be taken as an abbreviation of --images-dir.
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=description, allow_abbrev=False)
    for option in TABLE:
        if option.metavar is None:
            parser.add_argument(option.flag, dest=option.name, action="store_true", help=_help(option))
            for index, (flag, _, text) in enumerate(option.also):
                parser.add_argument(flag, dest=f"{option.name}.{index}", action="store_true", help=text)
        else:
            parser.add_argument(option.flag, dest=option.name, metavar=option.metavar, type=option.convert,
                                action="append" if option.repeat else "store", help=_help(option))
    return parser


def _pairs(values: Sequence[str], flag: str, what: str, last: bool = False) -> dict[str, str]:
    """``NAME=VALUE`` values as a dict; ``last``: split at the last "=" (a URL's query may hold one)."""
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, target = value.rpartition("=") if last else value.partition("=")
        if not sep or not name or not target:
            raise OptionError(f"{flag} {value!r}: expected {what}")
        if name in pairs:
            raise OptionError(f"{flag} {name} given twice")
        pairs[name] = target
    return pairs


def check(name: str, value: Any) -> Any:
    """``value`` if option ``name`` may have it.

    Raises:
        OptionError: ``--flag VALUE: what is wrong``.
    """
    option = _BY_NAME[name]
    problem = option.problem(value) if option.problem else None
    if problem:
        shown = str(value) if isinstance(value, Path) else value
        raise OptionError(f"{option.flag} {shown!r}: {problem}")
    return value


def _origins(values: Sequence[str]) -> tuple[str, ...]:
    from localcloud.server.guard import normalise_origin

    for value in values:
        try:
            normalise_origin(value)
        except ValueError as error:
            raise OptionError(f"--allow-origin {value!r}: {error}") from None
    return tuple(values)


def _mirrors(values: Sequence[str]) -> dict[str, Path]:
    from localcloud.child.mirror import is_local, url_key

    mirrors = {}
    for url, file in _pairs(values, "--mirror", "URL=FILE", last=True).items():
        key = url_key(url)
        if key is None or is_local(key[1]):
            raise OptionError(f"--mirror {url}: expected an http(s) URL of a non-loopback host")
        path = Path(file).expanduser().resolve()
        if not path.is_file():
            raise OptionError(f"--mirror {url}={file}: no such file")
        mirrors[url] = path
    return mirrors


def _image_notes(images_dir: Path, images: Mapping[str, Path]) -> tuple[str, ...]:
    from localcloud.common.images import ImageCatalog, ImageNotFound

    try:
        return tuple(ImageCatalog(images_dir, images).check())
    except ImageNotFound as error:
        raise OptionError(str(error)) from None


def from_environment(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """Option ``name``'s value when no flag gives one: the environment's (``os.environ`` by default), else the default."""
    option = _BY_NAME[name]
    value = option.from_env(os.environ if environ is None else environ) if option.from_env else None
    return option.default if value is None else value


def handed_keys() -> CloudKeys | None:
    """The root keys a parent handed over (``LOCALCLOUD_ACCESS_KEY_ID``/``_SECRET_ACCESS_KEY``), taken out of the
    environment so no child inherits them; None when none were (see :mod:`localcloud.server.keys`)."""
    from localcloud.server.keys import CloudKeys

    return CloudKeys.from_environment()


def parse(argv: Sequence[str], environ: Mapping[str, str], description: str | None = None) -> Options:
    """The options ``argv`` and ``environ`` give, every value checked (``description``: ``--help``'s text).

    Raises:
        OptionError: a value is unusable (one line naming the option).
        SystemExit: argparse's own: ``--help``, an unknown flag or an unconvertible value (usage, exit 2).
    """
    args = vars(build_parser(description).parse_args(list(argv)))
    values: dict[str, Any] = {}
    for option in TABLE:
        given = args[option.name]
        if option.metavar is None:  # a switch: the first of its flags given wins (--cold-jobs over --warm-jobs)
            switches = [(given, option.switch)]
            switches += [(args[f"{option.name}.{index}"], value) for index, (_, value, _) in enumerate(option.also)]
            given = next((value for flag_given, value in switches if flag_given), None)
        elif option.repeat and given is None:
            given = []
        if given is None and option.from_env:
            given = option.from_env(environ)
        values[option.name] = option.default if given is None else given
    for name, value in values.items():
        check(name, value)
    values["allowed_origins"] = _origins(values["allowed_origins"])
    values["images"] = {name: Path(folder).expanduser().resolve() for name, folder in
                        _pairs(values["images"], "--image", "REPOSITORY=DIR").items()}
    values["mirrors"] = _mirrors(values["mirrors"])
    notes = _image_notes(values["images_dir"], values["images"])
    return Options(**values, notes=notes)


def doc_rows() -> list[tuple[str, str, str, str]]:
    """docs/ARCHITECTURE.md's options table, row by row: (flag, environment, default, meaning)."""
    rows = []
    for option in TABLE:
        flag = f"`{option.flag} {option.metavar}`" if option.metavar else f"`{option.flag}`"
        env = ", ".join(f"`{variable.name}`" for variable in option.env)
        rows.append((flag, env, option.default_text, option.help))
        for also, _, text in option.also:
            rows.append((f"`{also}`", "", "", text))
    return rows


def environment_rows() -> list[tuple[str, str, str]]:
    """docs/ARCHITECTURE.md's ``LOCALCLOUD_*`` rows: (variable, read by, meaning)."""
    return [(f"`{variable.name}`", variable.read_by, variable.meaning) for variable in ENVIRONMENT]
