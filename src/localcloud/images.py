"""Resolve container image URIs to what the local cloud can run without Docker.

On AWS a Lambda or SageMaker job runs a container image pulled from ECR. Here no
Docker engine runs, so an image whose ECR repository is one of the kit's own is
resolved to its Dockerfile under ``docker/<name>/``: the files it COPYs, its
CMD/ENTRYPOINT and ENV are read with ``dockerfile-parse`` and the local cloud
stages those files in a folder that stands in for the container's filesystem.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from localcloud.paths import PathEscape, inside

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:tag|@digest]; the repository part is
# ECR's RepositoryName pattern (CreateRepository), which has no "." or ".." segments.
_ECR_URI = re.compile(
    r"^(?P<account>\d+)\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(?::(?P<tag>[\w.-]+)|@(?P<digest>sha256:[0-9a-f]+))?$"
)
# The base images define these; Dockerfiles refer to them as ${VAR}.
_BASE_IMAGE_ENV = {"LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime"}


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
    dockerfile = images_dir / name / "Dockerfile"
    if not dockerfile.is_file():
        raise ImageNotFound(f"no Dockerfile at {dockerfile}")
    context = images_dir.parent
    parser = DockerfileParser(path=str(dockerfile))
    env = dict(_BASE_IMAGE_ENV)
    spec = ImageSpec(name=name, dockerfile=dockerfile)
    for instruction in parser.structure:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "ENV":
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
                path = target
                if target.endswith("/") or len(sources) > 1:
                    path = target.rstrip("/") + "/" + host.name
                elif not target.startswith("/"):
                    path = spec.workdir.rstrip("/") + "/" + target
                spec.files.append((host, path))
        elif kind == "CMD":
            spec.cmd = _split_args(value)
        elif kind == "ENTRYPOINT":
            spec.entrypoint = _split_args(value)
    return spec


def resolve_image(uri: str, images_dir: Path) -> ImageSpec:
    """Find the kit Dockerfile an ECR image URI stands for.

    The repository ``team/pipeline-dreams/ingest`` is looked up as
    ``docker/team/pipeline-dreams/ingest`` and then by its last segment, ``docker/ingest``.

    Raises:
        ImageNotFound: with the folders that were tried.
    """
    ref = parse_image_uri(uri)
    if ref is None:
        raise ImageNotFound(f"{uri!r} is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)")
    candidates = [ref.repository, ref.repository.rsplit("/", 1)[-1]]
    for name in dict.fromkeys(candidates):
        if (images_dir / name / "Dockerfile").is_file():
            return read_image(name, images_dir)
    tried = ", ".join(str(images_dir / name / "Dockerfile") for name in dict.fromkeys(candidates))
    raise ImageNotFound(
        f"image {uri} (repository {ref.repository!r}) has no Dockerfile the local cloud can run: tried {tried}"
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
