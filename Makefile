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

# Bad input, the long way (RELIABILITY.md "Bad input"): a million mutated inputs per
# device decoder, then 100,000 malformed MQTT commands against a live daemon.
fuzz: setup
	$(BIN)/python -m tests.fuzz --inputs 1000000
	ROOMCTL_MALFORMED_COMMANDS=100000 $(BIN)/pytest tests/system/test_malformed_commands.py \
		-q -s -p no:cacheprovider --timeout=1800

# Faults and soak, the long way (RELIABILITY.md "Faults", "Soak"): 100 unplug cycles
# of each device and 20 broker kills (figures appended to $(SOAK_OUT)/faults.jsonl),
# the daemon SIGKILLed 10 times in one session, then 12 hours of a session compressed 45 times (about 16 min).
SOAK_OUT ?= /tmp/roomctl-soak-figures
soak: setup
	mkdir -p $(SOAK_OUT)
	ROOMCTL_UNPLUG_CYCLES=100 ROOMCTL_BROKER_KILLS=20 \
		ROOMCTL_FAULT_REPORT=$(SOAK_OUT)/faults.jsonl \
		$(BIN)/pytest tests/faults -q -p no:cacheprovider
	ROOMCTL_SIGKILLS=10 $(BIN)/pytest tests/system/test_crash_resume.py -k repeated_sigkills \
		-q -s -p no:cacheprovider --timeout=600
	$(BIN)/python -m bench.soak --hours 12 --speed 45 --out $(SOAK_OUT)/soak.json

clean:
	rm -rf $(VENV) .coverage .coverage.* htmlcov .mypy_cache .ruff_cache
