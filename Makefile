# Two commands: `make run` (the service with its embedded simulated arrays) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test install install-test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	@echo "installing into $(VENV): Ray, pyarrow, Delfin's drivers, notebook libraries (about 2 minutes the first time) ..."
	$(PIP) install -e '.[delfin,notebook]'
	@echo "installed; the CLI is $(VENV)/bin/delfin-dm"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	@echo "installing into $(VENV) with the test tools (about 2 minutes the first time) ..."
	$(PIP) install -e '.[test,delfin,notebook]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/delfin-dm up --with-simulator $(ARGS)

# The suite in two lanes side by side, two pytest processes at most (tests/run_split.py says how
# they are split); PYTEST_ARGS go to every step, e.g. `make test PYTEST_ARGS="-k registration"`.
test: install-test
	$(PY) tests/run_split.py $(PYTEST_ARGS)

$(VENV)/.installed-bench: pyproject.toml | $(PY)
	$(PIP) install -e '.[test,delfin,notebook,bench]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-test

bench: $(VENV)/.installed-bench
	$(PY) -m bench.run_all $(BENCH)

clean:
	rm -rf $(VENV) build *.egg-info
