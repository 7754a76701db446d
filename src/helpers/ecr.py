"""ECR repositories and the one step a laptop cannot do like AWS: building and pushing images."""

from __future__ import annotations

import base64
import shutil
import subprocess

from helpers.config import Kit
from helpers.paths import DOCKER_DIR, PROJECT_ROOT


class DockerUnavailable(RuntimeError):
    """No Docker engine answers; the message has the commands to run elsewhere."""


def ensure_repository(kit: Kit, image: str) -> str:
    """Create the repository ``<prefix>/<image>`` if needed; return its URI."""
    ecr = kit.client("ecr")
    name = kit.names.repository(image)
    try:
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        print(f"repository {name} exists")
    except ecr.exceptions.RepositoryNotFoundException:
        try:
            repository = ecr.create_repository(repositoryName=name, tags=kit.tags(),
                                               imageScanningConfiguration={"scanOnPush": True})["repository"]
            print(f"repository {name} created")
        except ecr.exceptions.RepositoryAlreadyExistsException:  # another run created it since we looked
            repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
            print(f"repository {name} exists")
    return repository["repositoryUri"]


def published_uri(kit: Kit, image: str, tag: str = "latest") -> str | None:
    """``<repository URI>:<tag>`` when :func:`publish_image` made it (03 does), else None; nothing is created.

    On AWS the tag must have been pushed; the local cloud runs ``docker/<image>``'s files, so the repository is enough.
    """
    ecr = kit.client("ecr")
    name = kit.names.repository(image)
    try:
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        if kit.settings.target != "local":  # the one place the kit differs by target (see _publish)
            ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])
    except (ecr.exceptions.RepositoryNotFoundException, ecr.exceptions.ImageNotFoundException):
        return None
    return f"{repository['repositoryUri']}:{tag}"


def build_commands(kit: Kit, image: str, uri: str) -> list[str]:
    """The shell commands that build ``docker/<image>`` and push it (as the article does, fixed)."""
    registry = uri.split("/", 1)[0]
    return [
        f"aws ecr get-login-password --region {kit.region} | docker login --username AWS --password-stdin {registry}",
        # --provenance=false: Lambda rejects the image index buildx makes with provenance attestations.
        f"docker build --provenance=false --platform linux/amd64 -f docker/{image}/Dockerfile -t {uri} .",
        f"docker push {uri}",
    ]


def publish_image(kit: Kit, image: str, tag: str = "latest", required: bool = True) -> str | None:
    """Make ``docker/<image>`` available as ``<repository URI>:<tag>`` and return that URI.

    On AWS the image is built and pushed with the docker CLI. The local cloud has no
    Docker engine: it resolves the repository name to ``docker/<image>/Dockerfile`` and
    runs the files that Dockerfile copies, so nothing needs building.

    Raises:
        DockerUnavailable: on AWS with no Docker engine — unless ``required`` is False, in
            which case the message (with the commands to run elsewhere) is printed and None returned.
    """
    try:
        return _publish(kit, image, tag)
    except DockerUnavailable as problem:
        if required:
            raise
        print(problem)
        return None


def _publish(kit: Kit, image: str, tag: str) -> str:
    if not (DOCKER_DIR / image / "Dockerfile").is_file():
        raise FileNotFoundError(f"no Dockerfile at docker/{image}/Dockerfile")
    uri = f"{ensure_repository(kit, image)}:{tag}"
    if kit.settings.target == "local":  # the one place the kit differs by target (see the README)
        print(f"local cloud: {uri} runs docker/{image}/Dockerfile's files directly (no build needed)")
        return uri
    if not _docker_engine_answers():
        commands = "\n  ".join(build_commands(kit, image, uri))
        raise DockerUnavailable(f"no Docker engine answers here, so {uri} cannot be built. "
                                f"On a machine with Docker, from the kit's folder, run:\n  {commands}\n"
                                "then re-run this cell.")
    token = kit.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    registry = uri.split("/", 1)[0]
    subprocess.run(["docker", "login", "--username", user, "--password-stdin", registry],
                   input=password, text=True, check=True, capture_output=True)
    subprocess.run(["docker", "build", "--provenance=false", "--platform", "linux/amd64",
                    "-f", f"docker/{image}/Dockerfile", "-t", uri, "."], cwd=PROJECT_ROOT, check=True)
    subprocess.run(["docker", "push", uri], check=True)
    return uri


def _docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
