# Two commands: `make run` (the service with its embedded simulated arrays) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# uv installs the same packages as pip from the same registry in about 40 s instead of about
# 150 s (measured on a 2-core machine, both with bytecode compiled); pip is the fallback when
# uv cannot be had.
UV     := $(VENV)/bin/uv
# (EXTRAS is set per target below.)
INSTALL = { $(PIP) install uv && $(UV) pip install --python $(PY) -q --compile-bytecode -e '.[$(EXTRAS)]'; } \
          || $(PIP) install -e '.[$(EXTRAS)]'

.PHONY: run test install install-test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: EXTRAS = delfin,notebook
$(VENV)/.installed: pyproject.toml | $(PY)
	@echo "installing into $(VENV): Ray, pyarrow, Delfin's drivers, notebook libraries (under a minute the first time) ..."
	$(INSTALL)
	@echo "installed; the CLI is $(VENV)/bin/delfin-dm"
	touch $@

$(VENV)/.installed-test: EXTRAS = test,delfin,notebook
$(VENV)/.installed-test: pyproject.toml | $(PY)
	@echo "installing into $(VENV) with the test tools (under a minute the first time) ..."
	$(INSTALL)
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/delfin-dm up --with-simulator $(ARGS)

# The suite in two lanes side by side, two pytest processes at most (tests/run_split.py says how
# they are split); PYTEST_ARGS go to every step, e.g. `make test PYTEST_ARGS="-k registration"`.
test: install-test
	$(PY) tests/run_split.py $(PYTEST_ARGS)

$(VENV)/.installed-bench: EXTRAS = test,delfin,notebook,bench
$(VENV)/.installed-bench: pyproject.toml | $(PY)
	$(INSTALL)
	touch $@ $(VENV)/.installed $(VENV)/.installed-test

bench: $(VENV)/.installed-bench
	$(PY) -m bench.run_all $(BENCH)

clean:
	rm -rf $(VENV) build *.egg-info
