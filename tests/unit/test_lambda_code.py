"""localcloud.awslambda.lambda_code: a deployment package is unpacked inside its folder and never past the size limit.

AWS's limit: 250 MB unzipped (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). The
create-time check reads the sizes a package declares; unpacking counts what it really writes, so a package
whose headers understate its members cannot fill the disk either.
"""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from localcloud.awslambda import lambda_code


def _package(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _understated(package: bytes, size: int) -> bytes:
    """``package`` with every central-directory entry claiming ``size`` unpacked bytes (the data unchanged)."""
    data = bytearray(package)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        data[at + 24:at + 28] = struct.pack("<I", size)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


def _written(folder) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


class TestDeclaredSize:
    def test_sum_of_members(self):
        """The declared size is the sum of the members' sizes; a broken package has none."""
        assert lambda_code.unzipped_size(_package({"a.py": b"x" * 10, "b/c.txt": b"y" * 5})) == 15
        assert lambda_code.unzipped_size(b"not a zip") is None


class TestExtractStopsAtTheLimit:
    def test_real_bytes_over_the_limit(self, tmp_path):
        """
        1. A package of three 1 MiB members, unpacked with a 2.5 MiB limit.
        2. CodeTooLarge naming AWS's message; no more than the limit was written.
        """
        package = _package({f"part{n}.bin": bytes(1 << 20) for n in range(3)}, zipfile.ZIP_DEFLATED)
        with pytest.raises(lambda_code.CodeTooLarge, match="Unzipped size must be smaller than 262144000 bytes"):
            lambda_code.extract(package, tmp_path, limit=(5 << 20) // 2)
        assert _written(tmp_path) <= (5 << 20) // 2

    def test_headers_that_understate_the_members(self, tmp_path):
        """
        1. A package of two 1 MiB members whose central directory claims 10 bytes each.
        2. It passes the declared-size check, but unpacking it fails (zipfile checks the data against
           its header) having written no more than the declared bytes.
        """
        package = _understated(_package({"a.bin": bytes(1 << 20), "b.bin": bytes(1 << 20)}), 10)
        assert lambda_code.unzipped_size(package) == 20
        with pytest.raises((zipfile.BadZipFile, lambda_code.CodeTooLarge)):
            lambda_code.extract(package, tmp_path, limit=1 << 20)
        assert _written(tmp_path) <= 20

    def test_members_land_inside(self, tmp_path):
        """Members named ``../x``, ``/abs`` and ``a/./b`` land below the folder, as ZipFile.extract names them."""
        lambda_code.extract(_package({"../../x.py": b"1", "/abs.py": b"2", "a/./b.py": b"3"}), tmp_path / "code")
        assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.py")) == [
            "code/a/b.py", "code/abs.py", "code/x.py"]
