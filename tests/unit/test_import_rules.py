"""The house's import rules, read from the source with ``ast`` (nothing here imports the code it checks).

1. Only ``localcloud/moto_seams/`` imports moto: every touch of moto's internals is a seam, listed there.
2. ``localcloud/child/`` (code that runs in Lambda environments, job processes and their leaders, some of it loaded
   by file path) imports only the standard library and ``localcloud.child``: never moto, botocore or boto3, so a
   child starts fast and a moto upgrade cannot reach it.
3. The notebook library (``src/helpers`` but ``runner/`` and ``__main__.py``) imports neither ``localcloud`` nor
   ``helpers.runner``: which cloud answers is decided by :func:`helpers.config.connect`, and the same code runs on AWS.
4. Lambda handlers (``src/lambdas``) and job scripts (``src/jobs``) import neither ``helpers`` nor ``localcloud``:
   they are shipped to AWS as they are.

An import counts wherever it is written (module level or inside a function), ``from X import y`` counts as
``X.y``, relative imports are resolved, and ``importlib.import_module("…")`` / ``__import__("…")`` with a literal
name count too. Modules imported by a name computed at run time (a handler's module, the warm template's
preloads) are the code's data, not its imports, and are not checked here.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


@dataclass(frozen=True)
class Import:
    """One import in one file: the dotted name as Python resolves it (``from X import y`` is ``X.y``)."""

    path: Path
    line: int
    module: str

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    @property
    def where(self) -> str:
        return self.path.relative_to(SRC).as_posix()

    def __str__(self) -> str:
        return f"src/{self.where}:{self.line} imports {self.module}"


def _package_of(path: Path) -> list[str]:
    parts = list(path.relative_to(SRC).parts[:-1])
    return parts


def _is_import_call(node: ast.Call) -> bool:
    func = node.func
    named = (isinstance(func, ast.Attribute) and func.attr == "import_module"
             and isinstance(func.value, ast.Name) and func.value.id == "importlib")
    named = named or (isinstance(func, ast.Name) and func.id == "__import__")
    return named and bool(node.args) and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)


def imports_of(path: Path, source: str | None = None) -> list[Import]:
    """Every import in ``path`` (or in ``source``, read as if it were that file)."""
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the file's package, one level up per extra dot
                package = _package_of(path)
                base = ".".join([*package[:len(package) - (node.level - 1)], *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found += [Import(path, node.lineno, base if alias.name == "*" else f"{base}.{alias.name}")
                      for alias in node.names]
        elif isinstance(node, ast.Call) and _is_import_call(node):
            found.append(Import(path, node.lineno, node.args[0].value))
    return found


def python_files(*folders: str, skip: tuple[str, ...] = ()) -> list[Path]:
    """The .py files under ``src/<folder>``, but those under (or named) ``src/<skip>``."""
    files = []
    for folder in folders:
        for path in sorted((SRC / folder).rglob("*.py")):
            relative = path.relative_to(SRC).as_posix()
            if "__pycache__" not in path.parts and not any(relative == s or relative.startswith(f"{s}/") for s in skip):
                files.append(path)
    assert files, f"no Python files under src/{', src/'.join(folders)}: the rule would check nothing"
    return files


def report(rule: str, broken: list[Import]) -> str:
    return f"{rule}:\n  " + "\n  ".join(map(str, broken))


def is_stdlib(entry: Import) -> bool:
    return entry.top in sys.stdlib_module_names


class TestOnlyMotoSeamsImportMoto:
    """Rule 1: moto is imported in ``src/localcloud/moto_seams/`` and nowhere else in src/."""

    RULE = "moto imported outside src/localcloud/moto_seams/ (every touch of moto is a seam, registered there)"

    @staticmethod
    def broken(files: list[Path], sources: dict[Path, str] | None = None) -> list[Import]:
        sources = sources or {}
        return [entry for path in files for entry in imports_of(path, sources.get(path))
                if entry.top == "moto" and not entry.where.startswith("localcloud/moto_seams/")]

    def test_only_moto_seams_import_moto(self):
        broken = self.broken(python_files("."))
        assert not broken, report(self.RULE, broken)

    def test_an_import_of_moto_elsewhere_is_found(self):
        """The check sees ``from moto.core import …`` inside a function of cloud.py (a stand-in source)."""
        path = SRC / "localcloud/cloud.py"
        broken = self.broken([path], {path: "def serve():\n    from moto.core import BaseBackend\n"})
        assert [str(entry) for entry in broken] == ["src/localcloud/cloud.py:2 imports moto.core.BaseBackend"]


class TestChildImportsOnlyStandardLibraryAndChild:
    """Rule 2: ``src/localcloud/child/`` imports the standard library and ``localcloud.child``, and nothing else."""

    RULE = ("src/localcloud/child/ imports something but the standard library and localcloud.child "
            "(child processes must not load moto, botocore, boto3 or the cloud's other rooms)")
    # Named exceptions, each still needed (test_each_exception_is_still_there):
    EXCEPTIONS = {
        # A spare Lambda environment imports the handlers' one dependency ahead of the handler (AWS's Python
        # runtime has boto3): that is what the spare is for (localcloud.awslambda.lambda_spare).
        ("localcloud/child/lambda_bootstrap.py", "boto3"),
        # The urllib3 patch runs when the handler or job script imports urllib3 itself (a post-import hook).
        ("localcloud/child/mirror.py", "urllib3.response.HTTPResponse"),
        # Run as a process-group leader by file path (python -I -S), its own folder on sys.path: this is
        # localcloud/child/sandbox.py.
        ("localcloud/child/process_group.py", "sandbox"),
    }

    @classmethod
    def broken(cls, files: list[Path], sources: dict[Path, str] | None = None) -> list[Import]:
        sources = sources or {}
        return [entry for path in files for entry in imports_of(path, sources.get(path))
                if not is_stdlib(entry) and entry.module != "localcloud.child"
                and not entry.module.startswith("localcloud.child.") and (entry.where, entry.module) not in cls.EXCEPTIONS]

    def test_child_imports_only_the_standard_library_and_child(self):
        broken = self.broken(python_files("localcloud/child"))
        assert not broken, report(self.RULE, broken)

    def test_each_exception_is_still_there(self):
        """An exception the code no longer needs is taken off the list (else it would hide a new import)."""
        found = {(entry.where, entry.module) for path in python_files("localcloud/child") for entry in imports_of(path)}
        assert self.EXCEPTIONS <= found, f"exceptions no import needs any more: {sorted(self.EXCEPTIONS - found)}"

    def test_imports_of_botocore_and_other_rooms_are_found(self):
        """``import botocore`` and ``from localcloud.common import paths`` in a child module both break the rule."""
        path = SRC / "localcloud/child/warm_template.py"
        source = "import json\nimport botocore.session\nfrom localcloud.common import paths\nfrom . import mirror\n"
        broken = self.broken([path], {path: source})
        assert [str(entry) for entry in broken] == [
            "src/localcloud/child/warm_template.py:2 imports botocore.session",
            "src/localcloud/child/warm_template.py:3 imports localcloud.common.paths"]


class TestClientImportsOnlyStandardLibraryAndClient:
    """Rule 5: ``src/localcloud/client/`` (loaded by the venv's .pth in every Python process, the kernels' too)
    imports the standard library and ``localcloud.client``; botocore and moto never (it patches botocore when the
    process itself imports it)."""

    RULE = "src/localcloud/client/ imports something but the standard library and localcloud.client"

    @staticmethod
    def broken(files: list[Path], sources: dict[Path, str] | None = None) -> list[Import]:
        sources = sources or {}
        return [entry for path in files for entry in imports_of(path, sources.get(path))
                if not is_stdlib(entry) and not (entry.module == "localcloud.client"
                                                 or entry.module.startswith("localcloud.client."))]

    def test_client_imports_only_the_standard_library_and_client(self):
        broken = self.broken(python_files("localcloud/client"))
        assert not broken, report(self.RULE, broken)

    def test_an_import_of_botocore_is_found(self):
        """``import botocore.session`` in aws_urls.py breaks the rule."""
        path = SRC / "localcloud/client/aws_urls.py"
        broken = self.broken([path], {path: "import os\nimport botocore.session\n"})
        assert [str(entry) for entry in broken] == ["src/localcloud/client/aws_urls.py:2 imports botocore.session"]


class TestNotebookLibraryImportsNeitherLocalcloudNorRunner:
    """Rule 3: ``src/helpers`` but ``runner/`` and ``__main__.py`` imports neither ``localcloud`` nor ``helpers.runner``."""

    RULE = ("the notebook library imports localcloud or helpers.runner (it must run the same on AWS; "
            "only helpers.config.connect decides which cloud answers)")

    @staticmethod
    def broken(files: list[Path], sources: dict[Path, str] | None = None) -> list[Import]:
        sources = sources or {}
        return [entry for path in files for entry in imports_of(path, sources.get(path))
                if entry.top == "localcloud" or entry.module == "helpers.runner"
                or entry.module.startswith("helpers.runner.")]

    def test_notebook_library_imports_neither_localcloud_nor_the_runner(self):
        broken = self.broken(python_files("helpers", skip=("helpers/runner", "helpers/__main__.py")))
        assert not broken, report(self.RULE, broken)

    def test_imports_of_localcloud_and_the_runner_are_found(self):
        """``from .runner import series`` and ``importlib.import_module("localcloud.cloud")`` both break the rule."""
        path = SRC / "helpers/s3.py"
        source = "import importlib\nfrom .runner import series\nimportlib.import_module('localcloud.cloud')\n"
        broken = self.broken([path], {path: source})
        assert [str(entry) for entry in broken] == ["src/helpers/s3.py:2 imports helpers.runner.series",
                                                    "src/helpers/s3.py:3 imports localcloud.cloud"]


class TestHandlersAndJobScriptsImportNeitherHelpersNorLocalcloud:
    """Rule 4: ``src/lambdas`` and ``src/jobs`` import neither ``helpers`` nor ``localcloud``."""

    RULE = "a Lambda handler or job script imports helpers or localcloud (they are shipped to AWS as they are)"

    @staticmethod
    def broken(files: list[Path], sources: dict[Path, str] | None = None) -> list[Import]:
        sources = sources or {}
        return [entry for path in files for entry in imports_of(path, sources.get(path))
                if entry.top in ("helpers", "localcloud")]

    def test_handlers_and_job_scripts_import_neither_helpers_nor_localcloud(self):
        broken = self.broken(python_files("lambdas", "jobs"))
        assert not broken, report(self.RULE, broken)

    def test_an_import_of_helpers_is_found(self):
        """``from helpers import s3`` in a handler breaks the rule."""
        path = SRC / "lambdas/example.py"
        broken = self.broken([path], {path: "from helpers import s3\n"})
        assert [str(entry) for entry in broken] == ["src/lambdas/example.py:1 imports helpers.s3"]
