# The two commands that do everything on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install prereqs demo test test-unit lint bench stack-up stack-down clean

# The product (editable, with the dev tools) and infra/, the local stack and the QBO sandbox, as its own
# editable development package (the product's wheel does not ship it).
$(BIN)/bottleneck-qbo: pyproject.toml infra/pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]' -e ./infra
	touch $@

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
