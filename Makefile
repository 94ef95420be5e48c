# roomctl: two commands for a fresh Debian/Ubuntu machine.
#   make demo   sets everything up and runs the demo
#   make test   sets everything up and runs every check and test
# Everything else here is a step of those two, or a longer suite of its own.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SYSTEM_PACKAGES := mosquitto libvlc5 vlc-plugin-base tmux

.PHONY: demo test setup system-deps check pytest bench soak fuzz clean

demo: setup
	$(BIN)/roomctl demo

test: setup check pytest

setup: system-deps $(STAMP)

system-deps:
	@scripts/system-deps $(SYSTEM_PACKAGES)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

check: setup
	scripts/check

pytest: setup
	scripts/test

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .coverage .coverage.* htmlcov .mypy_cache .ruff_cache
