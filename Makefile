# Every target sets itself up from a clean clone: the venv is (re)built when pyproject.toml changes.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean chromium nginx lowest

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shopbench demo

# One pytest worker per core (at most 4): most end-to-end tests wait on real processes and sockets.
test: $(STAMP) chromium nginx
	$(BIN)/python -m pytest -q -p no:cacheprovider -n auto --maxprocesses 4

# The report's browser tests need Debian's chromium; install it when we may (root, apt), else they skip.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: chromium could not be installed; the browser tests will be skipped"; }

# The gateway shop of tests/doctor runs behind Debian's nginx; installed the same way, else those tests skip.
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
	  || echo "warning: nginx could not be installed; the gateway shop tests will be skipped"; }
# The floors in pyproject.toml hold: every direct dependency at the lowest version it allows (uv's
# --resolution lowest-direct; what those pull in resolves as usual), then the fast tests, in a
# private temp folder outside the repository (caches the newer versions wrote, such as compiled
# protos, must not be reused).
LOWEST := .venv-lowest
lowest: $(STAMP)
	rm -rf $(LOWEST)
	$(BIN)/uv venv -q --python $(BIN)/python $(LOWEST)
	$(BIN)/uv pip install -q --python $(LOWEST)/bin/python --resolution lowest-direct -e '.[dev]'
	tmp=$$(mktemp -d) && TMPDIR=$$tmp $(LOWEST)/bin/python -m pytest -q -p no:cacheprovider \
	  -m 'not slow and not browser'; code=$$?; rm -rf $$tmp; exit $$code

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

# The other areas of issue 19 item 7, one scratch directory each (so MUTATE_ARGS=--again works per
# area): `make mutate-rest`, ..., or `make mutate-all` (every area, checker's included, one at a time).
# Paths, tests and the pytest -k filter per area; docs/mutation.md has the scores and the times.
MUTATE_rest_PATHS := src/shopbench/driver/operation.py src/shopbench/driver/transport.py
MUTATE_rest_TESTS := tests/core/test_driver.py tests/core/test_operation_mutants.py tests/core/test_transport_mutants.py
MUTATE_answers_PATHS := src/shopbench/driver/answers.py
MUTATE_answers_TESTS := tests/api/test_answers.py tests/api/test_answers_mutants.py
MUTATE_answers_K := not no_doc_points_outside
MUTATE_grpc_PATHS := src/shopbench/grpc/status.py
MUTATE_grpc_TESTS := tests/grpc/test_status.py
MUTATE_series_PATHS := src/shopbench/report/series_cache.py
MUTATE_series_TESTS := tests/report/test_series_cache.py tests/report/test_series_cache_mutants.py
MUTATE_series_K := not a_consistency_run_writes
MUTATE_landing_PATHS := src/shopbench/processes/landing.py
MUTATE_landing_TESTS := tests/nemesis/test_landing.py tests/nemesis/test_landing_mutants.py
MUTATE_linkcheck_PATHS := src/shopbench/nemesis/linkcheck.py
MUTATE_linkcheck_TESTS := tests/network/test_link_landing.py tests/network/test_linkcheck_mutants.py
MUTATE_statefile_PATHS := src/shopbench/state_file.py
MUTATE_statefile_TESTS := tests/checker tests/scale/test_state_file.py
MUTATE_AREAS := rest answers grpc series landing linkcheck statefile
.PHONY: mutate-all $(addprefix mutate-,$(MUTATE_AREAS))
$(addprefix mutate-,$(MUTATE_AREAS)): mutate-%: $(STAMP)
	$(BIN)/python tools/mutate.py --dir .mutate/$* --paths $(MUTATE_$*_PATHS) --tests $(MUTATE_$*_TESTS) \
	  --pytest-args "-m 'not slow' -p no:cacheprovider -x -q -k '$(MUTATE_$*_K)'" $(MUTATE_ARGS)
mutate-all: mutate $(addprefix mutate-,$(MUTATE_AREAS))

clean:
	rm -rf $(VENV) $(LOWEST) results .shopbench
