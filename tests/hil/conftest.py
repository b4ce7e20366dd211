"""Hardware-in-the-loop fixtures: the whole system on this machine (gateway.localsystem).

Mosquitto on a free port, three ledger nodes (t = 2), the gateway and N devices. Without
options every device is emulated: ``micropython -X heapsize=<HIL_HEAP>`` running the real
firmware image (build/mpy, mpy-cross output) with the unix board module. With
``--board-port /dev/ttyUSB0 [--board-port ...]`` the first devices are real boards reached
through mpremote (hardware/README.md, "Hardware-in-the-loop tests"); they need
``--broker-host`` (this machine's address on the boards' Wi-Fi).

Run: ``.venv/bin/python -m pytest tests/hil`` (the options are registered when tests/hil is
on the command line).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request

import pytest

from gateway.localsystem import EventProcess, LocalSystem

# Emulated heap: the devices' code is in emulated flash (LocalSystem romfs, D-FW6), but the
# modules' objects take ~107 KB on this 64-bit port, plus the data of a rekey and room against
# fragmentation (docs/firmware.md, decision D-FW7; 256K also passed, 192K does not).
HIL_HEAP = os.environ.get("GROUPKEY_HIL_HEAP", "288K")
GROUP = "hil"
DEVICES = 8


def pytest_addoption(parser):
    group = parser.getgroup("hil", "hardware-in-the-loop")
    group.addoption("--board-port", action="append", default=[],
                    help="serial port of a real ESP32 running the firmware (repeatable)")
    group.addoption("--broker-host", default=None,
                    help="address of this machine as the boards see it")


class BoardSystem(LocalSystem):
    """LocalSystem whose first devices are real boards on serial ports (via mpremote)."""

    def __init__(self, directory, ports, broker_host, **options):
        super().__init__(directory, **options)
        self.ports = dict(zip(self.device_ids, ports))
        self.broker_host = broker_host

    def broker_files(self):
        """Mosquitto listening on every interface: the boards reach it over Wi-Fi (the
        ledger nodes and the gateway stay on 127.0.0.1; devices speak only MQTT)."""
        import getpass

        from gateway import localsystem, mosquitto_config

        return mosquitto_config.write_broker_files(
            self.directory / "broker", self.broker_port, self.passwords,
            (localsystem.GATEWAY_USER, self.gateway_password), bind="0.0.0.0",
            operator=(localsystem.OPERATOR_USER, self.operator_password),
            extra_lines=("user %s" % getpass.getuser(),))

    def device_config(self, device_id):
        config = super().device_config(device_id)
        if device_id in self.ports:
            config["broker_host"] = self.broker_host
            config.pop("flash_dir", None)  # the board's own /state
        return config

    def start_device(self, device_id):
        port = self.ports.get(device_id)
        if port is None:
            return super().start_device(device_id)
        old = self.devices.get(device_id)
        if old is not None:
            old.stop()
        directory = self.directory / "devices" / device_id
        directory.mkdir(parents=True, exist_ok=True)
        config_path = directory / "config.json"
        config_path.write_text(json.dumps(self.device_config(device_id), indent=1))
        argv = ["mpremote", "connect", port, "fs", "cp", str(config_path), ":config.json",
                "+", "soft-reset", "+", "exec", "import main"]
        device = EventProcess(device_id, argv, dict(os.environ), directory,
                              directory / "stderr.log", directory / "stdout.jsonl")
        self.devices[device_id] = device
        return device


def make_system(request, tmp_path_factory, **options):
    """A LocalSystem (or BoardSystem when --board-port is given), not yet started."""
    ports = request.config.getoption("--board-port", default=None) or []
    directory = tmp_path_factory.mktemp("hil")
    options.setdefault("heap", HIL_HEAP)
    if ports:
        host = request.config.getoption("--broker-host", default=None)
        if not host:
            pytest.fail("--board-port needs --broker-host", pytrace=False)
        if shutil.which("mpremote") is None:
            pytest.fail("mpremote not found: pip install -r requirements-hardware.txt",
                        pytrace=False)
        return BoardSystem(directory, ports, host, **options)
    return LocalSystem(directory, **options)


def fetch_group_entry(url, group, sequence):
    """Entry bytes at ``sequence`` of the group log on one node (None: absent/unreachable)."""
    try:
        with urllib.request.urlopen("%s/v1/logs/group/%s/%d" % (
                url, group.encode().hex(), sequence), timeout=5) as answer:
            return bytes.fromhex(json.loads(answer.read())["entry"])
    except (OSError, ValueError, KeyError):
        return None
