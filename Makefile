# simrec: `make demo` sets everything up and runs the quickstart; `make test` runs the fast tests,
# `make test-full` the slow ones and the wheel check.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EXTRAS ?= dev,plots,rl,cf,ray,lm,sensitivity,ope,dp
comma  := ,
# Reinstall when the project metadata, the pins or the extras change.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements/constraints.txt | sha1sum | cut -c1-12)-$(subst $(comma),_,$(EXTRAS))

.PHONY: setup demo test test-full lint wheel-check clean lm-vs-cf

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	# torch, when an extra needs it, must be the CPU build 2.13.0 and come first (a later or unpinned torch pulls the CUDA build).
	case ",$(EXTRAS)," in *,torch,*|*,lm,*|*,rl,*|*,ope,*|*,all,*) \
	  $(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0 ;; esac
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[$(EXTRAS)]'
	rm -f $(VENV)/.installed-*
	touch $@

# One BLAS thread per run: the runs already fill the cores (without it, the quickstart took
# 2 min instead of 44 s here: each worker's numpy started a thread per core).
demo: setup
	OMP_NUM_THREADS=1 $(VENV)/bin/simrec run scenarios/quickstart.yaml --out results/quickstart --resume

# The language-model vs CF study (docs/findings/lm_vs_cf.md): installs the lm-large extra
# (all-mpnet-base-v2), runs the study's three parts into results/lm_vs_cf (resumable: run it
# again after an interruption) and writes the document and its figures from those results.
lm-vs-cf:
	$(MAKE) setup EXTRAS=$(EXTRAS),lm-large
	$(PY) -m simrec_studies.lm_vs_cf all --results results/lm_vs_cf --doc docs/findings/lm_vs_cf.md

# The tests in two tiers. `make test`: every test not marked `slow`, with line coverage of simrec
# and simrec_agents (each must stay >= 90%); none may take over 10 s (tests/conftest.py fails
# the run and names it; SIMREC_TEST_LIMIT_S changes the limit, 0 turns it off). `make
# test-full`: the `slow` tier (the studies, the fuzzers at full size, ...), then the wheel check
# (run even when a slow test failed; the target fails if either did).
PYTEST := OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -q --durations=30
test: setup
	$(PYTEST) -m "not slow" --cov --cov-report=
	@echo "line coverage of simrec (>= 90% required):"
	$(VENV)/bin/coverage report --include='simrec/*' --fail-under=90
	@echo "line coverage of simrec_agents (>= 90% required):"
	$(VENV)/bin/coverage report --include='agents/*' --fail-under=90

test-full: setup
	$(PYTEST) -m slow; status=$$?; $(MAKE) --no-print-directory wheel-check && exit $$status

# Build the wheel, install it (not editable) in a fresh venv outside the source tree and run
# the quickstart's smoke variant from it: proves `pip install .` gives a working simrec.
WHEEL_DIR ?= /tmp/simrec-wheel-check
wheel-check: setup
	rm -rf $(WHEEL_DIR) && mkdir -p $(WHEEL_DIR)
	$(PY) -m pip wheel --no-deps --no-build-isolation --quiet -w $(WHEEL_DIR) .
	$(PYTHON) -m venv $(WHEEL_DIR)/venv
	$(WHEEL_DIR)/venv/bin/python -m pip install --quiet --disable-pip-version-check \
	  -c requirements/constraints.txt "$$(ls $(WHEEL_DIR)/simrec-*.whl)[plots]"
	cd $(WHEEL_DIR) && venv/bin/python -c "import importlib.util as u, simrec_agents; \
	  assert '/site-packages/' in simrec_agents.__file__, simrec_agents.__file__; \
	  assert all(u.find_spec(m) for m in ('simrec.data', 'simrec_agents.rl.slateq', 'simrec_agents.kg.cke', 'simrec_studies.lm_vs_cf'))"
	cd $(WHEEL_DIR) && venv/bin/simrec run $(CURDIR)/scenarios/quickstart.yaml --smoke \
	  --out smoke --no-progress --workers 2
	test -s $(WHEEL_DIR)/smoke/report.md && test -s $(WHEEL_DIR)/smoke/figures/retention.png
	rm -rf $(WHEEL_DIR)

lint: setup
	$(VENV)/bin/ruff check simrec agents studies tests examples
	$(VENV)/bin/ruff format --check simrec agents studies
	$(VENV)/bin/lint-imports
	# mypy follows no import hook: the editable install's simrec_agents is given as a link
	mkdir -p .typecheck && ln -sfn ../agents .typecheck/simrec_agents \
	  && ln -sfn ../studies .typecheck/simrec_studies
	MYPYPATH=.typecheck $(VENV)/bin/mypy

clean:
	rm -rf $(VENV) results .pytest_cache .typecheck .mypy_cache
