"""Resolve container image URIs to what the local cloud can run without Docker.

On AWS a Lambda or SageMaker job runs a container image pulled from ECR. Here no
Docker engine runs, so an image whose ECR repository is one of the kit's own is
resolved to its Dockerfile under ``docker/<name>/``: the files it COPYs, its
CMD/ENTRYPOINT and ENV are read with ``dockerfile-parse`` and the local cloud
stages those files in a folder that stands in for the container's filesystem.

``python -m localcloud --image REPO=DIR`` adds repositories of the user's own: ``DIR/Dockerfile``
read with ``DIR`` as its build context, exactly as ``docker build DIR`` (see :class:`ImageCatalog`).
``RUN pip install`` lines are checked against the cloud's own Python, never run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import posixpath
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser
from packaging.requirements import InvalidRequirement, Requirement

from localcloud.common.paths import PathEscape, inside

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:tag|@digest]; the repository part is
# ECR's RepositoryName pattern (CreateRepository), which has no "." or ".." segments.
_ECR_URI = re.compile(
    r"^(?P<account>\d+)\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(?::(?P<tag>[\w.-]+)|@(?P<digest>sha256:[0-9a-f]+))?$"
)
# The base images define these; Dockerfiles refer to them as ${VAR}.
_BASE_IMAGE_ENV = {"LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime"}
# AWS's Lambda base images for Python: the container runs the handler its CMD names.
LAMBDA_PYTHON_BASE = "public.ecr.aws/lambda/python"
# `pip install` options that take a value (the value is not a requirement).
_PIP_VALUE_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target",
                      "--prefix", "--root", "-c", "--constraint", "--platform", "--python-version",
                      "--implementation", "--abi", "--trusted-host", "--cache-dir", "--src", "--progress-bar"}


class ImageNotFound(LookupError):
    """The image URI names no repository the local cloud knows how to run."""


@dataclass(frozen=True)
class ImageRef:
    """The parts of an ECR image URI."""

    account: str
    region: str
    repository: str
    tag: str | None = None
    digest: str | None = None


@dataclass
class ImageSpec:
    """What a kit Dockerfile says the container holds and runs."""

    name: str
    dockerfile: Path
    files: list[tuple[Path, str]] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    base: str = ""  # the FROM image
    requirements: list[str] = field(default_factory=list)  # what its RUN pip install lines install

    @property
    def lambda_base(self) -> bool:
        """Built FROM an AWS Lambda Python base image: its CMD names the handler."""
        return self.base.startswith(LAMBDA_PYTHON_BASE)

    def digest(self) -> str:
        """A hash of every file the image copies: it changes when a handler is edited."""
        sha = hashlib.sha256()
        for source, target in self.files:
            for path in sorted(source.rglob("*")) if source.is_dir() else [source]:
                if path.is_file():
                    sha.update(f"{target}:{path.relative_to(source.parent)}".encode())
                    sha.update(path.read_bytes())
        sha.update(repr((self.cmd, self.entrypoint, sorted(self.env.items()))).encode())
        return sha.hexdigest()

    def stage(self, container_root: Path, prefix: str = "/") -> None:
        """Copy every COPY'd file whose container path is under ``prefix`` into ``container_root``.

        Args:
            container_root: the host folder that stands in for ``prefix``.
            prefix: container path the root stands for (``/`` or ``/var/task``).
        """
        prefix = prefix.rstrip("/") + "/"
        for source, target in self.files:
            if not (target + "/").startswith(prefix) and not target.startswith(prefix):
                continue
            relative = target[len(prefix):].lstrip("/")
            try:  # a COPY target with ".." must not land outside the container's stand-in folder
                destination = container_root if not relative else inside(
                    container_root, relative, what=f"{self.dockerfile}: COPY target {target!r}")
            except PathEscape as exc:
                raise ImageNotFound(str(exc)) from None
            if source.is_dir():
                shutil.copytree(source, destination, dirs_exist_ok=True)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


def parse_image_uri(uri: str) -> ImageRef | None:
    """Split an ECR image URI; None when it is not one."""
    match = _ECR_URI.match(uri or "")
    if not match:
        return None
    return ImageRef(**match.groupdict())


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def read_image(name: str, images_dir: Path) -> ImageSpec:
    """Read ``images_dir/<name>/Dockerfile``; its build context is ``images_dir``'s parent.

    Args:
        name: the image folder name.
        images_dir: the kit's ``docker/`` folder.

    Raises:
        ImageNotFound: no Dockerfile there.
    """
    return read_dockerfile(name, images_dir / name / "Dockerfile", images_dir.parent)


def read_dockerfile(name: str, dockerfile: Path, context: Path) -> ImageSpec:
    """Read what ``docker build -f dockerfile context`` would put in the image and run.

    Raises:
        ImageNotFound: no Dockerfile there, a COPY source outside the context or missing, or a
            ``RUN pip install`` of a package the cloud's Python lacks.
    """
    if not dockerfile.is_file():
        raise ImageNotFound(f"no Dockerfile at {dockerfile}")
    parser = DockerfileParser(path=str(dockerfile))
    env = dict(_BASE_IMAGE_ENV)
    spec = ImageSpec(name=name, dockerfile=dockerfile)
    pip_lines: list[tuple[int, str]] = []
    for instruction in parser.structure:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "FROM":
            spec.base = value.split()[0] if value.split() else ""
            if spec.base.startswith("--platform"):  # FROM --platform=linux/amd64 image
                spec.base = value.split()[1] if len(value.split()) > 1 else ""
            if spec.lambda_base:  # the Lambda base images' WORKDIR
                spec.workdir = _BASE_IMAGE_ENV["LAMBDA_TASK_ROOT"]
        elif kind == "RUN":
            pip_lines.append((instruction["startline"] + 1, _expand(value, env)))
        elif kind == "ENV":
            for key, val in _parse_env(value).items():
                env[key] = spec.env[key] = _expand(val, env)
        elif kind == "WORKDIR":
            spec.workdir = _expand(value, env)
        elif kind in ("COPY", "ADD"):
            parts = [p for p in _split_args(value) if not p.startswith("--")]
            *sources, target = [_expand(p, env) for p in parts]
            for source in sources:
                try:  # as docker build: a COPY source lies inside the build context
                    host = inside(context, source, what=f"{dockerfile}: COPY source {source!r}")
                except PathEscape as exc:
                    raise ImageNotFound(str(exc)) from None
                if not host.exists():
                    raise ImageNotFound(f"{dockerfile}: COPY source {source} does not exist in {context}")
                spec.files.append((host, _copy_target(spec, host, target, len(sources) > 1)))
        elif kind == "CMD":
            spec.cmd = _split_args(value)
        elif kind == "ENTRYPOINT":
            spec.entrypoint = _split_args(value)
    for line, command in pip_lines:
        spec.requirements += _pip_requirements(spec, line, command)
    missing = [r for r in spec.requirements if _installed(r) is None]
    if missing:
        raise ImageNotFound(
            f"{dockerfile}: RUN pip install needs {', '.join(missing)}, not installed in the local cloud's Python "
            f"(it runs images without Docker and installs nothing): add it to the kit's environment")
    return spec


def _copy_target(spec: ImageSpec, host: Path, target: str, several: bool) -> str:
    """Where ``COPY host target`` puts its file, as docker does.

    A relative target is under WORKDIR; a folder's *contents* go into the target; a file goes into
    the target when it ends with "/", when several sources are copied, or when the target is a
    folder the image already has (WORKDIR, ``${LAMBDA_TASK_ROOT}``, an earlier COPY's folder).
    """
    absolute = posixpath.normpath(target if target.startswith("/") else spec.workdir.rstrip("/") + "/" + target)
    folder = absolute.rstrip("/")
    several = several or target.endswith(("/", "/.")) or target == "."  # "." and "dir/." name folders
    if host.is_dir():
        return folder or "/"
    folders = {spec.workdir.rstrip("/"), ""}
    if spec.lambda_base:
        folders.add(_BASE_IMAGE_ENV["LAMBDA_TASK_ROOT"])
    for source, path in spec.files:
        folders.add(path.rstrip("/") if source.is_dir() else path.rsplit("/", 1)[0])
    if several or folder in folders:
        return folder + "/" + host.name
    return absolute


def version_notes(spec: ImageSpec) -> list[str]:
    """One line per ``RUN pip install`` requirement whose version differs from the installed one."""
    notes = []
    for text in spec.requirements:
        requirement, version = Requirement(text), _installed(text)
        if version and requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
            notes.append(f"{spec.dockerfile}: asks for {text}, the local cloud runs it with {requirement.name} {version}")
    return notes


def _installed(text: str) -> str | None:
    """The installed version of a requirement's distribution, None when absent."""
    try:
        return importlib.metadata.version(Requirement(text).name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _pip_requirements(spec: ImageSpec, line: int, command: str) -> list[str]:
    """The requirements a ``RUN`` line's ``pip install`` commands name (``-r`` files read from the image)."""
    found: list[str] = []
    for part in re.split(r"&&|\|\||;", command):
        try:
            words = shlex.split(part)
        except ValueError:
            continue
        for at in range(len(words) - 1):
            if re.fullmatch(r"(?:\S*/)?pip3?(?:\.\d+)?", words[at]) and words[at + 1] == "install":
                found += _pip_arguments(spec, line, words[at + 2:])
                break
    return found


def _pip_arguments(spec: ImageSpec, line: int, words: list[str]) -> list[str]:
    found, skip = [], False
    for at, word in enumerate(words):
        if skip:
            skip = False
        elif word in ("-r", "--requirement"):
            found += _requirements_file(spec, line, words[at + 1] if at + 1 < len(words) else "")
            skip = True
        elif word in _PIP_VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-") and not word.startswith(("/", ".", "git+", "http")):
            try:
                found.append(str(Requirement(word)))
            except InvalidRequirement:
                raise ImageNotFound(f"{spec.dockerfile} line {line}: cannot read pip requirement {word!r}") from None
    return found


def _requirements_file(spec: ImageSpec, line: int, path: str) -> list[str]:
    """Requirements of a file the image COPY'd (``path`` is a container path)."""
    if not path.startswith("/"):
        path = spec.workdir.rstrip("/") + "/" + path
    for source, target in reversed(spec.files):
        if source.is_file() and target.rstrip("/") == path:
            host = source
        elif source.is_dir() and path.startswith(target.rstrip("/") + "/"):
            host = source / path[len(target.rstrip("/")) + 1:]
        else:
            continue
        if host.is_file():
            lines = (raw.split("#", 1)[0].strip() for raw in host.read_text().splitlines())
            return [str(Requirement(text)) for text in lines if text and not text.startswith("-")]
    raise ImageNotFound(f"{spec.dockerfile} line {line}: pip install -r {path}: no file COPY'd there")


class ImageCatalog:
    """The images the cloud can run: the user's ``--image REPO=DIR`` folders, then the kit's ``docker/``.

    Args:
        images_dir: the kit's ``docker/`` folder (``docker/<name>/Dockerfile``, the kit's root as context).
        repositories: ECR repository name -> a folder holding a ``Dockerfile``, which is also its build context.
    """

    def __init__(self, images_dir: Path, repositories: Mapping[str, Path] | None = None) -> None:
        self.images_dir = Path(images_dir)
        self.repositories = {name: Path(folder) for name, folder in (repositories or {}).items()}

    def check(self) -> list[str]:
        """Read every ``--image`` folder now, so a mistake shows at start-up; returns version notes.

        Raises:
            ImageNotFound: one line naming the folder or Dockerfile and what is wrong.
        """
        notes = []
        for name, folder in self.repositories.items():
            if not folder.is_dir():
                raise ImageNotFound(f"--image {name}={folder}: no such directory")
            spec = read_dockerfile(name, folder / "Dockerfile", folder)
            if spec.lambda_base and not spec.cmd:
                raise ImageNotFound(f"--image {name}={folder}: {spec.dockerfile} is FROM {spec.base} but has no "
                                    "CMD naming the handler (e.g. CMD [\"app.lambda_handler\"])")
            notes += version_notes(spec)
        return notes

    def resolve(self, uri: str) -> ImageSpec:
        """The image an ECR URI stands for (any account: the cloud plays one account at a time).

        Raises:
            ImageNotFound: with the folders that were tried.
        """
        ref = parse_image_uri(uri)
        if ref is None:
            raise ImageNotFound(
                f"{uri!r} is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)")
        if ref.repository in self.repositories:
            folder = self.repositories[ref.repository]
            return read_dockerfile(ref.repository, folder / "Dockerfile", folder)
        candidates = [ref.repository, ref.repository.rsplit("/", 1)[-1]]
        for name in dict.fromkeys(candidates):
            if (self.images_dir / name / "Dockerfile").is_file():
                return read_image(name, self.images_dir)
        tried = ", ".join(str(self.images_dir / name / "Dockerfile") for name in dict.fromkeys(candidates))
        hint = " (or start the cloud with --image REPOSITORY=DIR)"
        raise ImageNotFound(
            f"image {uri} (repository {ref.repository!r}) has no Dockerfile the local cloud can run: tried {tried}{hint}"
        )


def _split_args(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("["):
        return [str(v) for v in json.loads(value)]
    return shlex.split(value)


def _parse_env(value: str) -> dict[str, str]:
    parts = shlex.split(value)
    if parts and "=" not in parts[0]:
        return {parts[0]: " ".join(parts[1:])}
    return dict(part.split("=", 1) for part in parts)
