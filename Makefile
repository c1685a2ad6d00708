# Thin wrappers; every target sets up what it needs on a clean machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LAB_ARGS ?=
LAB_DIR ?= course
PYTEST_ARGS ?=

.PHONY: setup lab release handout test lint grade bench bench-grading lock clean

setup: $(STAMP)

# The virtual environment is rebuilt whenever the lock or the package metadata changes. (setuptools warns about every
# editable install of a project with a package at its root, grader/: expected here, so that warning is silenced.)
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24" "setuptools>=77"
	$(BIN)/pip install --quiet --require-virtualenv -r requirements.lock
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Jupyter refuses to run as root unless told; containers and CI runners often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# No "get Jupyter news?" prompt and no update check on first start (JupyterLab's notification settings).
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

## Start JupyterLab on the student notebooks (e.g. make lab LAB_ARGS="--no-browser --port 9000"; LAB_DIR=solutions
## for the instructor's versions).
lab: setup $(LAB_SETTINGS)
	$(BIN)/jupyter lab --notebook-dir=$(LAB_DIR) $(ROOT_FLAG) \
		--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate $(LAB_ARGS)

$(LAB_SETTINGS): $(STAMP)
	mkdir -p $(dir $@)
	echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@

## Regenerate course/ (student versions) from solutions/ with nbgrader generate_assignment.
release: setup
	$(BIN)/python -m grader release

## The student hand-out (course/ and the library without the answers): make handout HANDOUT=handout
HANDOUT ?= handout
handout: setup
	$(BIN)/python -m grader handout --out $(HANDOUT)

## The whole test suite (what CI runs).
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

## Grade a folder of submissions (or an LMS zip): make grade SUBMISSIONS=path/to/submitted OUT=grading
## GRADE_ARGS="--jobs 4 --fast" (see python -m grader grade --help)
SUBMISSIONS ?= submitted
OUT ?= grading
GRADE_ARGS ?=
grade: setup
	$(BIN)/python -m grader grade $(SUBMISSIONS) --out $(OUT) $(GRADE_ARGS)

## Grading throughput: plain nbgrader, this grader with 1 and 2 jobs, a 2-worker Dask cluster, the fast mode.
bench-grading: setup
	$(BIN)/python benchmarks/bench_grading.py

bench: setup
	$(BIN)/python benchmarks/bench_notebooks.py
	$(BIN)/python benchmarks/bench_sliders.py
	$(BIN)/python benchmarks/bench_train.py --device cpu

## Re-pin every dependency after editing pyproject.toml (then update environment.yml to match).
lock:
	rm -rf /tmp/dlcourse-lock && $(PYTHON) -m venv /tmp/dlcourse-lock
	/tmp/dlcourse-lock/bin/pip install --quiet ".[course,dev]"
	{ head -n 2 requirements.lock; /tmp/dlcourse-lock/bin/pip freeze --exclude-editable | grep -v '^dlcourse' | sed 's/+cpu$$//'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	{ head -n 8 environment.yml; grep -v '^#' requirements.lock | grep . | sed 's/^/      - /'; } > environment.yml.new
	mv environment.yml.new environment.yml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
