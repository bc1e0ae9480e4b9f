# Every target sets itself up from a clean clone: the venv is (re)built when pyproject.toml changes.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shopbench demo

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider

# The report's browser tests need Debian's chromium; install it when we may (root, apt), else they skip.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: chromium could not be installed; the browser tests will be skipped"; }

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples

bench: $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Mutation testing (mutmut), kept out of `test`: docs/mutation.md says how long it takes and why each
# surviving mutant is equivalent. Paths and tests are variables, so other areas run theirs:
#   make mutate MUTATE_PATHS="src/shopbench/driver/outcome.py" MUTATE_TESTS="tests/core/test_driver.py"
# MUTATE_ARGS=--again retests only the mutants that survived the last run (after new tests).
MUTATE_PATHS ?= src/shopbench/checker/ledger/ src/shopbench/checker/verdict.py src/shopbench/checker/expectations.py
MUTATE_TESTS ?= tests/checker tests/resources/test_expectations.py
MUTATE_ARGS ?=
.PHONY: mutate
mutate: $(STAMP)
	$(BIN)/python tools/mutate.py --paths $(MUTATE_PATHS) --tests $(MUTATE_TESTS) $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) results .shopbench
