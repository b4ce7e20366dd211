"""Crash tests: a node process is SIGKILLed at random moments during a stream of concurrent
submissions; after restart its log is consistent (``verify`` passes), every entry it
countersigned before the crash is still there at the same leaf, and every receipt handed out
still verifies against a checkpoint the node serves and is consistent with its new head."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from groupkey.crypto import ed25519
from groupkey.ledger import entry as entries
from groupkey.ledger import events, merkle, receipt
from ledger_node.cluster import REPO, free_port, init_node


def post(url: str, raw: bytes) -> dict | None:
    request = urllib.request.Request(url + "/v1/entries", data=raw, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())
    except (OSError, ValueError):
        return None  # the node died mid-request: no receipt, no promise


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def test_sigkill_during_submissions_loses_nothing_countersigned(tmp_path):
    rng = random.Random(1234)
    pending = [events.inception(os.urandom(32), ed25519.public_key(os.urandom(32)))
               for _ in range(240)]
    node = init_node(tmp_path / "crash", "crashy", free_port(), [])
    receipts: dict[bytes, bytes] = {}  # entry hash -> receipt the node handed out
    lock = threading.Lock()
    for _round in range(4):
        node.start()
        stop = threading.Event()

        def submitter(batch: list[bytes]) -> None:
            for raw in batch:
                if stop.is_set():
                    return
                result = post(node.url, raw)
                if result and result.get("receipt"):
                    with lock:
                        receipts[bytes.fromhex(result["entry_hash"])] = bytes.fromhex(
                            result["receipt"])

        chunk, pending = pending[:60], pending[60:]
        threads = [threading.Thread(target=submitter, args=(chunk[index::3],))
                   for index in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.05, 0.6))
        node.kill()
        stop.set()
        for thread in threads:
            thread.join(10)

        # Offline re-check of the whole database.
        verify = subprocess.run(
            [sys.executable, "-m", "ledger_node", "verify", "--config", str(node.config)],
            check=False, capture_output=True, text=True, cwd=str(REPO),
            env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
        report = json.loads(verify.stdout.strip().splitlines()[-1])
        assert verify.returncode == 0 and report["ok"], verify.stdout + verify.stderr

        node.start()
        head = get(node.url + "/v1/checkpoint")
        head_checkpoint = receipt.Checkpoint.decode(bytes.fromhex(head["checkpoint"]))
        head_checkpoint.verify()
        # Every receipt's entry must still be at its leaf (one cheap read per entry); the full
        # proof check (signature, consistency with the new head) runs on a sample.
        rows = {entry_hash: get(node.url + "/v1/entries/" + entry_hash.hex())
                for entry_hash in receipts}
        for entry_hash, raw_receipt in receipts.items():
            assert rows[entry_hash]["leaf_index"] == receipt.Receipt.decode(
                raw_receipt).leaf_index
        sample = rng.sample(sorted(receipts.items()), min(15, len(receipts)))
        for entry_hash, raw_receipt in sample:
            old = receipt.Receipt.decode(raw_receipt)
            old.verify(entry_hash)
            served = rows[entry_hash]
            assert merkle.leaf_hash(bytes.fromhex(served["entry"])) == entry_hash
            proof = get(node.url + "/v1/proofs/consistency?old_size=%d&new_size=%d" % (
                old.checkpoint.tree_size, head_checkpoint.tree_size))
            receipt.verify_consistency(old.checkpoint, head_checkpoint,
                                       [bytes.fromhex(value) for value in proof["path"]])
        node.kill()
    assert receipts, "the node countersigned nothing before being killed"
    # Entries that got no receipt may or may not be there; resubmitting is idempotent.
    node.start()
    try:
        again = post(node.url, pending[0] if pending else events.inception(
            os.urandom(32), ed25519.public_key(os.urandom(32))))
        assert again and again["outcome"] in ("accepted", "duplicate")
        first = next(iter(receipts))
        logged = get(node.url + "/v1/entries/" + first.hex())
        result = post(node.url, bytes.fromhex(logged["entry"]))
        assert result["outcome"] == "duplicate"
        assert entries.decode(bytes.fromhex(logged["entry"])).entry_hash() == first
    finally:
        node.stop()
