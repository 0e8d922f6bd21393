# The two commands of the README: `make demo` (the whole orchestration, locally) and `make test`.
# Each sets up what it needs in .venv first, so both work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint clean-venv

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.runtime-installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Set-up only (for deploying to AWS without running the demo or the tests): .venv with the runtime needs.
setup: $(VENV)/.runtime-installed

demo: $(VENV)/.runtime-installed
	$(BIN)/pynt demo

test: $(VENV)/.dev-installed
	$(BIN)/pytest -n 2 --dist loadgroup

lint: $(VENV)/.dev-installed
	$(BIN)/pynt lint

clean-venv:
	rm -rf $(VENV)
