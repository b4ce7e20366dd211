"""Node configuration (TOML, read with tomllib).

    [node]
    name = "node-a"
    database = "node-a.db"          # relative paths are relative to the config file
    key_file = "node-a.key"         # 32-byte Ed25519 seed, hex, mode 0600
    [api]
    host = "127.0.0.1"
    port = 8701
    [storage]
    batch_max = 256                 # entries per fsync + checkpoint signature
    synchronous = "FULL"
    [peers]
    urls = ["http://127.0.0.1:8702"]
    cosign_interval = 2.0           # seconds between peer checkpoint cosigning rounds
    [logging]
    level = "INFO"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

DEFAULTS = {
    "node": {"name": "ledger", "database": "ledger.db", "key_file": "ledger.key"},
    "api": {"host": "127.0.0.1", "port": 8701},
    "storage": {"batch_max": 256, "synchronous": "FULL"},
    "peers": {"urls": [], "cosign_interval": 2.0},
    "logging": {"level": "INFO"},
}


class Config:
    """Parsed configuration with paths resolved against the config file's directory."""

    def __init__(self, data: dict, base: Path):
        merged = {section: dict(values) for section, values in DEFAULTS.items()}
        for section, values in data.items():
            merged.setdefault(section, {}).update(values)
        self.data = merged
        self.base = base
        self.name: str = merged["node"]["name"]
        self.database = self._path(merged["node"]["database"])
        self.key_file = self._path(merged["node"]["key_file"])
        self.host: str = merged["api"]["host"]
        self.port: int = int(merged["api"]["port"])
        self.batch_max: int = int(merged["storage"]["batch_max"])
        self.synchronous: str = str(merged["storage"]["synchronous"]).upper()
        if self.synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError("storage.synchronous must be FULL, EXTRA or NORMAL")
        self.peers: list[str] = list(merged["peers"]["urls"])
        self.cosign_interval = float(merged["peers"]["cosign_interval"])
        self.log_level: str = merged["logging"]["level"]

    def _path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.base / path

    def seed(self) -> bytes:
        """The node's signing seed from ``key_file``."""
        seed = bytes.fromhex(self.key_file.read_text().strip())
        if len(seed) != 32:
            raise ValueError("key file must hold 32 bytes in hex")
        return seed


def load(path: str | Path) -> Config:
    path = Path(path)
    with path.open("rb") as handle:
        return Config(tomllib.load(handle), path.resolve().parent)


def write_key(path: Path, seed: bytes) -> None:
    """Create the key file readable by the owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(seed.hex() + "\n")


def render(name: str, port: int, peers: list[str]) -> str:
    """A config file text for ``init``."""
    peer_list = ", ".join('"%s"' % url for url in peers)
    return ('[node]\nname = "%s"\ndatabase = "%s.db"\nkey_file = "%s.key"\n\n'
            '[api]\nhost = "127.0.0.1"\nport = %d\n\n[storage]\nbatch_max = 256\n'
            'synchronous = "FULL"\n\n[peers]\nurls = [%s]\ncosign_interval = 2.0\n\n'
            '[logging]\nlevel = "INFO"\n' % (name, name, name, port, peer_list))
