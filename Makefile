# `make demo` and `make test` each create .venv and install aelab into it on first use.
VENV   ?= .venv
PYTHON ?= python3
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-slow lint docs install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[test,export,milvus,tensorboard]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/aelab demo

# the fast suite; tests marked slow run in `make test-slow` (CI runs both)
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m slow

# style and layers: ruff (lint + format) and the import-linter contracts in pyproject.toml
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks docs/hooks
	$(VENV)/bin/ruff format --check src tests benchmarks docs/hooks
	$(VENV)/bin/lint-imports

# the documentation site into site/, offline; --strict: a broken link or a missing reference fails
DOCS_STAMP := $(VENV)/.docs-stamp
$(DOCS_STAMP): $(STAMP)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) .pytest_cache site
