"""``localcloud.options``: one table of the cloud's options, the docs and ``--help`` built from (or checked against) it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud import LocalCloud, options
from localcloud.options import OptionError, parse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = PROJECT_ROOT / "docs" / "ARCHITECTURE.md"


def _doc_table(heading: str) -> list[tuple[str, ...]]:
    """The rows of the first Markdown table after ``heading`` in ARCHITECTURE.md (header and rule left out)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        rows.append(tuple(cell.strip() for cell in line.strip().strip("|").split(" | ")))
    return rows[2:]


class TestDocsMatchTheTable:
    """docs/ARCHITECTURE.md lists exactly the options and LOCALCLOUD_* variables options.py declares."""

    def test_option_rows_equal_the_table(self):
        """1. Read the docs' options table. 2. Row for row, it is what options.doc_rows() renders from the table."""
        assert _doc_table("## `python -m localcloud` options") == options.doc_rows()

    def test_localcloud_variables_equal_the_environment_table(self):
        """1. Read the docs' LOCALCLOUD_* variable rows. 2. They are options.environment_rows(), in order."""
        rows = [row for row in _doc_table("## Environment variables") if row[0].startswith("`LOCALCLOUD_")]
        assert rows == options.environment_rows()

    def test_every_variable_the_cloud_code_names_is_documented(self):
        """1. Grep src/localcloud for LOCALCLOUD_* names. 2. Each is a row of the environment table."""
        named = set()
        for path in (PROJECT_ROOT / "src" / "localcloud").rglob("*.py"):
            named |= set(re.findall(r"\bLOCALCLOUD_[A-Z_]*[A-Z]\b", path.read_text(encoding="utf-8")))
        documented = {variable.name for variable in options.ENVIRONMENT}
        assert named <= documented, sorted(named - documented)


class TestOneFieldPerOption:
    def test_options_fields_are_the_table(self):
        """Options has one field per row of the table (and the image check's notes), in the table's order."""
        import dataclasses

        assert [f.name for f in dataclasses.fields(options.Options)] == [o.name for o in options.TABLE] + ["notes"]


class TestHelpListsEveryOption:
    def test_help_names_every_flag_and_variable(self):
        """1. Run ``python -m localcloud --help``. 2. It exits 0 and names every flag and option variable."""
        done = subprocess.run([sys.executable, "-m", "localcloud", "--help"], capture_output=True, text=True,
                              timeout=60, cwd=PROJECT_ROOT)
        assert done.returncode == 0, done.stderr
        help_text = " ".join(done.stdout.split())  # argparse wraps lines
        for option in options.TABLE:
            for flag in option.flags:
                assert flag in help_text, flag
            for variable in option.env:
                assert variable.name in help_text, variable.name


# For each option with an environment variable: (environment, value it gives, flags, value they give).
PRECEDENCE = {
    "iam": [({"LOCALCLOUD_IAM": "0"}, False, ["--no-iam"], False),
            ({"LOCALCLOUD_IAM": "off"}, False, [], None),
            ({"LOCALCLOUD_IAM": "1"}, True, ["--no-iam"], False)],
    "cold_jobs": [({"LOCALCLOUD_COLD_JOBS": "1"}, True, ["--warm-jobs"], False),
                  ({"LOCALCLOUD_WARM_JOBS": "0"}, True, ["--warm-jobs"], False),
                  ({"LOCALCLOUD_COLD_JOBS": "0"}, False, ["--cold-jobs"], True),
                  ({"LOCALCLOUD_WARM_JOBS": "1"}, False, ["--cold-jobs"], True)],
}
DEFAULTS = {"iam": True, "cold_jobs": False}


class TestPrecedence:
    """A flag wins over the environment, which wins over the default."""

    def test_every_option_with_a_variable_is_covered(self):
        assert set(PRECEDENCE) == {option.name for option in options.TABLE if option.env}

    @pytest.mark.parametrize("name", sorted(PRECEDENCE))
    def test_flag_over_environment_over_default(self, name):
        """
        1. Parse no flags and an empty environment: the default.
        2. Parse the environment alone: its value; with a flag as well: the flag's.
        """
        assert getattr(parse([], {}), name) is DEFAULTS[name]
        for environ, from_env, flags, from_flag in PRECEDENCE[name]:
            assert getattr(parse([], environ), name) is from_env, environ
            if flags:
                assert getattr(parse(flags, environ), name) is from_flag, (flags, environ)

    def test_cold_jobs_wins_when_both_flags_are_given(self):
        assert parse(["--warm-jobs", "--cold-jobs"], {}).cold_jobs is True
        assert parse(["--cold-jobs", "--warm-jobs"], {}).cold_jobs is True

    def test_values_and_defaults(self, tmp_path):
        """1. Parse every valued flag. 2. Each field holds the converted value; unset ones hold the table's default."""
        data = tmp_path / "iris.csv"
        data.write_text("1\n")
        got = parse(["--port", "0", "--host", "::1", "--data-port", "7", "--data-dir", str(tmp_path),
                     "--allow-origin", "http://127.0.0.1:8888", "--exit-with-parent", "--lambda-idle-seconds", "2.5",
                     "--lambda-concurrency", "3", "--account", "123456789012",
                     "--mirror", f"https://example.com/a?b=c={data}", "--warm-stepfunctions", "--warm-clients"], {})
        assert (got.port, got.host, got.data_port, got.data_dir) == (0, "::1", 7, tmp_path)
        assert got.allowed_origins == ("http://127.0.0.1:8888",) and got.exit_with_parent
        assert (got.lambda_idle_seconds, got.lambda_concurrency, got.account) == (2.5, 3, "123456789012")
        assert got.mirrors == {"https://example.com/a?b=c": data.resolve()}
        assert got.warm_stepfunctions and got.warm_clients
        default = parse([], {})
        assert (default.port, default.host, default.images_dir) == (5050, "127.0.0.1", PROJECT_ROOT / "docker")
        assert default.images == {} and default.mirrors == {} and default.account is None
        kwargs = got.cloud_kwargs()
        assert kwargs["allowed_origins"] == ("http://127.0.0.1:8888",) and "exit_with_parent" not in kwargs

    def test_lambda_concurrency_default_is_the_runtime_s(self):
        from localcloud.awslambda.invocation import ACCOUNT_CONCURRENCY

        assert parse([], {}).lambda_concurrency == ACCOUNT_CONCURRENCY


class TestValidationNamesTheOption:
    """Each bad value is an OptionError of one line that starts with the option it is about."""

    @pytest.mark.parametrize("argv, message", [
        (["--account", "12345678901"], "--account '12345678901': an AWS account id is 12 digits"),
        (["--account", "12345678901x"], "--account '12345678901x': an AWS account id is 12 digits"),
        (["--lambda-concurrency", "0"], "--lambda-concurrency 0: "),
        (["--port", "70000"], "--port 70000: "),
        (["--data-port", "-1"], "--data-port -1: "),
        (["--allow-origin", "not-a-url"], "--allow-origin 'not-a-url': "),
        (["--image", "app"], "--image 'app': expected REPOSITORY=DIR"),
        (["--image", "a=x", "--image", "a=y"], "--image a given twice"),
        (["--mirror", "https://example.com/x"], "--mirror 'https://example.com/x': expected URL=FILE"),
        (["--mirror", "http://127.0.0.1:9/x=/etc/hostname"], "--mirror http://127.0.0.1:9/x: expected an http(s) URL"),
        (["--mirror", "https://example.com/x=/no/such/file"], "--mirror https://example.com/x=/no/such/file: no such"),
        (["--image", "app=/no/such/folder"], "no such directory"),
        (["--lambda-idle-seconds", "0"], "--lambda-idle-seconds 0.0: "),
        (["--lambda-idle-seconds", "-5"], "--lambda-idle-seconds -5.0: "),
        (["--lambda-idle-seconds", "nan"], "--lambda-idle-seconds nan: "),
        (["--images-dir", "/no/such/images"], "--images-dir '/no/such/images': no such directory"),
        (["--data-dir", "/no/such/data"], "--data-dir '/no/such/data': no such directory"),
    ])
    def test_refused_with_one_line(self, argv, message):
        with pytest.raises(OptionError) as caught:
            parse(argv, {})
        text = str(caught.value)
        assert "\n" not in text and message in text, text
        if not message.startswith("no such"):
            assert text.startswith(argv[-2] if argv[-2].startswith("--") else argv[0]), text

    def test_local_cloud_refuses_what_parse_refuses(self):
        """LocalCloud built directly checks the same way (one check, not two)."""
        with pytest.raises(OptionError, match="--account '12': an AWS account id is 12 digits"):
            options.check("account", "12")
        with pytest.raises(OptionError, match="--lambda-concurrency 0"):
            options.check("lambda_concurrency", 0)
        with pytest.raises(OptionError, match="--lambda-idle-seconds -1: a number of seconds above 0"):
            LocalCloud(port=0, lambda_idle_seconds=-1)
