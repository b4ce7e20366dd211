"""The device's cached ledger node verifiers (groupkey.ledger.receipt.TrustedNodes through
firmware/app/accept.py): the same decisions as a one-off check, bounded by the configured
keys, and a warm cache still rejects bad receipts. CPython on both crypto backends, and the
real firmware check in MicroPython from the mpy-cross image.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from groupkey.crypto import ed25519
from groupkey.ledger import receipt
from groupkey.ledger.errors import InsufficientReceipts
from groupkey.ledger.merkle import leaf_hash
from ledger_node.merkle_tree import MerkleTree

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.append(str(FIRMWARE))

from app import accept  # noqa: E402
from app.accept import Rejected  # noqa: E402

NODE_SEEDS = [hashlib.sha256(b"receipt node %d" % index).digest() for index in range(6)]
NODE_KEYS = [ed25519.public_key(seed) for seed in NODE_SEEDS]
TRUSTED = NODE_KEYS[:3]


def make_receipt(index, raw_entry, filler, tamper=False):
    tree = MerkleTree()
    for number in range(filler):
        tree.append_entry(b"filler %d" % number)
    leaf_index = tree.append_entry(raw_entry)
    checkpoint = receipt.Checkpoint(NODE_KEYS[index], tree.size, tree.root(), 1764000000000)
    signature = ed25519.sign(NODE_SEEDS[index], checkpoint.signed_message())
    if tamper:  # a valid-looking signature of another message
        signature = ed25519.sign(NODE_SEEDS[index], checkpoint.signed_message() + b"x")
    checkpoint.signature = signature
    return receipt.Receipt(checkpoint, leaf_index, tree.inclusion_proof(leaf_index, tree.size))


def bundle_of(raw_entry, nodes, tamper=()):
    return receipt.encode_bundle([make_receipt(index, raw_entry, 2 + 3 * index + len(raw_entry),
                                               index in tamper) for index in nodes])


def decide(entry_hash, data, keys):
    """The node keys verify_bundle confirms, or the exception type it raises."""
    try:
        return receipt.verify_bundle(entry_hash, receipt.decode_bundle(data), keys, 2)
    except InsufficientReceipts:
        return InsufficientReceipts


def test_cached_verifiers_decide_like_one_off_checks(crypto_backend):
    trusted = receipt.TrustedNodes(TRUSTED)
    cases = []
    for number in range(3):
        raw = b"entry %d" % number
        cases += [
            (leaf_hash(raw), bundle_of(raw, [0, 1])),
            (leaf_hash(raw), bundle_of(raw, [2, 0, 1])),
            (leaf_hash(raw), bundle_of(raw, [0, 1], tamper=(1,))),
            (leaf_hash(raw), bundle_of(raw, [0, 4, 5])),  # two untrusted nodes
            (leaf_hash(b"other"), bundle_of(raw, [0, 1])),  # receipts for another entry
            (leaf_hash(raw), bundle_of(raw, [1, 1])),  # one node twice
        ]
    outcomes = []
    for entry_hash, data in cases:  # the cache warms up along the way
        one_off = decide(entry_hash, data, TRUSTED)
        cached = decide(entry_hash, data, trusted)
        assert cached == one_off
        outcomes.append(cached)
    # the cases really cover both decisions
    assert outcomes.count(InsufficientReceipts) == 12
    assert outcomes[0] == TRUSTED[:2] and outcomes[1] == [TRUSTED[2], TRUSTED[0]]


def test_warm_cache_still_rejects_a_bad_signature(crypto_backend):
    trusted = receipt.TrustedNodes(TRUSTED)
    for number in range(4):  # past the second verification: the 2^128 table is in use
        raw = b"warm %d" % number
        assert decide(leaf_hash(raw), bundle_of(raw, [0, 1]), trusted) == TRUSTED[:2]
    raw = b"forged"
    assert decide(leaf_hash(raw), bundle_of(raw, [0, 1], tamper=(0,)), trusted) is \
        InsufficientReceipts
    assert decide(leaf_hash(raw), bundle_of(raw, [0, 1], tamper=(1,)), trusted) is \
        InsufficientReceipts
    assert decide(leaf_hash(raw), bundle_of(raw, [1, 0]), trusted) == [TRUSTED[1], TRUSTED[0]]


def test_only_configured_keys_get_a_verifier():
    trusted = receipt.TrustedNodes(TRUSTED)
    for number in range(3):
        raw = b"bounded %d" % number
        decide(leaf_hash(raw), bundle_of(raw, [3, 4, 5, 0, 1]), trusted)
    for key in NODE_KEYS[3:]:
        assert not trusted.trusts(key)
        assert trusted.verifier(key) is None
    first = [trusted.verifier(key) for key in TRUSTED]
    assert all(verifier is not None for verifier in first)
    assert [trusted.verifier(key) for key in TRUSTED] == first  # the same objects: cached
    assert len(trusted.keys) == 3
    # an invalid point encoding configured by mistake never verifies, and is not cached
    broken = receipt.TrustedNodes([b"\xff" * 32])
    assert broken.trusts(b"\xff" * 32) and broken.verifier(b"\xff" * 32) is None


def test_firmware_keeps_one_verifier_set_per_configuration():
    config = {"group_id": "g1", "ledger_keys": [key.hex() for key in TRUSTED],
              "ledger_threshold": 2}
    first = accept.trusted_nodes(config)
    assert accept.trusted_nodes(dict(config)) is first
    raw = b"firmware entry"
    accept.check_receipts(leaf_hash(raw), bundle_of(raw, [0, 1]), config)
    with pytest.raises(Rejected, match="receipts"):
        accept.check_receipts(leaf_hash(raw), bundle_of(raw, [0, 1], tamper=(0,)), config)
    other = dict(config, ledger_keys=[key.hex() for key in NODE_KEYS[3:]])
    replaced = accept.trusted_nodes(other)
    assert replaced is not first and replaced.keys == NODE_KEYS[3:]
    with pytest.raises(Rejected, match="receipts"):  # the old nodes are not trusted now
        accept.check_receipts(leaf_hash(raw), bundle_of(raw, [0, 1]), other)
    accept.check_receipts(leaf_hash(raw), bundle_of(raw, [3, 4]), other)


MPY_SCRIPT = """
import gc
import json
import os
import sys

if os.getenv("GROUPKEY_ROMFS"):  # code in emulated flash (tests/micropython_romfs.py)
    import uctypes
    import vfs

    _a, _n = os.getenv("GROUPKEY_ROMFS").split(":")
    vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(_a), int(_n))), "/rom")
    sys.path.insert(0, "/rom")
    del _a, _n, uctypes, vfs

from app import accept

with open(sys.argv[1]) as handle:
    data = json.load(handle)
config = {"group_id": "g1", "ledger_keys": data["keys"], "ledger_threshold": 2}
out = []
for case in data["cases"]:
    try:
        accept.check_receipts(bytes.fromhex(case[0]), bytes.fromhex(case[1]), config)
        out.append("ok")
    except accept.Rejected as exc:
        out.append("rejected")
        print("rejected:", exc)
gc.collect()
before = gc.mem_free()
for case in data["cases"][:3]:
    try:
        accept.check_receipts(bytes.fromhex(case[0]), bytes.fromhex(case[1]), config)
    except accept.Rejected:
        pass
gc.collect()
held = before - gc.mem_free()
nodes = accept.trusted_nodes(config)
same = nodes is accept.trusted_nodes(dict(config))
print(json.dumps([out, held, same, nodes.caching]))
"""


def test_cached_receipt_checks_in_micropython(micropython, tmp_path):
    cases = []
    expected = []
    for number in range(4):
        raw = b"device entry %d" % number
        cases.append((leaf_hash(raw), bundle_of(raw, [0, 1])))
        expected.append("ok")
    raw = b"device forged"
    cases += [(leaf_hash(raw), bundle_of(raw, [0, 1], tamper=(1,))),
              (leaf_hash(raw), bundle_of(raw, [4, 0])),
              (leaf_hash(b"other"), bundle_of(raw, [1, 2])),
              (leaf_hash(raw), bundle_of(raw, [2, 1]))]
    expected += ["rejected", "rejected", "rejected", "ok"]
    arguments = tmp_path / "receipts.json"
    arguments.write_text(json.dumps({"keys": [key.hex() for key in TRUSTED],
                                     "cases": [[h.hex(), b.hex()] for h, b in cases]}))
    script = tmp_path / "receipts_check.py"
    script.write_text(MPY_SCRIPT)
    # 384K: the emulated devices' heap (bench/e2e.py): the cache stays on and warm checks
    # allocate nothing lasting
    result = micropython(script, args=[str(arguments)], heap="384K", precompiled=True)
    outcomes, held, same, caching = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcomes == expected
    assert same is True and caching is True
    assert held <= 512, held
    # 96K, the ESP32 budget, with the code in (emulated) flash as on a board: the heap holds
    # data only, and the decisions are the same (the cache may be on or off: TrustedNodes
    # switches it off rather than reject when the tables do not fit)
    from bench import micropython as bench_micropython

    for _ in range(2):
        run = bench_micropython.run(script, [str(arguments)], heap="96K", romfs=True)
        assert run.ok, run.describe()
        outcomes, held, same, caching = json.loads(run.stdout.strip().splitlines()[-1])
        assert outcomes == expected, run.stdout
        assert same is True


class _HeapExhausted:
    """Test double for a device heap that cannot hold one more VerifyingKey table: running
    out of heap cannot be made to happen at a chosen allocation in a real interpreter, so
    the first ``failures`` cached verifications raise MemoryError as a full heap would."""

    def __init__(self, monkeypatch, failures):
        self.failures = failures
        self.raised = 0
        original = ed25519.VerifyingKey.verify

        def verify(verifier, message, signature):
            if self.raised < self.failures:
                self.raised += 1
                raise MemoryError("memory allocation failed, allocating 528 bytes")
            return original(verifier, message, signature)

        monkeypatch.setattr(ed25519.VerifyingKey, "verify", verify)


def test_memory_error_switches_the_cache_off_and_decides_the_same(monkeypatch):
    trusted = receipt.TrustedNodes(TRUSTED)
    raw = b"before"
    assert decide(leaf_hash(raw), bundle_of(raw, [0, 1]), trusted) == TRUSTED[:2]
    assert trusted.caching is True and trusted.verifier(TRUSTED[0]) is not None
    heap = _HeapExhausted(monkeypatch, failures=1)
    for number in range(3):
        raw = b"full heap %d" % number
        assert decide(leaf_hash(raw), bundle_of(raw, [0, 1]), trusted) == TRUSTED[:2]
        raw = b"forged %d" % number
        assert decide(leaf_hash(raw), bundle_of(raw, [0, 1], tamper=(1,)), trusted) is \
            InsufficientReceipts
    assert heap.raised == 1
    # the cache is off for good and holds no table
    assert trusted.caching is False
    assert all(trusted.verifier(key) is None for key in TRUSTED)
    assert trusted._verifiers == [None, None, None]
