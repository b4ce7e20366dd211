"""A real Mosquitto broker for tests: free port on 127.0.0.1, generated config in a tmp dir.

    broker = Broker(tmp_path)        # or the ``mosquitto`` fixture in tests/test_mqtt_*.py
    broker.start()                   # waits until the port accepts connections
    broker.restart()                 # same port, e.g. to test client reconnection
    broker.stop()

``users`` (name -> password) and ``acl`` (text of a Mosquitto ACL file) turn on
authentication and authorization; the password file is written with ``mosquitto_passwd``.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from gateway.localsystem import free_port, port_open  # noqa: F401  (re-exported for tests)

MOSQUITTO_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def mosquitto_binary(name: str = "mosquitto") -> str:
    """Path of a Mosquitto tool; fails the test (never skips) when it is missing."""
    for candidate in (name, "/usr/sbin/" + name, "/usr/bin/" + name):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail("%s not found: run `make test` (scripts/setup.sh installs it)" % name,
                pytrace=False)
    raise AssertionError  # unreachable; pytest.fail raises


def run_as_me() -> str:
    """Config line keeping Mosquitto under our user: as root it would switch to user
    "mosquitto", which cannot read or write pytest's private tmp dirs."""
    return "user %s" % getpass.getuser()


class Broker:
    """One Mosquitto process with a config generated under ``directory``."""

    def __init__(self, directory: Path, users: dict[str, str] | None = None,
                 acl: str | None = None, port: int | None = None,
                 config_path: Path | None = None):
        """Generate a config (anonymous, or ``users`` + ``acl``), or use ``config_path`` as
        written by gateway/mosquitto_config.py (its listener must be ``port``; add
        ``run_as_me()`` to its lines when running as root)."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.users = users
        self.acl = acl
        self.process: subprocess.Popen | None = None
        self.log_path = self.directory / "mosquitto.log"
        if config_path is not None:
            self.config_path = Path(config_path)
        else:
            self.config_path = self.directory / "mosquitto.conf"
            self._write_config()

    def _write_config(self) -> None:
        lines = [
            "listener %d 127.0.0.1" % self.port,
            "persistence false",
            "log_dest file %s" % self.log_path,
            "log_type all",
            "connection_messages true",
            run_as_me(),
        ]
        if self.users is None:
            lines.append("allow_anonymous true")
        else:
            password_file = self.directory / "passwords"
            password_file.write_text(
                "".join("%s:%s\n" % (name, secret) for name, secret in self.users.items()))
            subprocess.run([mosquitto_binary("mosquitto_passwd"), "-U", str(password_file)],
                           check=True, capture_output=True)
            password_file.chmod(0o600)
            lines += ["allow_anonymous false", "password_file %s" % password_file]
        if self.acl is not None:
            acl_file = self.directory / "acl"
            acl_file.write_text(self.acl)
            acl_file.chmod(0o600)
            lines.append("acl_file %s" % acl_file)
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 10.0) -> Broker:
        """Start the broker and wait until it accepts TCP connections."""
        if self.process is not None:
            raise RuntimeError("broker already running")
        self.process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("mosquitto exited %s: %s\n%s" % (
                    self.process.returncode, self.process.stderr.read().decode(errors="replace"),
                    self.log()))
            if port_open(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("mosquitto did not open port %d in %.0f s" % (self.port, timeout))

    def stop(self) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL) and wait for it."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr:
            process.stderr.close()

    def restart(self, pause: float = 0.0) -> None:
        """Stop, optionally stay down ``pause`` seconds, start again on the same port."""
        self.stop()
        time.sleep(pause)
        self.start()

    def log(self) -> str:
        """The broker's log so far (for assertion messages)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@pytest.fixture
def mosquitto(tmp_path):
    """A started anonymous broker; stopped after the test."""
    broker = Broker(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()
