"""Someone else's boto3 script, written the article's way, against ``python -m localcloud``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


class TestArticleScript:
    def test_plain_boto3_script_gets_jobs_run_and_state_machines_succeeded(self, cloud) -> None:
        """A script that knows nothing of the kit.

        1. Run tests/localcloud/article_script.py with only AWS_ENDPOINT_URL and the cloud's keys set (as `localcloud env` prints them)
           (no kit imports, its own region, bucket, role, code and images).
        2. It starts a processing and a training job directly, a Lambda-task state machine and a .sync one;
           it asserts each outcome itself and prints ARTICLE SCRIPT OK at the end.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIPELINE_DREAMS_"))}
        env.update(cloud.script_env, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        result = subprocess.run([sys.executable, str(HERE / "article_script.py"), str(ROOT / "data/iris.data")],
                                env=env, capture_output=True, text=True, timeout=300, cwd=HERE)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        assert "direct jobs: model.tar.gz" in result.stdout
        assert "state machine article-1 SUCCEEDED" in result.stdout
        assert "state machine article-2 SUCCEEDED" in result.stdout
        assert result.stdout.rstrip().endswith("ARTICLE SCRIPT OK")
