# groupkey: group key management for fleets of constrained IoT devices.
# The two commands the README promises: `make demo` and `make test`.
# Each does its own whole setup (apt packages when missing, .venv with pinned packages).

VENV       ?= .venv
PY         := $(VENV)/bin/python
MPY        := $(VENV)/bin/micropython
PYTEST     := $(VENV)/bin/pytest
RUFF       := $(VENV)/bin/ruff
PORT       ?= /dev/ttyUSB0
PYTEST_ARGS ?=

.PHONY: all setup hardware-setup test lint unit bench bench-instructions demo flash bench-board clean help

all: test

help:
	@echo "make test                 setup + lint + every test (CPython and MicroPython)"
	@echo "make demo                 the end-to-end demo"
	@echo "make bench                benchmarks (table + JSON lines)"
	@echo "make bench-instructions   MicroPython instruction counts under valgrind/callgrind"
	@echo "make flash PORT=...       precompile and copy the firmware to a real ESP32 (ROMFS=1: code in flash)"

setup: $(VENV)/.requirements.sha256

$(VENV)/.requirements.sha256: requirements.txt scripts/setup.sh
	./scripts/setup.sh

lint: setup
	$(RUFF) check .

unit: setup
	$(PYTEST) $(PYTEST_ARGS)

test: setup lint unit

bench: setup
	$(PY) -m bench.run

bench-instructions: setup
	WANT_VALGRIND=1 ./scripts/setup.sh
	$(PY) -m bench.instructions

# Mosquitto, three ledger nodes, the gateway and 8 emulated MicroPython devices (docs/gateway.md)
demo: setup
	$(PY) scripts/demo.py $(DEMO_ARGS)

# Tools for real boards (esptool, bleak), pinned in requirements-hardware.txt (mpremote is in
# requirements.txt);
# installed only when a hardware target runs, re-installed only when that file changes.
$(VENV)/.hardware.stamp: requirements-hardware.txt $(VENV)/.requirements.sha256
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-hardware.txt
	touch $@

hardware-setup: setup $(VENV)/.hardware.stamp

# Real boards (hardware/README.md). CONFIG=device.json installs a device configuration.
flash: hardware-setup
	$(PY) hardware/flash.py --port $(PORT) $(if $(CONFIG),--config $(CONFIG)) $(if $(ROMFS),--romfs)

bench-board: hardware-setup
	$(PY) hardware/bench_board.py --port $(PORT)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
