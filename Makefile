# The two commands that do everything on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install prereqs demo test test-unit lint bench stack-up stack-down clean lock

# The locked versions first (every file checked against its hash), then the project itself without
# resolving anything again: an install is the same on every machine and in the Docker image. infra/ (the
# local stack and the QBO sandbox) is its own editable development package: the product's wheel does not ship it.
$(BIN)/bottleneck-qbo: pyproject.toml infra/pyproject.toml requirements-dev.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e . -e ./infra
	touch $@

# Re-resolve the lock files after changing dependencies in pyproject.toml (uv, run from PyPI's package).
lock:
	$(PY) -m venv $(VENV)-lock && $(VENV)-lock/bin/pip install -q uv
	$(VENV)-lock/bin/uv pip compile pyproject.toml requirements-build.in --universal --python-version 3.11 \
		--generate-hashes --no-header --quiet -o requirements.lock
	$(VENV)-lock/bin/uv pip compile pyproject.toml requirements-build.in --extra dev --universal --python-version 3.11 \
		--generate-hashes --no-header --quiet -c requirements.lock -o requirements-dev.lock

install: $(BIN)/bottleneck-qbo

# System packages (Debian): PostgreSQL, a JDK 17+ and Maven. Skipped when already present.
prereqs:
	bash infra/install-prereqs.sh

demo: prereqs install
	$(BIN)/bottleneck-qbo demo

# Starts what the tests need (the local stack is started by the test session itself) and runs pytest.
# pytest's exit code 5 ("no tests collected") is a failure here.
test: prereqs install
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

# Lint, format check, types, import contract: each fails on any finding (CI runs this before the tests).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test-unit: install
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

bench: prereqs install
	$(BIN)/bottleneck-qbo bench

stack-up: install
	$(BIN)/bottleneck-qbo stack up

stack-down: install
	$(BIN)/bottleneck-qbo stack down

clean:
	-$(BIN)/bottleneck-qbo stack down
	rm -rf .run
