"""Tests for helpers.plan and ``python -m helpers run --dry-run``: the plan, the cost table, the cleanup command.

Nothing here may reach AWS: the plan is computed from names alone.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import _iam_model as model
from helpers.runner import cli
from helpers import config, plan
from helpers.paths import PROJECT_ROOT

AUDIT_SITE = PROJECT_ROOT / "tests" / "series" / "audit_site"


def settings(**changes) -> config.Settings:
    values = {"target": "aws", "region": "us-east-1", "prefix": "plan-kit", "run_id": "r1", "endpoint_url": None}
    return config.Settings(**{**values, **changes})


def readme_cost_rows() -> list[list[str]]:
    """The cells of the cost table in README's "Running on AWS" section (header and rule dropped)."""
    section = (PROJECT_ROOT / "README.md").read_text().split("## Running on AWS", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert rows, "README's 'Running on AWS' section has no table"
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header == plan.COST_COLUMNS
    return [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows[2:]]


class TestPlanNames:
    """The plan names resources as helpers.config.Names does, with <account> when the account is unknown."""

    def test_account_placeholder_and_kit_names(self):
        """
        1. Plan for prefix plan-kit in us-east-1 without an account.
        2. The bucket is plan-kit-<account>-us-east-1; roles, functions, repositories, machines are Names' names.
        3. Every name the kit chooses starts with the prefix (AWS names the .sync rules; log groups carry the function).
        """
        table = plan.plan(settings())
        names = config.Names("plan-kit", plan.ACCOUNT_PLACEHOLDER, "us-east-1")
        by_kind = table.groupby("kind")["name"].apply(list).to_dict()
        assert by_kind["bucket"] == ["plan-kit-<account>-us-east-1"]
        assert by_kind["role"] == [names.role(p) for p in (
            "fetch-data", "sagemaker", "start-preprocessing", "start-training", "states", "events")]
        assert by_kind["repository"] == [names.repository("ingest"), names.repository("preprocess")]
        assert by_kind["state machine"] == [names.state_machine("article-chain"), names.state_machine("pipeline")]
        assert by_kind["endpoint"] == ["plan-kit-iris"]
        for row in table.itertuples():
            if row.kind.startswith("rule (made by Step Functions"):
                assert re.fullmatch(r"StepFunctionsGetEventsForSageMaker(Processing|Training|Transform)JobsRule",
                                    row.name)
            elif row.kind == "log group":
                assert row.name.startswith("/aws/lambda/plan-kit-")
            else:
                assert row.name.startswith("plan-kit"), row

    def test_known_account_gives_the_real_bucket(self):
        """
        1. Plan with an account id.
        2. The bucket is exactly Names(...).bucket.
        """
        table = plan.plan(settings(region="eu-west-1"), account="111122223333")
        assert table.loc[table.kind == "bucket", "name"].tolist() == [
            config.Names("plan-kit", "111122223333", "eu-west-1").bucket]

    def test_counts_per_notebook(self):
        """
        1. Count the jobs of the plan.
        2. 9 processing, 6 training, 3 transform jobs, 3 models, 2 endpoint configs, 1 endpoint; notebooks 01-07.
        """
        counts = plan.plan(settings())["kind"].value_counts().to_dict()
        assert (counts["processing job"], counts["training job"], counts["transform job"], counts["model"],
                counts["endpoint config"], counts["endpoint"]) == (9, 6, 3, 3, 2, 1)
        assert sorted(set(plan.plan(settings())["notebook"])) == ["01", "02", "03", "04", "05", "06", "07"]


class TestPlanMatchesTheStateMachines:
    """The SageMaker names the plan lists for a pipeline run are the ones the state machines make."""

    def test_gated_run_names(self):
        """
        1. Evaluate the state machines' Parameters for run sample-run (as in test_iam_documents).
        2. The names of jobs, model and endpoint config they create equal the plan's rows for that run.
        """
        kit = model.sample_kit("us-east-1", prefix="plan-kit")
        made = set()
        for _, resource, parameters in model.task_requests(kit):
            for key in ("ProcessingJobName", "TrainingJobName", "TransformJobName", "ModelName", "EndpointConfigName",
                        "EndpointName"):
                if key in parameters and ":create" in resource:
                    made.add(parameters[key])
        table = plan.plan(settings(run_id="sample", prefix=kit.settings.prefix))
        planned = set(table.loc[table.name.str.contains("sample-gated") | (table.kind == "endpoint"), "name"])
        assert made == {name.replace(f"sample-gated{plan.HASH}", model.RUN) for name in planned}


class TestCosts:
    """The cost table is computed from the plan's counts and the price constants, and README shows the same."""

    def test_rows_follow_from_constants(self):
        """
        1. Compute costs().
        2. Processing = 9 jobs × 5 min × hourly price; endpoint per day = 24 × hourly; the total sums the runs.
        """
        table = plan.costs().set_index("service")
        assert math.isclose(table.loc["SageMaker Processing", "one run (USD)"], round(9 * 5 / 60 * 0.05, 3))
        assert table.loc["SageMaker endpoint, left running", "unit price (USD)"] == round(
            24 * plan.PRICE_ENDPOINT_ML_M5_LARGE_HOUR, 2)
        runs = table.drop("total")["one run (USD)"]
        assert math.isclose(table.loc["total", "one run (USD)"], runs.sum(), abs_tol=1e-9)
        assert "9 jobs" in table.loc["SageMaker Processing", "what one run uses"]

    def test_readme_table_is_costs(self):
        """
        1. Parse the table of README's "Running on AWS" section.
        2. Row by row it is costs(): the same text, and the same numbers ("—" where there is none).
        """
        readme = readme_cost_rows()
        table = plan.costs()
        assert len(readme) == len(table), "README's cost table and plan.costs() have different rows"
        for cells, row in zip(readme, table.itertuples(index=False)):
            assert cells[0] == row[0] and cells[1] == row[1] and cells[3] == row[3], cells
            for text, value in ((cells[2], row[2]), (cells[4], row[4])):
                assert (text == "—") if math.isnan(value) else math.isclose(float(text), value, abs_tol=5e-4), cells

    def test_markdown_is_what_readme_holds(self):
        """
        1. Render costs_markdown().
        2. README contains it verbatim (regenerate the README table from it after changing a price).
        """
        assert plan.costs_markdown() in (PROJECT_ROOT / "README.md").read_text()


class TestCleanupCommand:
    """The cleanup command names the target, region and prefix of the plan."""

    def test_command(self):
        """
        1. cleanup_command() for prefix plan-kit in ap-southeast-2.
        2. It is the `helpers clean` command with those three parameters.
        """
        assert plan.cleanup_command(settings(region="ap-southeast-2")) == (
            ".venv/bin/python -m helpers clean -p target aws -p region ap-southeast-2 -p prefix plan-kit")


class TestShow:
    """show(kit) is one displayable object: plan with the real account, costs and the cleanup command."""

    def test_displayable(self, make_kit):
        """
        1. show() a moto Kit.
        2. Its plan names the kit's real bucket; its HTML has both tables; its text ends with the cleanup command.
        """
        kit = make_kit(region="us-east-1", prefix="plan-kit")
        report = plan.show(kit)
        assert kit.names.bucket in report.resources["name"].tolist()
        html = report._repr_html_()
        assert html.count("<table") == 2 and plan.cleanup_command(kit.settings) in html
        assert repr(report).endswith(f"Clean up: {plan.cleanup_command(kit.settings)}")


class TestDryRunCli:
    """`python -m helpers run --dry-run` prints the plan, the costs and the cleanup command, and does nothing else."""

    def test_in_process_nothing_runs(self, aws_env, monkeypatch, capsys):
        """
        1. Make run_series and any boto3 client fail the test; call the CLI with --dry-run on two notebooks.
        2. Exit 0; the output has only those notebooks' resources, the cost table and the cleanup command.
        """
        monkeypatch.setattr(cli, "run_series", lambda *a, **k: pytest.fail("the dry run ran the series"))
        monkeypatch.setattr("boto3.session.Session.client", lambda *a, **k: pytest.fail("the dry run made a client"))
        code = cli.main(["run", "--dry-run", "--notebooks", "01,07", "-p", "target", "aws", "-p", "region",
                         "eu-west-1", "-p", "prefix", "plan-kit", "-p", "run_id", "r1"])
        out = capsys.readouterr().out
        assert code == 0
        assert "notebooks 01, 07 would create 10 resources" in out
        assert "plan-kit-<account>-eu-west-1" in out and "plan-kit-start-training" not in out
        assert "SageMaker endpoint, left running" in out
        assert out.rstrip().endswith(plan.cleanup_command(settings(region="eu-west-1")))

    def test_bad_setting_fails_before_anything(self, aws_env, capsys):
        """
        1. --dry-run with region moon-1.
        2. Exit 1, the error names the region.
        """
        assert cli.main(["run", "--dry-run", "-p", "region", "moon-1"]) == 1
        assert "moon-1" in capsys.readouterr().err

    def test_subprocess_starts_nothing_and_connects_nowhere(self, tmp_path: Path):
        """
        1. Run `python -m helpers run --dry-run -p target aws` under the loopback audit hook, without credentials.
        2. Exit 0; no connection was refused; the runner was the only Python process (no local cloud, no kernel).
        """
        log = tmp_path / "connections.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIPELINE_DREAMS_"))}
        env.update(PYTHONPATH=str(AUDIT_SITE), LOOPBACK_AUDIT_LOG=str(log), AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        result = subprocess.run([sys.executable, "-m", "helpers", "run", "--dry-run", "-p", "target", "aws",
                                 "-p", "region", "us-east-1"], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "would create 46 resources" in result.stdout  # six roles: one per Lambda function
        assert not log.exists()
        assert len(Path(f"{log}.armed").read_text().splitlines()) == 1
