"""A notebook run out of order (or after 99_cleanup) names the notebook to run first, before it creates anything.

05's "function … does not exist yet: run notebooks 02-04 first" is the model: every notebook from 02 on checks what
it builds on in its first cell after the settings (helpers.earlier.require).
"""

from __future__ import annotations

import pytest
from faults_support import NOTHING, new_prefix, owned, run_helpers

# (the notebooks run, the one that must stop, the notebook its message names)
CASES = [
    ("01,03", "03_preprocess", "02_ingest"),
    ("01,04", "04_train", "03_preprocess"),
    ("01,05", "05_stepfunctions", "02_ingest"),
    ("01,06", "06_evaluate", "02_ingest"),
    ("01,07", "07_triggers", "06_evaluate"),
]


class TestOutOfOrder:
    @pytest.mark.slow(8)
    @pytest.mark.parametrize("notebooks, stops, names", CASES, ids=[case[1] for case in CASES])
    def test_the_notebook_names_what_to_run_and_makes_nothing(self, cloud, tmp_path, notebooks, stops, names):
        """
        1. A fresh prefix; `python -m helpers run --notebooks <notebooks>`: a notebook without the ones before it
           (07 used to end in a bare StopIteration after making a role; 04 failed only at its training job).
        2. Exit 1 in that notebook with EarlierNotebookNeeded: "run <the notebook that makes it> first".
        3. Nothing but 01's bucket (and the run's claim) exists: no role, function, repository or state machine.
        """
        prefix = new_prefix("ord")
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--notebooks", notebooks,
                             "-p", "prefix", prefix, "-p", "run_id", "o1", timeout=300)
        assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
        assert f"series FAILED: {stops}.ipynb failed in cell" in result.stderr, result.stderr[-2000:]
        assert "EarlierNotebookNeeded: " in result.stderr and f"run {names} first" in result.stderr, \
            result.stderr[-2000:]
        made = owned(cloud, prefix)
        assert {k: v for k, v in made.items() if k not in ("buckets", "objects")} == \
            {k: v for k, v in NOTHING.items() if k not in ("buckets", "objects")}, made
        assert all(key.endswith(".run-claim.json") for key in made["objects"]), made["objects"]
