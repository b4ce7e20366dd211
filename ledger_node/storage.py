"""SQLite storage of one ledger node: entries in leaf order, signed checkpoints, evidence,
cosignatures. One database file per node, WAL journal, ``PRAGMA synchronous=FULL``: a commit
returns only after the WAL is fsynced, and the node signs a checkpoint only after the commit
of the entries it covers (ledger_node.node).

Crash safety: entries and checkpoints are written in separate transactions, entries first
(fsynced before the checkpoint is signed). A crash between them, or an OS crash that loses
a checkpoint committed without fsync, leaves durable entries without a checkpoint; the node
signs one over the same entries at the next start. Leaf order is the primary key, so the
Merkle tree rebuilt at start always extends every checkpoint ever signed: no fork.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    leaf_index INTEGER PRIMARY KEY,
    family BLOB NOT NULL,
    log_id BLOB NOT NULL,
    sequence INTEGER NOT NULL,
    entry_hash BLOB NOT NULL UNIQUE,
    raw BLOB NOT NULL,
    UNIQUE (family, log_id, sequence)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    tree_size INTEGER PRIMARY KEY,
    raw BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS cosignatures (
    tree_size INTEGER NOT NULL,
    peer_key BLOB NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (tree_size, peer_key)
);
CREATE TABLE IF NOT EXISTS peer_cosigned (
    peer_key BLOB PRIMARY KEY,
    checkpoint BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY,
    family BLOB NOT NULL,
    log_id BLOB NOT NULL,
    sequence INTEGER NOT NULL,
    logged_hash BLOB NOT NULL,
    raw BLOB NOT NULL UNIQUE,
    received_ms INTEGER NOT NULL
);
"""


class Storage:
    """Thin synchronous wrapper; every write method commits (and so fsyncs) before returning."""

    def __init__(self, path: str | Path, synchronous: str = "FULL"):
        self.path = str(path)
        self.connection = sqlite3.connect(self.path, isolation_level=None,
                                          check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.synchronous = synchronous
        self.connection.execute("PRAGMA synchronous=%s" % synchronous)
        self.connection.executescript(SCHEMA)

    def close(self) -> None:
        self.connection.close()

    def append_entries(self, rows: list[tuple[int, bytes, bytes, int, bytes, bytes]]) -> None:
        """Insert (leaf_index, family, log_id, sequence, entry_hash, raw) rows in one
        durable transaction."""
        if not rows:
            return
        with self._transaction():
            self.connection.executemany(
                "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)", rows)

    def store_checkpoint(self, tree_size: int, raw: bytes, durable: bool = True) -> None:
        """Store a signed checkpoint. ``durable=False`` commits without waiting for fsync
        (synchronous=NORMAL for this one commit): safe because the entries it covers are
        already durable, and a checkpoint lost in an OS crash is re-signed at start over the
        same size and root (ledger_node.node), so no receipt handed out becomes invalid."""
        if not durable:
            self.connection.execute("PRAGMA synchronous=NORMAL")
        try:
            with self._transaction():
                self.connection.execute(
                    "INSERT OR REPLACE INTO checkpoints VALUES (?, ?)", (tree_size, raw))
        finally:
            if not durable:
                self.connection.execute("PRAGMA synchronous=%s" % self.synchronous)

    def store_evidence(self, family: bytes, log_id: bytes, sequence: int, logged_hash: bytes,  # noqa: PLR0917
                       raw: bytes, received_ms: int) -> None:
        with self._transaction():
            self.connection.execute(
                "INSERT OR IGNORE INTO evidence (family, log_id, sequence, logged_hash, raw, "
                "received_ms) VALUES (?, ?, ?, ?, ?, ?)",
                (family, log_id, sequence, logged_hash, raw, received_ms))

    def store_cosignature(self, tree_size: int, peer_key: bytes, signature: bytes) -> None:
        with self._transaction():
            self.connection.execute(
                "INSERT OR REPLACE INTO cosignatures VALUES (?, ?, ?)",
                (tree_size, peer_key, signature))

    def store_peer_cosigned(self, peer_key: bytes, checkpoint: bytes) -> None:
        with self._transaction():
            self.connection.execute(
                "INSERT OR REPLACE INTO peer_cosigned VALUES (?, ?)", (peer_key, checkpoint))

    def peer_cosigned(self, peer_key: bytes) -> bytes | None:
        row = self.connection.execute(
            "SELECT checkpoint FROM peer_cosigned WHERE peer_key = ?", (peer_key,)).fetchone()
        return row[0] if row else None

    def iter_entries(self):
        """(leaf_index, entry_hash, raw) in leaf order."""
        yield from self.connection.execute(
            "SELECT leaf_index, entry_hash, raw FROM entries ORDER BY leaf_index")

    def entry_by_hash(self, entry_hash: bytes) -> tuple[int, bytes] | None:
        return self.connection.execute(
            "SELECT leaf_index, raw FROM entries WHERE entry_hash = ?", (entry_hash,)).fetchone()

    def entry_by_log(self, family: bytes, log_id: bytes, sequence: int):
        return self.connection.execute(
            "SELECT leaf_index, raw FROM entries WHERE family = ? AND log_id = ? "
            "AND sequence = ?", (family, log_id, sequence)).fetchone()

    def checkpoint_covering(self, leaf_index: int) -> bytes | None:
        """The first signed checkpoint whose tree includes ``leaf_index``."""
        row = self.connection.execute(
            "SELECT raw FROM checkpoints WHERE tree_size > ? ORDER BY tree_size LIMIT 1",
            (leaf_index,)).fetchone()
        return row[0] if row else None

    def latest_checkpoint(self) -> bytes | None:
        row = self.connection.execute(
            "SELECT raw FROM checkpoints ORDER BY tree_size DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def checkpoint_at(self, tree_size: int) -> bytes | None:
        row = self.connection.execute(
            "SELECT raw FROM checkpoints WHERE tree_size = ?", (tree_size,)).fetchone()
        return row[0] if row else None

    def cosignatures(self, tree_size: int) -> list[tuple[bytes, bytes]]:
        return list(self.connection.execute(
            "SELECT peer_key, signature FROM cosignatures WHERE tree_size = ?", (tree_size,)))

    def evidence(self) -> list[tuple]:
        return list(self.connection.execute(
            "SELECT family, log_id, sequence, logged_hash, raw, received_ms FROM evidence "
            "ORDER BY id"))

    def _transaction(self):
        return _Transaction(self.connection)


class _Transaction:
    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self):
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.connection.execute("COMMIT")
        else:
            self.connection.execute("ROLLBACK")
        return False
