"""Scale: the pipeline's two data steps on 10⁴, 10⁵ and 10⁶ rows of synthetic iris-shaped data.

Usage: .venv/bin/python bench/scale_bench.py [--rows 10000,100000,1000000] [--mini-batch-size 1000]
                                             [--cloud-rows 100000 | --cloud-rows 0] [--keep DIR]

For each size it writes a UCI-format CSV (4 features with one decimal, a class name such as
``Iris-setosa``; per-class normal distributions with the real file's means and deviations, balanced
classes, shuffled, seed 0), then runs, each as its own child process as the jobs run them:

  preprocess  ``python src/jobs/preprocess.py --input-dir … --output-dir …``
  train       ``python -m localcloud.sagemaker.algorithms.linear_learner.train --ml-root …`` on an /opt/ml-shaped folder holding
              the preprocess outputs as channels train and test, with the kit's hyperparameters
              (src/lambdas/start_training.py DEFAULT_HYPERPARAMETERS) but mini_batch_size from the flag.

It prints wall seconds and the child's peak RSS per step (GNU ``/usr/bin/time -f %M``), the peak above the
same step's run on the 150-row data/iris.data (the interpreter and its imports), the CSV size and those ÷ CSV.
Goals at 10⁶ rows: preprocess + train ≤ 60 s (issue "Benchmarks"); for each step, the peak above the 150-row
baseline ≤ 3× the CSV (issue 13, "memory at scale").
With --cloud-rows N it also runs the same two steps as local-cloud processing and training jobs on N rows
(S3 up/download, job folder, logs included) to show the job overhead at that size.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (REGION, ROOT, TIME, kit_hyperparameters, load_note, machine_line, processing_request, report_goal,  # noqa: E402
                     run_measured, training_request, wait_job, write_ml_root)

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
GOAL_SECONDS, GOAL_RATIO = 60.0, 3.0

# Where a step's time and memory go: its phases timed in one child, the peak RSS read after each.
_PHASES = r"""
import contextlib, io, json, resource, sys, tempfile, time
from pathlib import Path
step, source, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
marks, last = [], time.perf_counter()
def peak_mb():  # VmHWM is this process's own; ru_maxrss after exec also counts the parent's pages at fork
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def mark(name):
    global last
    now = time.perf_counter()
    marks.append((name, now - last, peak_mb()))
    last = now
if step == "preprocess":
    sys.path.insert(0, sys.argv[4])
    import preprocess as p
    mark("imports")
    raw = p.read_raw(source); mark("read_raw (C reader, in chunks)")
    train, test, meta = p.preprocess(raw); mark("preprocess (split row numbers, fill)")
    p.write_outputs(work, train, test, meta); mark("write_outputs (write_csv, in chunks)")
else:
    from localcloud.sagemaker.algorithms.linear_learner import train as ll
    mark("imports")
    with contextlib.redirect_stdout(io.StringIO()):
        hp, data = ll._load(source); mark("_load (read channels in chunks; features to disk)")
        model = ll._fit(hp, data); mark(f"_fit ({hp['epochs']} epochs, metrics on train each epoch)")
        for channel, (X, y) in data.items():
            ll._metrics(model, X, y)
        mark("final metrics")
print(json.dumps(marks))
"""


def iris_statistics() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per-class feature means and standard deviations of the shipped data/iris.data."""
    frame = pd.read_csv(ROOT / "data/iris.data", header=None, names=[*FEATURES, "species"]).dropna()
    grouped = frame.groupby("species")[FEATURES]
    return list(grouped.mean().index), grouped.mean().to_numpy(), grouped.std().to_numpy()


def write_synthetic(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` lines in the UCI iris format, balanced classes, shuffled; values clipped to ≥ 0.1."""
    classes, means, stds = iris_statistics()
    rng = np.random.default_rng(seed)
    labels = np.resize(np.arange(len(classes)), rows)
    rng.shuffle(labels)
    values = np.clip(rng.normal(means[labels], stds[labels]), 0.1, None).round(1)
    frame = pd.DataFrame(values, columns=FEATURES)
    frame["species"] = np.asarray(classes, dtype=object)[labels]
    frame.to_csv(path, header=False, index=False, float_format="%.1f", lineterminator="\n")


def direct_steps(rows: int, work: Path, mini_batch_size: int,
                 source: Path | None = None) -> list[tuple[str, float, float, int, str]]:
    """Write the data (or copy ``source``), run preprocess then train as children; (step, s, peak MB, exit, log)."""
    raw = work / "raw"
    raw.mkdir(parents=True)
    if source:
        shutil.copyfile(source, raw / "iris.data")
    else:
        write_synthetic(raw / "iris.data", rows)
    out = work / "processed"
    pre = run_measured([str(ROOT / "src/jobs/preprocess.py"), "--input-dir", str(raw), "--output-dir", str(out)])
    results = [("preprocess", pre.seconds, pre.peak_mb, pre.returncode, pre.output)]
    if pre.returncode != 0:
        return results
    ml_root = work / "ml"
    write_ml_root(ml_root, kit_hyperparameters(mini_batch_size=mini_batch_size),
                  out / "train/train.csv", out / "test/test.csv")
    train = run_measured(["-m", "localcloud.sagemaker.algorithms.linear_learner.train", "--ml-root", str(ml_root)])
    results.append(("train", train.seconds, train.peak_mb, train.returncode, train.output))
    return results


def phases(work: Path) -> list[tuple[str, str, float, float]]:
    """(step, phase, seconds, peak MB so far) for the data kept in ``work`` by :func:`direct_steps`."""
    import json
    import subprocess

    rows = []
    for step, source, extra in (("preprocess", work / "raw/iris.data", [str(ROOT / "src/jobs")]),
                                ("train", work / "ml", [])):
        scratch = work / f"phases-{step}"
        scratch.mkdir(exist_ok=True)
        done = subprocess.run([sys.executable, "-c", _PHASES, step, str(source), str(scratch), *extra],
                              capture_output=True, text=True)
        if done.returncode != 0:
            rows.append((step, f"n/a ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode})",
                         float("nan"), float("nan")))
            continue
        rows += [(step, name, seconds, peak) for name, seconds, peak in json.loads(done.stdout.strip().splitlines()[-1])]
    return rows


def cloud_steps(rows: int, work: Path, mini_batch_size: int) -> tuple[float, float]:
    """The same two steps as local-cloud jobs on ``rows`` rows; (processing s, training s) create → Completed."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest_cloud import CloudProcess  # the tests' launcher: python -m localcloud

    raw = work / "cloud-raw"
    raw.mkdir(parents=True)
    write_synthetic(raw / "iris.data", rows)
    cloud = CloudProcess()
    try:
        s3, sm = cloud.client("s3"), cloud.client("sagemaker")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
        # The cloud enforces IAM: a role SageMaker may assume, allowed the bench's bucket and the job logs.
        iam = cloud.client("iam")
        role = iam.create_role(RoleName="bench-scale", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName="bench-scale", PolicyName="bench", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "logs:*"], "Resource": "*"}]}))
        s3.create_bucket(Bucket="bench-scale", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.upload_file(str(raw / "iris.data"), "bench-scale", "raw/iris.data")
        s3.upload_file(str(ROOT / "src/jobs/preprocess.py"), "bench-scale", "code/preprocess.py")
        started = time.perf_counter()
        sm.create_processing_job(**processing_request("scale-pre", role, "bench-scale", "raw/", "code/",
                                                      "s3://bench-scale/processed"))
        wait_job(sm, "processing", "scale-pre")
        processing = time.perf_counter() - started
        started = time.perf_counter()
        sm.create_training_job(**training_request(
            "scale-train", role, kit_hyperparameters(mini_batch_size=mini_batch_size),
            "s3://bench-scale/processed/train/", "s3://bench-scale/processed/test/", "s3://bench-scale/model"))
        wait_job(sm, "training", "scale-train")
        training = time.perf_counter() - started
    finally:
        cloud.stop()
    return processing, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000", help="comma-separated row counts")
    parser.add_argument("--mini-batch-size", type=int, default=1000,
                        help="linear-learner mini_batch_size (the kit's default is 32, for 150 rows)")
    parser.add_argument("--cloud-rows", type=int, default=100000, help="also run the steps as local-cloud jobs (0: no)")
    parser.add_argument("--cloud-repeat", type=int, default=3, help="runs of each, cloud and direct (medians compared)")
    parser.add_argument("--keep", type=Path, help="keep the generated data and outputs in this folder")
    parser.add_argument("--no-phases", action="store_true", help="skip the per-phase breakdown at the largest size")
    args = parser.parse_args()
    sizes = [int(float(part)) for part in args.rows.split(",") if part.strip()]

    print(f"scale bench — {machine_line()}")
    print(f"  {load_note()}; peak RSS from {'GNU /usr/bin/time' if TIME else 'the child itself (ru_maxrss)'}")
    print(f"  hyperparameters: {kit_hyperparameters(mini_batch_size=args.mini_batch_size)}")
    work_root = Path(tempfile.mkdtemp(prefix="pd-scale-")) if not args.keep else args.keep
    work_root.mkdir(parents=True, exist_ok=True)
    table, failed, breakdown = [], [], []
    try:
        # Baseline: the real 150-row data/iris.data, so what a step costs before data (interpreter, imports) shows.
        work = work_root / "baseline"
        shutil.rmtree(work, ignore_errors=True)
        baseline = {step: peak for step, _, peak, _, _ in direct_steps(150, work, args.mini_batch_size,
                                                                        source=ROOT / "data/iris.data")}
        for rows in sizes:
            work = work_root / f"rows-{rows}"
            shutil.rmtree(work, ignore_errors=True)
            steps = direct_steps(rows, work, args.mini_batch_size)
            csv_mb = (work / "raw/iris.data").stat().st_size / 2**20
            for step, seconds, peak, code, output in steps:
                table.append((rows, step, seconds, peak, peak - baseline.get(step, float("nan")), csv_mb))
                if code != 0:
                    failed.append(f"{step} at {rows} rows exited {code}: {output.strip()[-600:]}")
            if len(steps) == 2:
                top = max(steps, key=lambda step: step[2])
                table.append((rows, "preprocess + train", steps[0][1] + steps[1][1], top[2],
                              top[2] - baseline.get(top[0], float("nan")), csv_mb))
            if rows == max(sizes) and not args.no_phases and len(steps) == 2 and not failed:
                breakdown = phases(work)
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)

        print("\nbaseline peak RSS on the 150-row data/iris.data: "
              + ", ".join(f"{step} {peak:.0f} MB" for step, peak in baseline.items())
              + " (interpreter and imports: what any input costs)")
        print(f"\n{'rows':>9}  {'step':<19} {'seconds':>8} {'peak MB':>8} {'−base MB':>8} {'CSV MB':>7} "
              f"{'peak/CSV':>8} {'−base/CSV':>9}")
        for rows, step, seconds, peak, over, csv_mb in table:
            print(f"{rows:>9,}  {step:<19} {seconds:8.2f} {peak:8.0f} {over:8.0f} {csv_mb:7.1f} "
                  f"{peak / csv_mb:8.1f} {over / csv_mb:9.1f}")
        for line in failed:
            print(f"FAILED: {line}")
        if breakdown:
            print(f"\nwhere it goes at {max(sizes):,} rows (phases in one child each; peak RSS so far):")
            for step, phase, seconds, peak in breakdown:
                print(f"  {step:<10} {phase:<52} {seconds:7.2f} s {peak:7.0f} MB")
        goal_rows = {r[1]: r for r in table if r[0] == 1_000_000}
        if "preprocess + train" in goal_rows:
            _, _, seconds, peak, over, csv_mb = goal_rows["preprocess + train"]
            print(f"\ngoal at 10⁶ rows: preprocess + train {seconds:.1f} s (≤ {GOAL_SECONDS:.0f} s: "
                  f"{'met' if seconds <= GOAL_SECONDS else 'NOT met'}); peak {peak:.0f} MB = {peak / csv_mb:.1f}× "
                  f"the {csv_mb:.1f} MB CSV")
            report_goal("10⁶ rows, preprocess + train", f"{seconds:.1f} s", f"≤ {GOAL_SECONDS:.0f} s",
                        seconds <= GOAL_SECONDS)
        for step in ("preprocess", "train"):
            if step in goal_rows:
                _, _, seconds, peak, over, csv_mb = goal_rows[step]
                print(f"goal at 10⁶ rows, {step:<10}: {seconds:5.2f} s, peak {peak:.0f} MB, {over:.0f} MB above the "
                      f"150-row baseline = {over / csv_mb:.1f}× the CSV (≤ {GOAL_RATIO:.0f}×: "
                      f"{'met' if over <= GOAL_RATIO * csv_mb else 'NOT met'})")
                report_goal(f"10⁶ rows, {step}: peak above the 150-row baseline",
                            f"{over:.0f} MB = {over / csv_mb:.1f}× the {csv_mb:.1f} MB CSV ({seconds:.1f} s)",
                            f"≤ {GOAL_RATIO:.0f}× the CSV", over <= GOAL_RATIO * csv_mb)

        if args.cloud_rows:
            import statistics

            direct: dict[str, list[float]] = {"preprocess": [], "train": []}
            cloud: dict[str, list[float]] = {"preprocess": [], "train": []}
            for attempt in range(args.cloud_repeat):
                work = work_root / f"cloud-{attempt}"
                for step, seconds, _, _, _ in direct_steps(args.cloud_rows, work / "direct", args.mini_batch_size):
                    direct[step].append(seconds)
                processing, training = cloud_steps(args.cloud_rows, work, args.mini_batch_size)
                cloud["preprocess"].append(processing)
                cloud["train"].append(training)
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
            print(f"\nthrough the local cloud at {args.cloud_rows:,} rows (create → Completed, S3 transfers included; "
                  f"medians of {args.cloud_repeat}):")
            for step, label, bare in (("preprocess", "processing job", "preprocess.py"),
                                      ("train", "training job  ", "linear_learner")):
                job, plain = statistics.median(cloud[step]), statistics.median(direct[step])
                print(f"  {label} {job:6.2f} s vs {bare} directly {plain:6.2f} s → overhead {job - plain:+.2f} s "
                      f"(runs: job {', '.join(f'{x:.2f}' for x in cloud[step])}; "
                      f"direct {', '.join(f'{x:.2f}' for x in direct[step])})")
    finally:
        if not args.keep:
            shutil.rmtree(work_root, ignore_errors=True)


if __name__ == "__main__":
    main()
