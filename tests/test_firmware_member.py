"""The device member's checks (firmware/app/accept.py) and its readings app
(firmware/app/readings.py), without a broker: real ledger receipts (Merkle tree + node
signatures), real TGDH transitions (groupkey.tgdh.simulation), real group messages.

accept.py is plain Python, so its negative cases run under CPython; the readings app and the
leaf-proof check also run inside MicroPython from the mpy-cross image. The whole member, with
the gateway, ledger nodes and broker, is tested in tests/hil/.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

import pytest

from groupkey.crypto import ed25519
from groupkey.ledger import bodies, receipt
from groupkey.ledger import entry as entries
from groupkey.ledger.merkle import leaf_hash
from groupkey.tgdh import events
from groupkey.tgdh.simulation import Simulation
from ledger_node.merkle_tree import MerkleTree

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.append(str(FIRMWARE))

from app import accept  # noqa: E402
from app.accept import Rejected  # noqa: E402

GROUP = "g1"


def seeded(seed):
    generator = random.Random(seed)
    return lambda length: bytes(generator.getrandbits(8) for _ in range(length))


NODE_SEEDS = [hashlib.sha256(b"node %d" % index).digest() for index in range(4)]
NODE_KEYS = [ed25519.public_key(seed) for seed in NODE_SEEDS]
CONFIG = {"group_id": GROUP, "ledger_keys": [key.hex() for key in NODE_KEYS[:3]],
          "ledger_threshold": 2}


def make_receipt(node_seed, raw_entry, filler):
    tree = MerkleTree()
    for index in range(filler):
        tree.append_entry(b"filler %d" % index)
    leaf_index = tree.append_entry(raw_entry)
    checkpoint = receipt.Checkpoint(ed25519.public_key(node_seed), tree.size, tree.root(),
                                    1764000000000)
    checkpoint.signature = ed25519.sign(node_seed, checkpoint.signed_message())
    return receipt.Receipt(checkpoint, leaf_index, tree.inclusion_proof(leaf_index, tree.size))


def run_member_script(micropython, tmp_path, source, arguments=None):
    """Run a firmware script in MicroPython (mpy image, 320K) with ``arguments`` as a JSON
    file named on its command line; returns the JSON of its last output line."""
    script = tmp_path / "member_script.py"
    script.write_text(source)
    argv = []
    if arguments is not None:
        path = tmp_path / "member_script.json"
        path.write_text(json.dumps(arguments))
        argv = [str(path)]
    result = micropython(script, args=argv, heap="320K", precompiled=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def bundle(raw_entry, nodes):
    return receipt.encode_bundle([make_receipt(NODE_SEEDS[index], raw_entry, 3 + 5 * index)
                                  for index in nodes])


@pytest.fixture(scope="module")
def group():
    """A 3-member simulated group after one refresh: (simulation, transition bytes, sponsor
    identity, sponsor seed)."""
    simulation = Simulation(GROUP.encode(), seeded(7))
    for _ in range(2):
        identity = simulation.new_identity()
        simulation.run([simulation.join_operation(identity)])
    public = simulation.state.members()[0]
    leaf = simulation.leaf_of(public)
    data = simulation.build([events.refresh(leaf)])
    sponsor_seed = simulation.members[public].signing_seed
    return simulation, data, public, sponsor_seed


def transition_entry(data, new_tree_hash, sequence, previous, signer_seed, group_id=GROUP):
    body = bodies.Transition(3, new_tree_hash, [], [], [], data).encode()
    item = entries.Entry(entries.TRANSITION, group_id.encode(), sequence, previous, body,
                         ed25519.public_key(signer_seed))
    return item


def final_tree_hash(data):
    from groupkey.tgdh import transition

    return transition.decode(data).final().tree_hash


# ------------------------------------------------------------------------------ receipts
def test_receipts_t_of_n_from_configured_nodes_only(group):
    raw = b"some entry bytes"
    entry_hash = leaf_hash(raw)
    accept.check_receipts(entry_hash, bundle(raw, [0, 1]), CONFIG)
    accept.check_receipts(entry_hash, bundle(raw, [2, 1, 0]), CONFIG)
    with pytest.raises(Rejected, match="receipts"):
        accept.check_receipts(entry_hash, bundle(raw, [0]), CONFIG)
    with pytest.raises(Rejected, match="receipts"):  # node 3 is not configured
        accept.check_receipts(entry_hash, bundle(raw, [0, 3]), CONFIG)
    with pytest.raises(Rejected, match="receipts"):  # receipts for another entry
        accept.check_receipts(leaf_hash(b"other"), bundle(raw, [0, 1]), CONFIG)
    with pytest.raises(Rejected, match="no ledger keys"):
        accept.check_receipts(entry_hash, bundle(raw, [0, 1]), {"group_id": GROUP})


def test_a_bundle_costs_at_most_one_check_per_configured_node():
    """Only the first receipt of each node is tried, so a sender cannot make a device verify
    a long list of bad receipts (each an Ed25519 verification: a watchdog reboot on a
    board); receipts of unknown nodes are skipped without any cryptography."""
    raw = b"some entry bytes"
    entry_hash = leaf_hash(raw)
    good = [make_receipt(NODE_SEEDS[index], raw, 3 + 5 * index) for index in range(3)]
    forged = make_receipt(NODE_SEEDS[0], b"another entry", 3)
    # node 0's first receipt is bad: its good one after it is not tried, so 0 counts nothing
    with pytest.raises(Rejected, match="receipts"):
        accept.check_receipts(entry_hash, receipt.encode_bundle([forged, good[0], good[1]]),
                              CONFIG)
    accept.check_receipts(entry_hash, receipt.encode_bundle([forged, good[1], good[2]]), CONFIG)
    # node 0 spent its one try on the forged receipt; nodes 1 and 2 make the quorum
    accept.check_receipts(entry_hash, receipt.encode_bundle([forged] + good), CONFIG)
    stranger = make_receipt(NODE_SEEDS[3], raw, 3)  # node 3 is not configured
    accept.check_receipts(entry_hash, receipt.encode_bundle([stranger] * 20 + good), CONFIG)
    calls = []
    original = receipt.TrustedNodes.check

    def counting(self, item, digest):
        calls.append(item.checkpoint.node_key)
        return original(self, item, digest)

    receipt.TrustedNodes.check = counting
    try:
        with pytest.raises(receipt.InsufficientReceipts):
            receipt.verify_bundle(entry_hash, [forged] * 3 + [stranger] * 20,
                                  receipt.TrustedNodes(NODE_KEYS[:3]), 2)
    finally:
        receipt.TrustedNodes.check = original
    assert calls == [NODE_KEYS[0]]


def test_transition_entry_must_follow_our_epoch_and_head(group):
    simulation, data, public, seed = group
    epoch = simulation.state.epoch
    head = b"\x11" * 32
    good = transition_entry(data, final_tree_hash(data), epoch + 1, head, seed)
    body = accept.check_transition(good, CONFIG, epoch, head)
    accept.check_tgdh_matches(body, data)
    cases = [
        (transition_entry(data, final_tree_hash(data), epoch + 1, head, seed, "g2"),
         "another group"),
        (transition_entry(data, final_tree_hash(data), epoch + 2, head, seed),
         "does not follow"),
        (transition_entry(data, final_tree_hash(data), epoch + 1, b"\x22" * 32, seed),
         "does not link"),
    ]
    for item, reason in cases:
        with pytest.raises(Rejected, match=reason):
            accept.check_transition(item, CONFIG, epoch, head)
    # catch-up: a later epoch is fine, an older or equal one is not
    later = transition_entry(data, final_tree_hash(data), epoch + 3, b"\x22" * 32, seed)
    accept.check_transition(later, CONFIG, epoch, head, catchup=True)
    with pytest.raises(Rejected, match="not newer"):
        accept.check_transition(later, CONFIG, epoch + 3, head, catchup=True)
    # entry body and delivered transition must agree, tree hash included
    with pytest.raises(Rejected, match="different transitions"):
        accept.check_tgdh_matches(body, data[:-1] + bytes([data[-1] ^ 1]))
    wrong_hash = transition_entry(data, b"\x33" * 32, epoch + 1, head, seed)
    with pytest.raises(Rejected, match="tree hash"):
        accept.check_tgdh_matches(accept.check_transition(wrong_hash, CONFIG, epoch, head),
                                  data)


def test_sign_request_only_for_our_own_contribution(group):
    simulation, data, public, seed = group
    epoch = simulation.state.epoch
    head = b"\x11" * 32
    unsigned = transition_entry(data, final_tree_hash(data), epoch + 1, head,
                                seed).unsigned_bytes()
    item = accept.check_sign_request(unsigned, CONFIG, public, epoch, head, data)
    signed = entries.decode(entries.sign(item, seed))
    signed.verify_signature()
    with pytest.raises(Rejected, match="another signer"):
        accept.check_sign_request(unsigned, CONFIG, b"\x01" * 32, epoch, head, data)
    with pytest.raises(Rejected, match="no contribution"):
        accept.check_sign_request(unsigned, CONFIG, public, epoch, head, None)
    other = data[:-5] + b"\x00" * 5
    with pytest.raises(Rejected, match="our contribution"):
        accept.check_sign_request(unsigned, CONFIG, public, epoch, head, other)
    with pytest.raises(Rejected, match="does not follow"):
        accept.check_sign_request(unsigned, CONFIG, public, epoch + 1, head, data)


def leaf_proof_message(state, leaf, identity=None):
    from groupkey import relay

    tree = state.tree
    return relay.decode(relay.leaf_proof(state.epoch, leaf, identity or tree.identity[leaf],
                                         tree.blinded[leaf], state.copath_proof(leaf)))


def test_leaf_proof_checked_against_our_tree_hash(group):
    simulation, _, _, _ = group
    state = simulation.state
    for identity in state.members():
        leaf = state.leaf_of(identity)
        accept.check_leaf_proof(leaf_proof_message(state, leaf), state.epoch, state.tree_hash())
    leaf = state.leaf_of(state.members()[1])
    with pytest.raises(Rejected, match="does not match"):  # a gateway naming someone else
        accept.check_leaf_proof(leaf_proof_message(state, leaf, b"\x05" * 32), state.epoch,
                                state.tree_hash())
    with pytest.raises(Rejected, match="epoch"):
        accept.check_leaf_proof(leaf_proof_message(state, leaf), state.epoch + 1,
                                state.tree_hash())


# ------------------------------------------------------------------ inside MicroPython
MPY_SCRIPT = r"""
import binascii, json, sys
from app import accept
from app.readings import Readings
from groupkey import group_message, relay
from groupkey.tgdh.member import Member


def main():
    with open(sys.argv[1]) as handle:  # a file: an argv word > ~256 bytes crashes the port
        args = json.load(handle)
    unhex = binascii.unhexlify
    logged = []
    def log(event, detail=None):
        logged.append((event, detail))

    seed = unhex(args["seed"])
    identity = unhex(args["identity"])
    member = Member.found_from_parts(b"g1", identity, seed, unhex(args["secret"]), full=False)
    sender = Readings("g1", "dev-a", log)
    receiver = Readings("g1", "dev-b", log)
    sender.reset(member, seed)
    receiver.reset(member, seed)
    # own leaf is known: decrypted at once
    assert receiver.receive("dev-a", sender.encrypt(21.5)) is None
    # a sender at an unknown leaf: WHO asked once, message held until the proof
    other_seed = unhex(args["other_seed"])
    message = group_message.encrypt_message(b"g1", 0, member.traffic_secret, 5, 0, other_seed,
                                            b'{"device": "dev-c", "temperature": 3}')
    assert receiver.receive("dev-c", message) == 5
    assert receiver.receive("dev-c", message) is None
    receiver.learned(5, unhex(args["other_identity"]))
    # a member's reading that is valid JSON but not an object: logged, never a crash
    odd = group_message.encrypt_message(b"g1", 0, member.traffic_secret, 5, 1, other_seed,
                                        b"[1, 2]")
    assert receiver.receive("dev-c", odd) is None
    # a message of another epoch (e.g. after our removal) is unreadable, not a crash
    later = group_message.encrypt_message(b"g1", 1, member.traffic_secret, 4, 0, seed, b"{}")
    receiver.receive("dev-a", later)
    receiver.clear()
    receiver.receive("dev-a", sender.encrypt(22.0))
    # a leaf proof for our own epoch-0 tree
    proof = relay.decode(relay.leaf_proof(0, member.leaf, identity, member.blinded_key(),
                                          unhex(args["proof"])))
    accept.check_leaf_proof(proof, 0, member.tree_hash)
    try:
        accept.check_leaf_proof(proof, 0, b"\x00" * 32)
        print("ACCEPTED-BAD-PROOF")
    except accept.Rejected:
        pass
    print(json.dumps(logged))


main()
"""


def test_readings_and_leaf_proof_in_micropython(micropython, tmp_path):
    from groupkey.tgdh.keys import blinded_key
    from groupkey.tgdh.state import PublicGroupState

    rand = seeded(11)
    seed, secret, other_seed = rand(32), rand(32), rand(32)
    identity = ed25519.public_key(seed)
    state = PublicGroupState.genesis(GROUP.encode(), identity, blinded_key(secret))
    args = {"seed": seed.hex(), "identity": identity.hex(), "secret": secret.hex(),
            "other_seed": other_seed.hex(),
            "other_identity": ed25519.public_key(other_seed).hex(),
            "proof": state.copath_proof(state.leaf_of(identity)).hex()}
    script = tmp_path / "readings_check.py"
    script.write_text(MPY_SCRIPT)
    arguments = tmp_path / "arguments.json"
    arguments.write_text(json.dumps(args))
    result = micropython(script, args=[str(arguments)], heap="320K", precompiled=True)
    lines = result.stdout.strip().splitlines()
    assert "ACCEPTED-BAD-PROOF" not in lines
    logged = json.loads(lines[-1])
    readings = [detail for event, detail in logged if event == "reading"]
    unreadable = [detail for event, detail in logged if event == "unreadable"]
    assert [r["temperature"] for r in readings] == [21.5, 3, None]
    assert readings[1]["from"] == "dev-c" and readings[1]["leaf"] == 5
    assert [u["reason"] for u in unreadable] == ["WrongEpoch", "not a member"]


def test_sponsor_secret_restored_after_reboot_opens_its_epoch(group):
    """What Member.restore_pending relies on: a sponsor that rebooted between CONTRIBUTION
    and EPOCH (state from flash, pending secret from the durable state, no cached path keys)
    accepts the epoch and agrees with the others; without the secret it cannot."""
    from groupkey.tgdh import keys
    from groupkey.tgdh.errors import TGDHError
    from groupkey.tgdh.member import Member

    simulation, _, _, _ = group
    state = simulation.state
    sponsor_identity, other_identity = state.members()[1], state.members()[2]
    sponsor = simulation.members[sponsor_identity]
    saved = sponsor.export_state()
    data = state.prepare([events.refresh(state.leaf_of(sponsor_identity))])
    secret = seeded(99)(32)
    data = sponsor.contribute_from_parts(state.sponsor_request(data), secret)
    assert state.sponsor_request(data) is None
    new_state = state.apply(data)
    other = Member.import_state(simulation.members[other_identity].export_state())
    other.handle(new_state.member_update(state, data, other_identity))

    rebooted = Member.import_state(saved, sponsor.signing_seed)
    update = new_state.member_update(state, data, sponsor_identity)
    with pytest.raises(TGDHError):
        rebooted.handle(update)
    assert rebooted.leaf_secrets() == [sponsor.leaf_secrets()[0]]  # nothing pending yet
    assert rebooted.restore_pending(secret) == keys.blinded_key(secret)
    assert rebooted.leaf_secrets() == [sponsor.leaf_secrets()[0], secret]
    assert rebooted.handle(update) == new_state.epoch
    assert rebooted.leaf_secrets() == [secret]  # committed: the old secret is gone
    assert rebooted.epoch_secret == other.epoch_secret
    assert rebooted.tree_hash == new_state.tree_hash()


HEAP_SCRIPT = """
import asyncio
import json
import time

from app import flows
from app.member import HEAP_WINDOW_MS, MAX_HEAP_FAILURES, Member
from groupkey import relay

logged = []
member = Member({"group_id": "g1"}, "dev-a", None, lambda event, detail: logged.append(
    [event, detail]))


class Committed:  # a member at epoch 5 (the TGDH state itself is not needed here)
    epoch = 5
    tree_hash = bytes(32)


member.tgdh = Committed()
sent = []


async def send(payload):  # what would go to the broker
    sent.append(payload)
    return True


member.send = send
plan = []


async def dispatch(device, message):
    # test double for a heap that cannot hold this message's work: heap exhaustion at a
    # chosen message cannot be provoked in the real interpreter
    if plan.pop(0) == "full":
        raise MemoryError("memory allocation failed, allocating 528 bytes")


flows.dispatch = dispatch


async def handle(step):
    plan.append(step)
    member.last_catchup = None  # not rate limited here: every resync sends a CATCHUP
    try:
        await member.handle(None, "g1/dev-a/resp", relay.catchup(3))
        return "handled"
    except MemoryError:
        return "raised"


async def main():
    outcomes = []
    for step in ["full", "ok", "full"]:
        outcomes.append([await handle(step), member.heap_failures])
    member.heap_failures = 0  # what commit() does: an epoch was committed
    for step in ["full", "ok"]:
        outcomes.append([await handle(step), member.heap_failures])
    try:
        member.heap_trouble("heap_drop", {"memory_drops": 1})  # a packet the client dropped
        outcomes.append(["survived", member.heap_failures])
    except MemoryError:
        outcomes.append(["raised", member.heap_failures])
    # the last failure long ago (past HEAP_WINDOW_MS): the count starts again
    saved = member.heap_failure_at
    member.heap_failure_at = time.ticks_add(time.ticks_ms(), -HEAP_WINDOW_MS - 1000)
    outcomes.append([await handle("full"), member.heap_failures])
    member.heap_failures = 2
    member.heap_failure_at = saved
    outcomes.append([await handle("full"), member.heap_failures])
    await member.command("heap_dump")  # the block map, for the console
    print(json.dumps([outcomes, [relay.decode(p).kind for p in sent], member.rejected,
                      [event for event, _ in logged], MAX_HEAP_FAILURES]))


asyncio.run(main())
"""


def test_member_out_of_heap_is_not_a_rejection(micropython, tmp_path):
    """A MemoryError while handling a message (accept.py passes it through instead of calling
    it a rejection) is logged as no_heap, answered with a CATCHUP and state is unchanged;
    MAX_HEAP_FAILURES such failures or MQTT drops for lack of heap since the last committed
    epoch (each within HEAP_WINDOW_MS of the one before) log heap_reboot and raise (a board
    reboots): messages handled in between do not start the count again; a quiet window
    does, and commit() does (here set by hand as commit() sets it)."""
    from groupkey import relay

    script = tmp_path / "heap_check.py"
    script.write_text(HEAP_SCRIPT)
    result = micropython(script, heap="320K", precompiled=True, check=False)
    assert result.returncode == 0, result.stderr
    # where the heap ran out goes to the console (stderr), once per failed message
    assert result.stderr.count("MemoryError: memory allocation failed") == 5
    outcomes, kinds, rejected, events_logged, limit = json.loads(
        result.stdout.strip().splitlines()[-1])
    assert limit == 3
    assert outcomes == [["handled", 1], ["handled", 1], ["handled", 2],  # then a commit
                        ["handled", 1], ["handled", 1], ["survived", 2],
                        ["handled", 1],  # after a quiet window: counted from 1 again
                        ["raised", 3]]
    assert kinds == [relay.CATCHUP] * 4  # one per failed message that did not end the device
    assert rejected == 0 and "rejected" not in events_logged
    assert events_logged.count("no_heap") == 5 and events_logged.count("heap_drop") == 1
    assert events_logged[-2:] == ["heap_reboot", "command"]
    assert events_logged.count("heap_reboot") == 1
    assert "GC memory layout" in result.stdout  # the heap_dump command


def test_memory_error_in_a_check_is_not_a_rejection(monkeypatch, group):
    """accept.py's checks turn every failure into Rejected except a MemoryError (test double:
    the verifier raises it as a full device heap would)."""
    simulation, data, _, _ = group

    def no_heap(*_):
        raise MemoryError("memory allocation failed, allocating 528 bytes")

    monkeypatch.setattr(receipt, "verify_bundle", no_heap)
    raw = b"entry"
    with pytest.raises(MemoryError):
        accept.check_receipts(leaf_hash(raw), bundle(raw, [0, 1]), CONFIG)
    monkeypatch.setattr(entries, "decode", no_heap)
    with pytest.raises(MemoryError):
        accept.decode_entry(b"\x01" * 40)
    monkeypatch.undo()
    with pytest.raises(Rejected, match="entry: "):
        accept.decode_entry(b"\x01" * 40)


def test_config_requires_a_ledger_majority():
    """t of n ledger receipts only rule out a split group if two quorums always share a node:
    2t > n. A configuration without that (or with t > n) is refused with a clear error."""
    from app import config

    keys = [key.hex() for key in NODE_KEYS]
    for count, threshold in ((1, 1), (2, 2), (3, 2), (4, 3)):
        loaded = config.merge({"group_id": GROUP, "ledger_keys": keys[:count],
                               "ledger_threshold": threshold})
        assert loaded["ledger_threshold"] == threshold
    for count, threshold in ((3, 1), (4, 2), (2, 1), (3, 4), (3, 0), (3, "2")):
        with pytest.raises(config.ConfigError, match="more than half"):
            config.merge({"group_id": GROUP, "ledger_keys": keys[:count],
                          "ledger_threshold": threshold})


SAVE_FAILURE_SCRIPT = """
import json

from app.member import Member

logged = []


class FailingStore:  # flash that refuses the write
    def save(self, data):
        raise OSError(28)


class RecordingBoard:  # test double for the board module: records the reboot
    reboots = 0

    def reboot(self):
        RecordingBoard.reboots += 1


class NewEpoch:  # the accepted TGDH member (its state is not what is tested here)
    epoch = 6

    def export_state(self):
        return b"state"


member = Member({"group_id": "g1"}, "dev-a", FailingStore(),
                lambda event, detail: logged.append([event, detail]), RecordingBoard())
member.state = {"head": None, "pending": "00", "sponsor_secret": None, "member": None}
try:
    member.commit(NewEpoch(), bytes(32), "epoch", 0)
    outcome = "returned"
except OSError:
    outcome = "raised"
print(json.dumps([outcome, RecordingBoard.reboots, logged]))
"""


def test_a_failed_save_reboots_instead_of_running_ahead_of_flash(micropython, tmp_path):
    """commit: when the durable save fails the device must not keep the new epoch only in
    memory (flash still holds the old one; readings would stay under the old key): it logs
    save_failed, reboots (a board double records it) and the error propagates."""
    outcome, reboots, logged = run_member_script(micropython, tmp_path, SAVE_FAILURE_SCRIPT)
    assert outcome == "raised" and reboots == 1
    assert [event for event, _ in logged] == ["save_failed"]
    assert logged[0][1]["epoch"] == 6 and "OSError" in logged[0][1]["error"]


REMOVAL_SCRIPT = """
import asyncio
import json
import sys
from binascii import unhexlify

from app import flows
from app.member import Member
from groupkey import relay

args = json.loads(open(sys.argv[1]).read())
logged = []


class Store:  # flash double: counts the saves
    saved = 0

    def save(self, data):
        Store.saved += 1
        return Store.saved


class Committed:  # a member at epoch 5 (its TGDH state is not what is tested here)
    epoch = 5
    tree_hash = bytes(32)

    def export_state(self):
        return b"state"


config = {"group_id": "g1", "ledger_keys": args["keys"], "ledger_threshold": 2}
member = Member(config, "dev-a", Store(), lambda event, detail=None: logged.append(event))
member.identity = unhexlify(args["identity"])
member.state = {"head": "11" * 32, "pending": None, "sponsor_secret": None, "member": None,
                "left": False}
member.tgdh = Committed()
results = []


async def deliver(name):
    try:
        await flows.dispatch(member, relay.decode(unhexlify(args[name])))
        return "handled"
    except Exception as exc:
        return type(exc).__name__


async def main():
    results.append([await deliver("error"), member.tgdh is not None,
                    member.behind is not None, Store.saved])
    member.behind = None
    results.append([await deliver("final_other"), member.tgdh is not None,
                    member.behind is not None])
    results.append([await deliver("final_forged"), member.tgdh is not None])
    results.append([await deliver("final_removed"), member.tgdh is None,
                    member.state["head"], Store.saved])


asyncio.run(main())
print(json.dumps([results, logged]))
"""


def test_only_a_receipted_transition_removes_a_device(micropython, tmp_path):
    """The gateway's ERROR "not a member" is not proof: the device keeps its group state
    and asks again later. A FINAL with a receipted transition of this group that declares
    the device removed is proof (state dropped, saved); a later one that does not remove it
    means catch up; one without valid receipts is rejected and changes nothing."""
    from groupkey import relay

    identity = ed25519.public_key(b"\x07" * 32)

    def final(removed, sequence, nodes):
        body = bodies.Transition(2, b"\x44" * 32, [], removed, [], b"tgdh bytes").encode()
        item = entries.Entry(entries.TRANSITION, GROUP.encode(), sequence, b"\x22" * 32, body,
                             NODE_KEYS[0])
        item.signature = b"\x00" * 64  # the device checks receipts and body, not this
        raw = item.encode()
        if nodes is None:  # receipts over another entry
            return relay.final(raw, bundle(b"another entry", [0, 1]))
        return relay.final(raw, bundle(raw, nodes))

    results, logged = run_member_script(micropython, tmp_path, REMOVAL_SCRIPT, {
        "keys": [key.hex() for key in NODE_KEYS[:3]], "identity": identity.hex(),
        "error": relay.error(relay.ERROR_REJECTED, "not a member").hex(),
        "final_other": final([NODE_KEYS[3]], 7, [0, 2]).hex(),
        "final_forged": final([identity], 8, None).hex(),
        "final_removed": final([identity], 8, [1, 2]).hex(),
    })
    assert results[0] == ["handled", True, True, 0]  # ERROR: state kept, nothing saved
    assert results[1] == ["handled", True, True]  # a later epoch: catch up
    assert results[2] == ["Rejected", True]  # no valid receipts: nothing changes
    assert results[3] == ["handled", True, None, 1]  # proof: state dropped and saved
    assert "removed" in logged and logged.count("removed") == 1


def test_a_member_sponsor_needs_every_joiners_signed_request(group):
    """SPONSOR as a member: each join of the transition must come with the joiner's own JOIN
    signature over exactly that blinded key (a gateway cannot slip in a join with a key it
    chose); merges are refused; a transition without joins needs nothing."""
    from groupkey import relay

    simulation = group[0]
    joiner = simulation.new_identity()
    blinded = joiner.blinded_key()
    state = simulation.state
    request = state.sponsor_request(state.prepare([events.join(joiner.public, blinded)]))
    signature = ed25519.sign(joiner.seed, relay.request_message(
        relay.JOIN, GROUP.encode(), joiner.public, blinded))
    accept.check_join_proofs(request, [(joiner.public, blinded, signature)], GROUP.encode())
    # decoded from a real SPONSOR message, as the device gets it
    message = relay.decode(relay.sponsor(5, request, [(joiner.public, blinded, signature)]))
    accept.check_join_proofs(message.data, message.join_proofs, GROUP.encode())
    chosen = simulation.new_identity().blinded_key()  # a key the gateway made up
    forged = state.sponsor_request(state.prepare([events.join(joiner.public, chosen)]))
    cases = [
        (request, [], "without its signed request"),
        (forged, [(joiner.public, blinded, signature)], "without its signed request"),
        (forged, [(joiner.public, chosen, signature)], "does not verify"),
        (request, [(joiner.public, blinded, signature)], "does not verify", b"other group"),
    ]
    for case in cases:
        data, proofs, reason = case[:3]
        group_id = case[3] if len(case) > 3 else GROUP.encode()
        with pytest.raises(Rejected, match=reason):
            accept.check_join_proofs(data, proofs, group_id)
    leaf = simulation.state.tree.leaves()[0]
    refresh = state.sponsor_request(state.prepare([events.refresh(leaf)]))
    accept.check_join_proofs(refresh, [], GROUP.encode())
    other = Simulation(b"other group", seeded(13))
    other.run([other.join_operation(other.new_identity())])
    merge = state.sponsor_request(state.prepare([events.merge(other.state.tree)]))
    with pytest.raises(Rejected, match="merge"):
        accept.check_join_proofs(merge, [], GROUP.encode())
    # cheap checks before any signature: the epoch, repeated joiners
    epoch = simulation.state.epoch
    with pytest.raises(Rejected, match="epoch"):
        accept.check_join_proofs(request, [(joiner.public, blinded, signature)],
                                 GROUP.encode(), epoch + 1)
    accept.check_join_proofs(request, [(joiner.public, blinded, signature)], GROUP.encode(),
                             epoch)
    from groupkey.tgdh import transition
    from groupkey.tgdh.messages import SponsorRequest

    # what a gateway could craft (prepare() itself refuses it)
    prefix = transition.encode_prefix(GROUP.encode(), epoch + 1, b"\x00" * 32, [
        events.join(joiner.public, blinded, 1), events.join(joiner.public, blinded, 2)])
    twice = SponsorRequest(0, False, prefix, []).encode()
    with pytest.raises(Rejected, match="joins twice"):
        accept.check_join_proofs(twice, [(joiner.public, blinded, signature)], GROUP.encode())
    with pytest.raises(Rejected, match="sponsor request"):
        accept.check_join_proofs(b"\x01\x02", [], GROUP.encode())


EARLIER_SCRIPT = """
import asyncio
import json
import sys
from binascii import hexlify, unhexlify

from app import flows
from app.member import Member
from groupkey.tgdh.member import Member as TGDHMember

args = json.loads(open(sys.argv[1]).read())


class Store:  # flash double
    def save(self, data):
        return 1


def device(earlier):
    member = Member({"group_id": "g1"}, "dev-a", Store(), lambda event, detail=None: None)
    member.seed = unhexlify(args["seed"])
    member.tgdh = TGDHMember.import_state(unhexlify(args["state"]), member.seed)
    member.tgdh.restore_pending(unhexlify(args["second"]))  # the second SPONSOR's secret
    member.state = {"sponsor_secret": args["second"], "earlier_secrets": earlier}
    return member


async def main():
    outcomes = []
    for earlier in ([args["first"]], None):
        member = device(earlier)
        try:
            await flows.handle_with_earlier(member, unhexlify(args["update"]))
            outcomes.append(["epoch", member.tgdh.epoch, hexlify(member.tgdh.export(
                b"check", b"", 8)).decode()])
        except Exception as exc:
            outcomes.append([type(exc).__name__, member.tgdh.epoch,
                             member.tgdh.leaf_secrets()[-1] == unhexlify(args["second"])])
    print(json.dumps(outcomes))


asyncio.run(main())
"""


def test_a_second_sponsor_request_does_not_lock_the_device_out(micropython, tmp_path):
    """A gateway sends SPONSOR twice for one epoch and the FIRST transition becomes final:
    the device kept the first contribution's secret (earlier_secrets) and opens the epoch
    with it; without it the epoch cannot be opened (the device would be stuck), and the
    pending secret of the second contribution is put back."""
    simulation = Simulation(GROUP.encode(), seeded(21))
    for _ in range(2):
        identity = simulation.new_identity()
        simulation.run([simulation.join_operation(identity)])
    public = simulation.state.members()[0]
    member = simulation.members[public]
    state = member.export_state()
    first = simulation.build([events.refresh(simulation.leaf_of(public))])
    first_secret = member.leaf_secrets()[-1]
    simulation.build([events.refresh(simulation.leaf_of(public))])  # the second SPONSOR
    second_secret = member.leaf_secrets()[-1]
    assert first_secret != second_secret
    new_state = simulation.state.apply(first)
    update = new_state.member_update(simulation.state, first, public)
    other = simulation.members[simulation.state.members()[1]]
    other.handle(new_state.member_update(simulation.state, first, other.identity))
    opened, stuck = run_member_script(micropython, tmp_path, EARLIER_SCRIPT, {
        "seed": member.signing_seed.hex(), "state": state.hex(), "update": update.hex(),
        "first": first_secret.hex(), "second": second_secret.hex()})
    assert opened == ["epoch", new_state.epoch, other.export(b"check", b"", 8).hex()]
    assert stuck == ["InconsistentBlindedKey", new_state.epoch - 1, True]


SPONSOR_LIMIT_SCRIPT = """
import asyncio
import json

from app import flows
from app.member import Member
from groupkey import relay


class Store:  # flash double
    def save(self, data):
        return 1


async def main():
    outcomes = []
    for earlier in (["01" * 32] * 3, ["01" * 32] * 2):
        member = Member({"group_id": "g1"}, "dev-a", Store(), lambda event, detail=None: None)
        member.random_bytes = lambda length: bytes(length)
        member.state = {"pending": "aa" * 32, "sponsor_secret": "bb" * 32,
                        "earlier_secrets": list(earlier)}
        try:
            await flows.dispatch(member, relay.decode(relay.sponsor(1, b"not a request")))
            outcome = "contributed"
        except flows.Rejected as exc:
            outcome = "Rejected: " + str(exc)
        except Exception as exc:
            outcome = type(exc).__name__
        outcomes.append([outcome, member.state["earlier_secrets"],
                         member.state["sponsor_secret"]])
    print(json.dumps(outcomes))


asyncio.run(main())
"""


def test_earlier_secrets_are_never_evicted(micropython, tmp_path):
    """Past MAX_EARLIER_SECRETS contributions for one epoch the device refuses to contribute
    (state unchanged) rather than drop the oldest secret, which could be the one of the
    transition that became final; below the limit the current secret joins the list."""
    full, room = run_member_script(micropython, tmp_path, SPONSOR_LIMIT_SCRIPT)
    assert full[0].startswith("Rejected") and "contributions for one epoch" in full[0]
    assert full[1:] == [["01" * 32] * 3, "bb" * 32]
    assert room[0] != "contributed"  # the request itself is garbage: refused after saving
    assert room[1] == ["01" * 32] * 2 + ["bb" * 32] and room[2] == "00" * 32
