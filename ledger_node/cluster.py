"""Start several ledger nodes on one machine (tests, demo): each its own process, free port on
127.0.0.1, directory, key and database. Used by the quorum/crash tests and by the end-to-end
fixtures.

    nodes = start_cluster(tmp_path, count=3)
    ... nodes[0].url, nodes[0].node_key ...
    stop_cluster(nodes)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ledger_node import config as configuration

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NodeProcess:
    """One `python -m ledger_node serve` subprocess."""

    def __init__(self, name: str, directory: Path, port: int):
        self.name = name
        self.directory = directory
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.config = directory / ("%s.toml" % name)
        self.process: subprocess.Popen | None = None
        self.node_key = b""

    def start(self, timeout: float = 20.0) -> None:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = str(REPO) + os.pathsep + environment.get("PYTHONPATH", "")
        self.log = open(self.directory / ("%s.log" % self.name), "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ledger_node", "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=self.log, env=environment, cwd=str(REPO))
        deadline = time.monotonic() + timeout
        line = self.process.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise RuntimeError("node %s did not start; see %s.log" % (self.name, self.name))
        self.node_key = bytes.fromhex(json.loads(line)["node_key"])

    def kill(self) -> None:
        """SIGKILL: no clean shutdown (crash tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._close()

    def _close(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if getattr(self, "log", None) is not None:
            self.log.close()
            self.log = None


def init_node(directory: Path, name: str, port: int, peers: list[str],
              cosign_interval: float = 0.5) -> NodeProcess:
    """Create key, config and database for one node (like `python -m ledger_node init`)."""
    from groupkey.crypto import rng
    from ledger_node.storage import Storage

    directory.mkdir(parents=True, exist_ok=True)
    configuration.write_key(directory / ("%s.key" % name), rng.random_bytes(32))
    text = configuration.render(name, port, peers).replace(
        "cosign_interval = 2.0", "cosign_interval = %s" % cosign_interval)
    (directory / ("%s.toml" % name)).write_text(text)
    Storage(directory / ("%s.db" % name)).close()
    return NodeProcess(name, directory, port)


def start_cluster(directory: Path, count: int = 3, cosign: bool = True) -> list[NodeProcess]:
    """Init and start ``count`` nodes that know each other as peers."""
    ports = [free_port() for _ in range(count)]
    urls = ["http://127.0.0.1:%d" % port for port in ports]
    nodes = []
    for index, port in enumerate(ports):
        peers = [url for other, url in enumerate(urls) if other != index] if cosign else []
        nodes.append(init_node(Path(directory) / ("node%d" % index), "node%d" % index, port,
                               peers))
    try:
        for node in nodes:
            node.start()
    except BaseException:
        stop_cluster(nodes)
        raise
    return nodes


def stop_cluster(nodes: list[NodeProcess]) -> None:
    for node in nodes:
        node.stop()
