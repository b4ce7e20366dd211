"""The whole system on one machine: broker, ledger nodes, gateway and emulated devices.

Used by ``make demo`` (scripts/demo.py), the end-to-end tests and bench/e2e.py:

    with LocalSystem(tmp_dir, devices=8, group="demo") as system:
        system.device("dev-01").wait_for("epoch", timeout=60)
        system.kill_gateway(); system.start_gateway()
        system.kill_device("dev-03"); system.start_device("dev-03")
        system.kill_node(1); system.start_node(1)
        system.restart_broker()

Everything listens on 127.0.0.1 on free ports and lives under one directory:

    broker/      mosquitto.conf, hashed passwords, ACL, log (gateway/mosquitto_config.py)
    ledger/      three ledger nodes (ledger_node.cluster, t = 2), each key, TOML, SQLite
    gateway/     gateway.toml and the gateway's stdout (JSON events) / stderr (log)
    devices/<id> config.json, flash/ (the device's durable state), stdout/stderr

Each emulated device is the real firmware, precompiled by mpy-cross as ``make flash`` does for
a board (tests/mpy_build.py), run by the MicroPython unix port with ``-X heapsize=<heap>``. By
default its code is in emulated flash, as on a board (``make flash ROMFS=1``): the .mpy files
are packed into a ROMFS image that tests/micropython_romfs.py holds outside the interpreter's
heap, and the device boots ``rom:main.py`` from it (decision D-FW6).
``GROUPKEY_DEVICE_ROMFS=0`` (or ``romfs=False``) runs ``micropython build/mpy/main.py`` instead,
which loads every module into the heap. The heap default is DEFAULT_DEVICE_HEAP (see
docs/gateway.md, "Emulated heap", for why it is larger than the ESP32's ~96 KB of data:
function objects and data take twice the room on this 64-bit port, and with
``GROUPKEY_DEVICE_ROMFS=0`` the bytecode lives on the heap too). ``GROUPKEY_DEVICE_HEAP``
overrides it.

``stop()`` (also on ``__exit__``, so on Ctrl-C and exceptions) ends every process started
here, by its own pid, devices first.
"""

from __future__ import annotations

import getpass
import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from gateway import mosquitto_config

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DEVICE_HEAP = os.environ.get("GROUPKEY_DEVICE_HEAP", "288K")
DEFAULT_DEVICE_ROMFS = os.environ.get("GROUPKEY_DEVICE_ROMFS", "1") not in ("", "0")
GATEWAY_USER = "gateway"
OPERATOR_USER = "operator"
LEDGER_THRESHOLD = 2
REBOOT_EXIT_CODE = 77


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _stop_process(process: subprocess.Popen | None, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL) one process we started, then wait for it."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=8)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class EventProcess:
    """A subprocess whose stdout carries JSON lines ``{"event": ...}``, read by a thread."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path,
                 stderr_path: Path, stdout_copy: Path | None = None):
        self.name = name
        self.argv = argv
        self.events: list[dict] = []
        self.lock = threading.Condition()
        self.exited = False
        with open(stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr,
                                            env=env, cwd=str(cwd))
        self.stdout_copy = open(stdout_copy, "a") if stdout_copy else None  # noqa: SIM115
        self.lines: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").strip()
            if self.stdout_copy:
                self.stdout_copy.write(line + "\n")
                self.stdout_copy.flush()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                event.setdefault("source", self.name)
                event["host_t"] = time.monotonic()  # arrival on this host: one clock for all
                with self.lock:
                    self.events.append(event)
                    self.lock.notify_all()
        with self.lock:
            self.exited = True
            self.lock.notify_all()

    def named(self, name: str) -> list[dict]:
        """Every event called ``name`` so far."""
        with self.lock:
            return [event for event in self.events if event.get("event") == name]

    def wait_for(self, name: str, timeout: float = 30.0, after: int = 0, predicate=None):
        """The first event ``name`` at index >= ``after`` (matching ``predicate``); raises
        TimeoutError (with the last lines) when none arrives in time."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for event in self.events[after:]:
                    if event.get("event") == name and (predicate is None or predicate(event)):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.exited and self.process.poll() is not None):
                    tail = "\n".join(json.dumps(e) for e in self.events[-15:])
                    raise TimeoutError("%s: no %r event within %.0f s (exit %s)\n%s" % (
                        self.name, name, timeout, self.process.poll(), tail))
                self.lock.wait(min(remaining, 0.5))

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, kill: bool = False) -> None:
        _stop_process(self.process, kill)
        self.reader.join(timeout=5)
        if self.process.stdout:
            self.process.stdout.close()
        if self.stdout_copy:
            self.stdout_copy.close()
            self.stdout_copy = None


class LocalSystem:
    """Mosquitto, three ledger nodes (t = 2), the gateway and N emulated devices."""

    def __init__(self, directory: str | Path, devices: int = 8, group: str = "demo",
                 heap: str = DEFAULT_DEVICE_HEAP, founder: int = 0, start_devices: bool = True,
                 gateway_options: dict | None = None, device_options: dict | None = None,
                 ledger_nodes: int = 3, threshold: int = LEDGER_THRESHOLD,
                 with_gateway: bool = True, romfs: bool = DEFAULT_DEVICE_ROMFS,
                 provision: tuple = ()):
        self.directory = Path(directory).resolve()
        # devices that boot without configuration, in provisioning mode, on a free port of
        # the unix board's loopback stand-in for the BLE radio (provision_device sends them
        # their configuration as the gateway would over BLE; docs/provisioning.md)
        self.provision_ports = {device: free_port() for device in provision}
        self.provisioned: set[str] = set()  # in this run (a kept directory has old files)
        self.group = group
        self.heap = heap
        # romfs: devices run the same .mpy files from an emulated flash partition (ROMFS,
        # tests/micropython_romfs.py), as a board does, instead of loading them into the heap
        self.romfs = romfs
        self.device_ids = ["dev-%02d" % (index + 1) for index in range(devices)]
        self.founder_id = self.device_ids[founder] if devices else None
        self.start_devices_at_start = start_devices
        self.gateway_options = dict(gateway_options or {})
        self.device_options = dict(device_options or {})
        self.ledger_count = ledger_nodes
        self.threshold = threshold
        self.with_gateway = with_gateway
        self.passwords = {device: secrets.token_hex(12) for device in self.device_ids}
        self.gateway_password = secrets.token_hex(12)
        self.operator_password = secrets.token_hex(12)
        self.broker_port = free_port()
        self.broker_process: subprocess.Popen | None = None
        self.nodes: list = []
        self.gateway: EventProcess | None = None
        self.devices: dict[str, EventProcess] = {}
        self.build_dir: Path | None = None
        self.stopping = threading.Event()
        self.reboots: dict[str, int] = {}
        self.supervisor = threading.Thread(target=self._supervise, daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalSystem:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> LocalSystem:
        """Start broker, ledger nodes, gateway and (unless disabled) every device."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.start_broker()
        self.start_ledger()
        if self.with_gateway:
            self.start_gateway()
        if self.start_devices_at_start:
            for device_id in self.device_ids:
                self.start_device(device_id)
        self.supervisor.start()
        return self

    def _supervise(self) -> None:
        """Restart a device that exits with the unix board's reboot code (77), as a board
        comes back after machine.reset()."""
        while not self.stopping.wait(0.5):
            for device_id, device in list(self.devices.items()):
                if device.process.poll() == REBOOT_EXIT_CODE and not self.stopping.is_set():
                    self.reboots[device_id] = self.reboots.get(device_id, 0) + 1
                    old_events = device.events
                    restarted = self.start_device(device_id)
                    with restarted.lock:
                        restarted.events[:0] = old_events  # one history per device

    def stop(self) -> None:
        """Stop every process this object started (devices, gateway, nodes, broker)."""
        self.stopping.set()
        for device in list(self.devices.values()):
            device.stop(kill=True)
        if self.gateway is not None:
            self.gateway.stop()
        for node in self.nodes:
            node.stop()
        _stop_process(self.broker_process)

    # --------------------------------------------------------------------- broker
    def broker_files(self) -> dict[str, Path]:
        return mosquitto_config.write_broker_files(
            self.directory / "broker", self.broker_port, self.passwords,
            (GATEWAY_USER, self.gateway_password), operator=(OPERATOR_USER,
                                                             self.operator_password),
            extra_lines=("user %s" % getpass.getuser(),))

    def start_broker(self, timeout: float = 10.0) -> None:
        """Start Mosquitto (same port after a restart) and wait until it accepts."""
        files = self.broker_files()
        with open(self.directory / "broker" / "stderr.log", "ab") as stderr:
            self.broker_process = subprocess.Popen(
                [mosquitto_binary(), "-c", str(files["config"])], stdout=subprocess.DEVNULL,
                stderr=stderr)
        deadline = time.monotonic() + timeout
        while not port_open(self.broker_port):
            if self.broker_process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start; see %s" % (
                    self.directory / "broker"))
            time.sleep(0.05)

    def kill_broker(self) -> None:
        _stop_process(self.broker_process, kill=True)

    def restart_broker(self, pause: float = 0.0) -> None:
        _stop_process(self.broker_process)
        time.sleep(pause)
        self.start_broker()

    # --------------------------------------------------------------------- ledger
    def start_ledger(self) -> None:
        from ledger_node.cluster import start_cluster

        self.nodes = start_cluster(self.directory / "ledger", self.ledger_count)

    def ledger_urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def ledger_keys(self) -> list[bytes]:
        return [node.node_key for node in self.nodes]

    def kill_node(self, index: int) -> None:
        self.nodes[index].kill()

    def start_node(self, index: int) -> None:
        self.nodes[index].start()

    # -------------------------------------------------------------------- gateway
    def gateway_config(self) -> Path:
        """Write gateway/gateway.toml for this system; return its path."""
        directory = self.directory / "gateway"
        directory.mkdir(parents=True, exist_ok=True)
        options = {"batch_window_ms": 200, "presence_grace_s": 30.0, "sponsor_timeout_s": 20.0}
        options.update(self.gateway_options)
        rounds = {key.split(".", 1)[1]: options.pop(key) for key in list(options)
                  if key.startswith("rounds.")}
        lines = [
            "[mqtt]", 'host = "127.0.0.1"', "port = %d" % self.broker_port,
            'username = "%s"' % GATEWAY_USER, 'password = "%s"' % self.gateway_password, "",
            "[ledger]", "urls = [%s]" % ", ".join('"%s"' % url for url in self.ledger_urls()),
            "threshold = %d" % self.threshold, "",
            "[groups]", 'names = ["%s"]' % self.group, "",
            "[timing]",
        ]
        lines += ["%s = %s" % (key, _toml(value)) for key, value in sorted(options.items())]
        lines += ["", "[rounds]"]
        lines += ["%s = %s" % (key, _toml(value)) for key, value in sorted(rounds.items())]
        lines += ["", "[logging]", 'level = "INFO"', "events = true", ""]
        path = directory / "gateway.toml"
        path.write_text("\n".join(lines))
        path.chmod(0o600)
        return path

    def start_gateway(self) -> EventProcess:
        """Start ``python -m gateway --config gateway.toml`` (JSON events on stdout)."""
        config = self.gateway_config()
        environment = dict(os.environ)
        environment["PYTHONPATH"] = str(REPO) + os.pathsep + environment.get("PYTHONPATH", "")
        self.gateway = EventProcess(
            "gateway", [sys.executable, "-m", "gateway", "--config", str(config)],
            environment, REPO, config.parent / "gateway.log", config.parent / "events.jsonl")
        self.gateway.wait_for("ready", timeout=30)
        return self.gateway

    def kill_gateway(self) -> None:
        if self.gateway is not None:
            self.gateway.stop(kill=True)

    # -------------------------------------------------------------------- devices
    def device_config(self, device_id: str) -> dict:
        """The config.json of one device (keys: docs/e2e.md, firmware/app/config.py)."""
        directory = self.directory / "devices" / device_id
        config = {
            "device_id": device_id, "group_id": self.group,
            "broker_host": "127.0.0.1", "broker_port": self.broker_port,
            "mqtt_password": self.passwords[device_id],
            "ledger_keys": [key.hex() for key in self.ledger_keys()],
            "ledger_threshold": self.threshold,
            "founder": device_id == self.founder_id,
            "flash_dir": str(directory / "flash"),
            "keepalive_s": 30, "heartbeat_s": 30, "backoff_min_ms": 200,
            "backoff_max_ms": 3000,
        }
        config.update(self.device_options)
        return config

    def start_device(self, device_id: str) -> EventProcess:
        """Start (or restart: same flash) one emulated device."""
        from tests.mpy_build import build, mpy_cross_binary  # noqa: F401 (fails early)

        if self.build_dir is None:
            self.build_dir = build()
        old = self.devices.get(device_id)
        if old is not None:
            old.stop(kill=True)
        directory = self.directory / "devices" / device_id
        (directory / "flash").mkdir(parents=True, exist_ok=True)
        config_path = directory / "config.json"
        if device_id not in self.provision_ports:
            config_path.write_text(json.dumps(self.device_config(device_id), indent=1))
        elif device_id not in self.provisioned:  # a fresh board; then it keeps its file
            config_path.write_text(json.dumps({
                "provision": True, "device_id": device_id, "provision_linger_ms": 500,
                "provision_port": self.provision_ports[device_id]}))
        environment = dict(os.environ)
        environment["MICROPYPATH"] = os.pathsep.join([str(self.build_dir), ".frozen"])
        argv = [micropython_binary(), "-X", "heapsize=%s" % self.heap,
                str(self.build_dir / "main.py"), str(config_path)]
        if self.romfs:
            from tests.mpy_build import build_romfs

            environment["MICROPYPATH"] = ".frozen"  # everything else from /rom
            argv = [sys.executable, str(REPO / "tests" / "micropython_romfs.py"),
                    str(build_romfs()), "-X", "heapsize=%s" % self.heap, "rom:main.py",
                    str(config_path)]
        device = EventProcess(device_id, argv, environment, directory,
                              directory / "stderr.log", directory / "stdout.jsonl")
        self.devices[device_id] = device
        return device

    def device(self, device_id: str) -> EventProcess:
        return self.devices[device_id]

    def provision_device(self, device_id: str, timeout: float = 60.0) -> dict:
        """Send a device in provisioning mode its configuration (device_config) the way the
        gateway does over BLE, through the loopback link (gateway/provision.py SocketLink),
        with the pairing code and checking the fingerprint the device printed; returns
        {"did", "identity", "fingerprint"}. The device then reboots into normal operation
        (the supervisor restarts it with the stored configuration)."""
        import asyncio

        from gateway import provision

        offered = self.wait_device(device_id, "provisioning", timeout=timeout)["detail"]
        config = json.dumps(self.device_config(device_id), sort_keys=True).encode()

        async def run():
            link = provision.SocketLink("127.0.0.1", self.provision_ports[device_id])
            await link.connect(timeout)
            try:
                return await provision.provision(link, config, offered["pairing_code"],
                                                 offered["fingerprint"], timeout)
            finally:
                await link.close()

        result = asyncio.run(run())
        self.provisioned.add(device_id)  # before its reboot: restarted with the stored file
        return result

    def wait_device(self, device_id: str, name: str, timeout: float = 30.0, after: int = 0,
                    predicate=None) -> dict:
        """EventProcess.wait_for on a device, following its reboots: a device that exits with
        the reboot code (e.g. ``heap_reboot``: a heap too fragmented to make progress) is
        restarted by the supervisor with its event history, and the wait goes on there."""
        deadline = time.monotonic() + timeout
        while True:
            device = self.devices[device_id]
            try:
                return device.wait_for(name, max(0.0, deadline - time.monotonic()), after,
                                       predicate)
            except TimeoutError:
                if device.process.poll() != REBOOT_EXIT_CODE or self.stopping.is_set():
                    raise
            while self.devices[device_id] is device and time.monotonic() < deadline:
                time.sleep(0.1)  # the supervisor restarts it within ~0.5 s
            if self.devices[device_id] is device:
                raise TimeoutError("%s: rebooted and not restarted within %.0f s" % (
                    device_id, timeout))

    def kill_device(self, device_id: str) -> None:
        """SIGKILL: power loss (the broker publishes its last will)."""
        self.devices[device_id].stop(kill=True)

    def add_device(self, device_id: str) -> str:
        """A new device id with credentials; the broker files are rewritten and the broker
        reloads them (SIGHUP). Start it with ``start_device``."""
        self.device_ids.append(device_id)
        self.passwords[device_id] = secrets.token_hex(12)
        self.broker_files()
        if self.broker_process is not None:
            self.broker_process.send_signal(signal.SIGHUP)
            time.sleep(0.3)
        return device_id

    # ------------------------------------------------------------------- operator
    def operator_settings(self) -> dict:
        """What gateway.operator.Operator needs to connect for this system."""
        return {"host": "127.0.0.1", "port": self.broker_port, "username": OPERATOR_USER,
                "password": self.operator_password, "group": self.group,
                "ledger_keys": self.ledger_keys(), "threshold": self.threshold,
                "ledger_urls": self.ledger_urls()}


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def mosquitto_binary() -> str:
    """Path of the mosquitto broker (Debian package mosquitto)."""
    import shutil

    for candidate in ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        found = shutil.which(candidate)
        if found:
            return found
    raise FileNotFoundError("mosquitto not found (make setup installs it)")


def micropython_binary() -> str:
    """The MicroPython unix port of the venv."""
    candidate = Path(sys.executable).parent / "micropython"
    if candidate.exists():
        return str(candidate)
    return str(REPO / ".venv" / "bin" / "micropython")
