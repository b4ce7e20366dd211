"""TGDH inside the real MicroPython interpreter: a light member processes a leave in a
256-member group (worst-case and typical position) and acts as sponsor; results must equal
CPython's. The seeded whole-group scenarios run as vectors (tests/vectors/tgdh_scenario.json).

Heap: the modules run precompiled (.mpy, as on a board). On the unix port the loaded bytecode
normally lives in the heap (groupkey.tgdh + crypto: about 76 KB of it), so most runs use a
192 KB cap; the data peak of processing a leave is about 21 KB (docs/benchmarks.md, TGDH).
One test runs the 4096-member case with the code in a ROMFS image outside the heap, as in a
board's flash (tests/micropython_romfs.py, decision D-FW6), at the 96 KB budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groupkey.tgdh import events, keys, tree
from groupkey.tgdh.member import Member
from groupkey.tgdh.messages import SponsorRequest
from groupkey.tgdh.simulation import DeterministicRandom, synthetic_group

SCRIPT = Path(__file__).parent / "mpy" / "tgdh_light_member.py"
SIZE = 256
HEAP = "192K"


def run_precompiled(script, args):
    """Run ``script`` with the library precompiled; raise with MicroPython's output on error."""
    from bench import micropython as bench_micropython

    outcome = bench_micropython.run(script, [str(argument) for argument in args], heap=HEAP,
                                    precompiled=True)
    assert outcome.ok, outcome.describe()
    return outcome


def make_leave_event(size, label):
    """A leave in a synthetic group of ``size``, with the sponsor's contribution applied."""
    rand = DeterministicRandom(b"micropython-leave" + label)
    state, identities = synthetic_group(b"mpy-group" + label, size, rand)
    leaves = state.tree.leaves()
    leaving = leaves[37]
    prefix = state.prepare([events.leave(leaving)])
    request = state.sponsor_request(prefix)
    _, staged, _ = state.replay(prefix, verify=False, allow_incomplete=True)
    sponsor_leaf = SponsorRequest.decode(request).leaf
    sponsor_identity = staged.identity[sponsor_leaf]
    sponsor_secret = identities[sponsor_identity]
    sponsor = Member.from_public_state(state, sponsor_identity, sponsor_secret.secret,
                                       sponsor_secret.seed)
    sponsor_state = sponsor.export_state()
    fresh_secret = rand(32)
    data = sponsor.contribute_from_parts(request, fresh_secret)
    new_state = state.apply(data)
    # Worst case: the member whose path shares most with the sponsor's.
    sibling = sponsor_leaf ^ 1
    worst_leaf = sibling if staged.is_leaf(sibling) else staged.rightmost_leaf(sibling)
    worst = staged.identity[worst_leaf]
    typical = state.tree.identity[leaves[200]]
    return {"state": state, "new_state": new_state, "identities": identities, "data": data,
            "worst": worst, "typical": typical, "request": request,
            "sponsor_state": sponsor_state, "sponsor_seed": sponsor_secret.seed,
            "fresh_secret": fresh_secret}


@pytest.fixture(scope="module")
def leave_event():
    return make_leave_event(SIZE, b"")


def run_light(micropython, tmp_path, event, who, romfs_heap=None):
    identity = event[who]
    secret = event["identities"][identity]
    member = Member.from_public_state(event["state"], identity, secret.secret)
    update = event["new_state"].member_update(event["state"], event["data"], identity)
    (tmp_path / "state").write_bytes(member.export_state())
    (tmp_path / "update").write_bytes(update)
    arguments = ["run", tmp_path / "state", tmp_path / "update"]
    if romfs_heap is None:
        result = run_precompiled(SCRIPT, arguments)
    else:
        from bench import micropython as bench_micropython

        result = bench_micropython.run(SCRIPT, [str(argument) for argument in arguments],
                                       heap=romfs_heap, romfs=True)
        assert result.ok, result.describe()
    member.handle(update)
    return json.loads(result.stdout.strip().splitlines()[-1]), member, len(update)


@pytest.mark.micropython
@pytest.mark.parametrize("who", ["worst", "typical"])
def test_light_member_handles_a_leave(micropython, tmp_path, leave_event, who):
    line, member, size = run_light(micropython, tmp_path, leave_event, who)
    assert line["epoch"] == leave_event["new_state"].epoch == member.epoch
    assert line["tree_hash"] == keys.fingerprint(leave_event["new_state"].tree_hash())
    assert line["epoch_secret"] == keys.fingerprint(member.epoch_secret)
    assert line["x25519"] == member.x25519_operations
    assert line["yields"] >= line["x25519"]
    assert member.x25519_operations <= tree.level(member.leaf)
    assert size <= 730


@pytest.mark.micropython
def test_light_member_leave_at_4096_fits_96k_with_code_in_flash(micropython, tmp_path):
    """Issue 3's heap target: the worst-placed light member of a 4096-member group processes
    a leave from a cold start (first Ed25519 verification included) in `-X heapsize=96K`,
    with the code in a ROMFS image outside the heap as on a board (tests/micropython_romfs.py),
    and derives CPython's keys."""
    event = make_leave_event(4096, b"-4096")
    line, member, size = run_light(micropython, tmp_path, event, "worst", romfs_heap="96K")
    assert line["epoch"] == event["new_state"].epoch == member.epoch
    assert line["epoch_secret"] == keys.fingerprint(member.epoch_secret)
    assert line["tree_hash"] == keys.fingerprint(event["new_state"].tree_hash())
    assert line["x25519"] == member.x25519_operations >= 10
    assert size <= 800


@pytest.mark.micropython
def test_light_member_sponsors_in_micropython(micropython, tmp_path, leave_event):
    (tmp_path / "state").write_bytes(leave_event["sponsor_state"])
    (tmp_path / "request").write_bytes(leave_event["request"])
    result = run_precompiled(SCRIPT, ["sponsor", tmp_path / "state", tmp_path / "request",
                                      leave_event["fresh_secret"].hex(),
                                      leave_event["sponsor_seed"].hex()])
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert bytes.fromhex(line["transition"]) == leave_event["data"]
    assert leave_event["state"].apply(bytes.fromhex(line["transition"])).tree_hash() == \
        leave_event["new_state"].tree_hash()
