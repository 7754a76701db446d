"""A Lambda function's code on disk: a Zip package unpacked within AWS's size limit, or an image's files staged.

AWS refuses, at CreateFunction and UpdateFunctionCode, a package whose files unpack past 250 MB
(``CodeSizeUnzipped``, 262,144,000 bytes), with ``InvalidParameterValueException`` "Unzipped size must be
smaller than 262144000 bytes". :func:`unzipped_size` reads the sizes a package declares in its central
directory without unpacking anything, for that check (``moto_seams._validation`` makes it before moto
stores the code). :func:`extract` then unpacks member by member and stops writing at the limit, whatever
the headers said, so that no package can fill the disk.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from localcloud.common.images import ImageCatalog, ImageNotFound
from localcloud.common.paths import inside

# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: 250 MB unzipped (250 MiB)
CODE_SIZE_UNZIPPED = 262_144_000
UNZIPPED_TOO_LARGE = f"Unzipped size must be smaller than {CODE_SIZE_UNZIPPED} bytes"
_CHUNK = 1 << 20


class CodeTooLarge(ValueError):
    """A package's files unpack past the limit (found while unpacking: its headers understated them)."""


def unzipped_size(package: bytes) -> int | None:
    """The bytes a Zip package's members declare they unpack to; None when it is not a readable zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):  # moto and the invoke report a broken package
        return None


def extract(package: bytes, folder: Path, limit: int = CODE_SIZE_UNZIPPED) -> None:
    """Unpack ``package`` into ``folder``, every member inside it, writing at most ``limit`` bytes.

    Raises:
        CodeTooLarge: the members hold more than ``limit`` bytes (what was written stays: the caller
            unpacks into a staging folder it removes).
        zipfile.BadZipFile: the package is not a zip, or a member's data does not match its header.
    """
    written = 0
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        for info in archive.infolist():
            # As ZipFile.extract names a member: no drive, root, "." or ".." parts (they are dropped)
            parts = [part for part in PurePosixPath(info.filename.replace("\\", "/")).parts
                     if part not in ("", ".", "..", "/")]
            if not parts:
                continue
            target = inside(folder, "/".join(parts), what=f"zip member {info.filename!r}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as sink:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise CodeTooLarge(f"{UNZIPPED_TOO_LARGE} (stopped unpacking at {limit} bytes)")
                    sink.write(chunk)


def materialise(workdir: Path, images: ImageCatalog, spec) -> tuple[Path, str, dict[str, str]]:
    """Unpack or stage a function version's code once; return (its folder, the handler, the image's ENV).

    ``spec`` is a :class:`localcloud.awslambda.invocation.FunctionSpec`. Callers serialise calls for one version.
    """
    # The name passed AWS's pattern at CreateFunction; inside() keeps the folder in the workdir regardless.
    folder = inside(workdir / "lambda", f"{spec.name}-{spec.code_sha256[:16]}", what=f"function name {spec.name!r}")
    image_env: dict[str, str] = {}
    handler = spec.handler or ""
    if spec.image_uri:
        image = images.resolve(spec.image_uri)
        image_env = dict(image.env)
        command = list(spec.image_command) or image.cmd
        if not command:
            raise ImageNotFound(f"{image.dockerfile} has no CMD naming the handler (e.g. CMD [\"app.handler\"])")
        handler = command[0]
    if not folder.exists():
        staging = folder.with_suffix(".staging")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            if spec.image_uri:
                image.stage(staging, prefix="/var/task")
            else:
                extract(spec.zip_bytes or b"", staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)  # never a half-unpacked package on disk
            raise
        staging.rename(folder)
    return folder, handler, image_env
