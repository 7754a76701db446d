# Pipeline Dreams: `make run` runs the whole series offline, `make test` runs the whole suite.
# Both set everything up on a fresh machine (only Python 3.11, 3.12 or 3.13 and the package registry are needed).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
LAB_VENV  := .venv-lab
LAB_STAMP := $(LAB_VENV)/.installed-$(shell cat requirements-lab.lock | cksum | cut -d' ' -f1)
# make lab's cloud port: 0 picks a free one (a fixed port is easy for a web page to guess)
LAB_PORT  ?= 0
PYTEST := $(PY) -m pytest -p no:cacheprovider
# make test's pytest-xdist workers (each has a local cloud of its own). loadgroup keeps a test module, and all the
# notebooks nbval checks, on one worker in order; conftest.py names the groups and hands out the longest first.
TEST_WORKERS  ?= 2
TEST_PARALLEL := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

.PHONY: venv run test lab notebooks lint lock clean bench handout chromium

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else "Python 3.11, 3.12 or 3.13 is needed (this is %d.%d); set PYTHON=python3.12, for example" % sys.version_info[:2])'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) -m localcloud.client.aws_urls > /dev/null  # the venv's .pth: SDK code's AWS URLs reach the local cloud
	touch $@

## run: the notebook series 01-08 offline, executed into runs/<run-id>/, with a summary
run: venv
	$(PY) -m helpers run

## test: unit tests, the local cloud's behaviour, nbval over every notebook, the end-to-end series (TEST_WORKERS=2 processes)
test: venv $(LAB_STAMP)
	$(PYTEST) $(TEST_PARALLEL) tests notebooks --nbval --nbval-sanitize-with tests/notebooks/sanitize.cfg --nbval-current-env

## notebooks: re-execute every committed notebook in place (01-08, then 99_cleanup) with their default parameters
notebooks: venv
	$(PY) -m helpers run --out notebooks --no-parameters --cleanup

## lab: JupyterLab wired to a local cloud on 127.0.0.1 (a free port; LAB_PORT=N picks one; CLOUD_ARGS="..." adds cloud options) (Ctrl-C stops both)
lab: venv $(LAB_STAMP)
	bash scripts/lab.sh $(PY) $(LAB_VENV) $(LAB_PORT)

$(LAB_STAMP): requirements-lab.lock
	rm -rf $(LAB_VENV)
	$(PYTHON) -m venv $(LAB_VENV)
	$(LAB_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-lab.lock
	touch $@

## handout: a static, offline HTML handout of the executed notebooks in build/handout/ (open index.html)
handout: $(LAB_STAMP)
	$(LAB_VENV)/bin/python scripts/handout.py --out build/handout

## chromium: Debian's chromium for tests/handout (apt-get, only when missing; the handout tests run it themselves)
chromium:
	bash scripts/ensure_chromium.sh

## bench: print the benchmark figures (never asserted): local cloud (jobs warm and --cold-jobs), series 01-05 vs its floor (and with cold jobs), data scale, the SageMaker SDK's train()/run() beside boto3's; then the goals in one table
bench: venv
	@mkdir -p build && rm -f build/bench-goals.jsonl
	BENCH_GOALS=build/bench-goals.jsonl $(PY) bench/localcloud_bench.py
	BENCH_GOALS=build/bench-goals.jsonl $(PY) bench/series_bench.py --cold --repeat 3
	BENCH_GOALS=build/bench-goals.jsonl $(PY) bench/scale_bench.py
	BENCH_GOALS=build/bench-goals.jsonl $(PY) bench/sdk_bench.py
	$(PY) bench/summary.py build/bench-goals.jsonl

## lint: the Dockerfiles with hadolint
lint: venv
	$(VENV)/bin/hadolint docker/*/Dockerfile

## lock: refresh requirements.lock from the current .venv (after changing a pin in pyproject.toml)
lock:
	{ echo '# Every package of the run and test environment, pinned (pip freeze of .venv; `make lock` refreshes it).'; \
	  $(PY) -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^-e'; } > requirements.lock

clean:
	rm -rf $(VENV) $(LAB_VENV) runs .pytest_cache
