"""CLI (`python -m ledger_node init/verify/export`) and node-level receipt properties:
offline verify catches a tampered database, export dumps it, and two receipts of one node
for different entries at one (log, sequence) are recognised as equivocation."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from groupkey.crypto import ed25519
from groupkey.ledger import entry as entries
from groupkey.ledger import events, receipt
from ledger_node import config as configuration
from ledger_node.cluster import REPO
from ledger_node.node import LedgerNode


def cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ledger_node", *arguments],
                          capture_output=True, text=True, cwd=str(REPO), check=False,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)


def test_init_verify_export_and_tamper_detection(tmp_path):
    created = cli("init", "--dir", str(tmp_path), "--name", "alpha", "--port", "18555")
    assert created.returncode == 0, created.stderr
    info = json.loads(created.stdout)
    config = configuration.load(info["config"])
    assert oct(config.key_file.stat().st_mode & 0o777) == "0o600"
    assert cli("init", "--dir", str(tmp_path), "--name", "alpha", "--port", "1").returncode == 1
    node = LedgerNode(config.database, config.seed())
    assert node.public_key.hex() == info["node_key"]
    raws = [events.inception(os.urandom(32), ed25519.public_key(os.urandom(32)))
            for _ in range(5)]
    assert [result.outcome for result in node.submit_batch(raws)] == ["accepted"] * 5
    node.close()

    checked = cli("verify", "--config", info["config"])
    report = json.loads(checked.stdout.strip().splitlines()[-1])
    assert checked.returncode == 0 and report["ok"] and report["entries"] == 5
    exported = cli("export", "--config", info["config"])
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [line["entry"] for line in lines if line["type"] == "entry"] == [r.hex() for r in raws]
    assert [line["tree_size"] for line in lines if line["type"] == "checkpoint"] == [5]

    # Swap in a different (validly signed) entry at leaf 2: verify must notice.
    forged = events.inception(os.urandom(32), ed25519.public_key(os.urandom(32)))
    connection = sqlite3.connect(config.database)
    connection.execute("UPDATE entries SET raw = ?, entry_hash = ?, log_id = ? "
                       "WHERE leaf_index = 2", (forged, entries.decode(forged).entry_hash(),
                                                entries.decode(forged).log_id))
    connection.commit()
    connection.close()
    broken = cli("verify", "--config", info["config"])
    report = json.loads(broken.stdout.strip().splitlines()[-1])
    assert broken.returncode == 2 and not report["ok"]
    assert "root does not match" in " ".join(report["problems"])


def test_equivocation_evidence_from_one_node(tmp_path):
    seed = os.urandom(32)
    first = events.inception(seed, ed25519.public_key(os.urandom(32)))
    second = events.inception(seed, ed25519.public_key(os.urandom(32)))  # same log, seq 0
    node_seed = os.urandom(32)
    honest = LedgerNode(tmp_path / "a.db", node_seed)
    forked = LedgerNode(tmp_path / "b.db", node_seed)  # the same key, lying elsewhere
    receipt_a = receipt.Receipt.decode(honest.submit(first).receipt)
    receipt_b = receipt.Receipt.decode(forked.submit(second).receipt)
    entry_a, entry_b = entries.decode(first), entries.decode(second)
    assert receipt.is_equivocation(entry_a, receipt_a, entry_b, receipt_b)
    assert not receipt.is_equivocation(entry_a, receipt_a, entry_a, receipt_a)
    other = LedgerNode(tmp_path / "c.db", os.urandom(32))
    receipt_c = receipt.Receipt.decode(other.submit(second).receipt)
    assert not receipt.is_equivocation(entry_a, receipt_a, entry_b, receipt_c)
    # The honest node refuses the second one and keeps it as evidence.
    assert honest.submit(second).outcome == "conflict"
    assert [item["entry"] for item in honest.evidence()] == [second.hex()]
    for node in (honest, forked, other):
        node.close()


def test_receipts_stay_valid_and_consistent_as_the_log_grows(tmp_path):
    node = LedgerNode(tmp_path / "n.db", os.urandom(32))
    first = events.inception(os.urandom(32), ed25519.public_key(os.urandom(32)))
    old = receipt.Receipt.decode(node.submit(first).receipt)
    for _ in range(3):
        node.submit_batch([events.inception(os.urandom(32), ed25519.public_key(os.urandom(32)))
                           for _ in range(4)])
    head = receipt.Checkpoint.decode(node.latest_checkpoint())
    receipt.verify_consistency(old.checkpoint, head,
                               node.tree.consistency_proof(old.checkpoint.tree_size,
                                                           head.tree_size))
    assert receipt.Receipt.decode(node.receipt(entries.decode(first).entry_hash())).encode() \
        == old.encode()
    assert receipt.Receipt.decode(old.encode()).encode() == old.encode()
    node.close()


def test_did_resolution_follows_rotation_and_revocation(tmp_path):
    from groupkey import did as dids

    node = LedgerNode(tmp_path / "d.db", os.urandom(32))
    first, second, third = os.urandom(32), os.urandom(32), os.urandom(32)
    incepted = events.inception(first, ed25519.public_key(second))
    assert node.submit(incepted).outcome == "accepted"
    identity = ed25519.public_key(first)
    head = entries.decode(incepted).entry_hash()
    rotated = events.rotation(identity, 1, head, second, ed25519.public_key(third))
    assert node.submit(rotated).outcome == "accepted"
    original = dids.did_from_public_key(identity)
    for asked in (original, dids.did_from_public_key(ed25519.public_key(second))):
        resolved = node.resolve(asked)
        assert resolved["did"] == original
        assert resolved["current_key"] == ed25519.public_key(second).hex()
        assert resolved["status"] == "active" and resolved["sequence"] == 1
    revoked = events.revocation(identity, 2, entries.decode(rotated).entry_hash(), second)
    assert node.submit(revoked).outcome == "accepted"
    assert node.resolve(original)["status"] == "revoked"
    assert node.resolve(dids.did_from_public_key(os.urandom(32))) is None
    node.close()
