"""27-28. CompleteMultipartUpload writes the object part by part instead of building it in memory.

moto's ``FakeMultipart.complete`` joins every part into one ``bytearray``, copies it to ``bytes``, and (for the
full-object checksum it computes by default) joins and copies the parts once more; ``FakeKey``'s value setter
then writes all of it into an in-memory buffer before that spills to a file. A 1 GiB upload peaked at 4.2 GB.

27. ``moto.s3.models.FakeMultipart.complete`` — the same checks (InvalidPart, EntityTooSmall, MalformedXML), ETag
    and checksum as moto's, reading one part at a time; it returns :class:`AssembledParts` (an empty ``bytes``
    that names the parts) where moto returned the joined bytes.
28. ``moto.s3.models.FakeKey.value`` (a property) — its setter copies :class:`AssembledParts`' files into the
    object's file in 8 MiB chunks; any other value as moto does.

A full-object checksum moto computes as CRC32 (CRC32, and CRC32C/CRC64NVME without their optional libraries,
where moto falls back to CRC32) is computed as a running CRC32 over the parts: the same value. Any other is left
to moto's own builder, which joins the parts in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from functools import cache
from typing import Any

from moto.s3 import models as s3_models
from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
from moto.s3.utils import compute_checksum

from localcloud.moto_seams import _state

_COPY_CHUNK = 8 * 1024 * 1024


class AssembledParts(bytes):
    """The parts of a completed upload, in order, standing in for their joined bytes (it holds none itself).

    It takes over the parts' files: moto disposes of the upload (closing its parts' files) before it stores the
    object, so each part is given a fresh empty buffer for moto to close.
    """

    buffers: list[Any]
    size: int

    def __new__(cls, parts: list[Any]) -> AssembledParts:
        assembled = super().__new__(cls, b"")
        assembled.size = sum(part.contentsize for part in parts)
        assembled.buffers = []
        for part in parts:
            assembled.buffers.append(part._value_buffer)
            part._value_buffer = tempfile.SpooledTemporaryFile(part._max_buffer_size)
        return assembled


@cache
def _moto_computes_crc32(algorithm: str) -> bool:
    """Whether moto's ``compute_checksum`` gives a plain CRC32 for ``algorithm`` (its fallback without a library)."""
    probe = b"localcloud"
    return compute_checksum(probe, algorithm, encode_base64=False) == binascii.crc32(probe).to_bytes(4, "big")


class _Checksum:
    """moto's MultipartChecksumBuilder, with a running CRC32 where it would join the parts to compute one."""

    def __init__(self, algorithm: str | None, kind: str | None) -> None:
        self.builder = s3_models.MultipartChecksumBuilder(algorithm, kind)
        streamable = self.builder.checksum_type == "FULL_OBJECT" and _moto_computes_crc32(
            self.builder.checksum_algorithm)
        self.running: int | None = 0 if streamable else None

    def add(self, data: bytes) -> None:
        if self.running is None:
            self.builder.addPart(data)
        else:
            self.running = zlib.crc32(data, self.running)

    def build(self) -> tuple[str, str, int] | None:
        if self.running is None:
            return self.builder.build()
        return "FULL_OBJECT", base64.b64encode(self.running.to_bytes(4, "big")).decode(), 1


def _complete(self: Any, body: Iterator[tuple[int, str]]) -> tuple[bytes, str, tuple[str, str, int] | None]:
    checksum = _Checksum(self.metadata.get("x-amz-checksum-algorithm"), self.metadata.get("x-amz-checksum-type"))
    md5s = bytearray()
    parts: list[Any] = []
    for number, etag in body:
        part = self.parts.get(number)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if parts and parts[-1].contentsize < s3_models.S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
        checksum.add(part.value)  # one part in memory at a time
        parts.append(part)
    if not parts:
        raise MalformedXML
    return AssembledParts(parts), f"{hashlib.md5(bytes(md5s), usedforsecurity=False).hexdigest()}-{len(parts)}", checksum.build()


def _set_value(self: Any, new_value: bytes) -> None:
    if not isinstance(new_value, AssembledParts):
        _state.originals["s3_key_value"].fset(self, new_value)
        return
    buffer = self._value_buffer
    buffer.seek(0)
    buffer.truncate()
    if new_value.size > self._max_buffer_size:
        buffer.rollover()  # to its file now: the object is never held in the in-memory buffer
    for part in new_value.buffers:
        part.seek(0)
        shutil.copyfileobj(part, buffer, _COPY_CHUNK)
        part.close()
    self.contentsize = new_value.size


def _get_value(self: Any) -> bytes:
    return _state.originals["s3_key_value"].fget(self)


key_value = property(_get_value, _set_value, doc="moto's FakeKey.value, written part by part for a completed upload")
