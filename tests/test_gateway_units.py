"""Gateway pieces without processes: configuration, batching into TGDH operations, the
joiner-sponsor filter, the operator's offer/genesis/invitation checks."""

from __future__ import annotations

import pytest

from gateway import config as configuration
from gateway import operator, rounds
from groupkey import relay
from groupkey.crypto import ed25519
from groupkey.did import did_from_public_key
from groupkey.ledger import bodies
from groupkey.ledger import entry as entries
from groupkey.tgdh import events, keys
from groupkey.tgdh.simulation import DeterministicRandom, Simulation
from groupkey.tgdh.state import PublicGroupState

GROUP = b"units"


def write(tmp_path, text):
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_config_defaults_and_errors(tmp_path):
    settings = configuration.load(write(tmp_path, '[ledger]\nurls = ["http://a"]\n'
                                                  '[groups]\nnames = ["g1"]\n'))
    assert settings.timing["batch_window_ms"] == 200
    assert settings.rounds["joiner_sponsors"] is True
    with pytest.raises(configuration.ConfigError):
        configuration.load(write(tmp_path, '[groups]\nnames = ["g1"]\n'))
    with pytest.raises(configuration.ConfigError):
        configuration.load(write(tmp_path, '[ledger]\nurls = ["http://a"]\n'
                                           '[groups]\nnames = ["a/b"]\n'))
    with pytest.raises(configuration.ConfigError):
        configuration.load(write(tmp_path, "not toml ["))
    with pytest.raises(configuration.ConfigError):
        configuration.load(tmp_path / "missing.toml")


def group_of(size):
    rand = DeterministicRandom(b"gateway units %d" % size)
    simulation = Simulation(GROUP, rand)
    for _ in range(size - 1):
        identity = simulation.new_identity()
        simulation.run([simulation.join_operation(identity)])
    return simulation, rand


def test_build_operations_orders_leaves_joins_refreshes():
    simulation, rand = group_of(5)
    state = simulation.state
    members = state.members()
    newcomer = ed25519.public_key(rand(32))
    blinded = keys.blinded_key(rand(32))
    batch = [rounds.Request(relay.REFRESH, members[0], "a"),
             rounds.Request(relay.JOIN, newcomer, "n", blinded),
             rounds.Request(relay.LEAVE, members[3], "d"),
             rounds.Request(relay.LEAVE, members[1], "b"),
             rounds.Request(relay.LEAVE, members[3], "d")]
    operations, joined, removed = rounds.build_operations(state, batch)
    assert [operation.kind for operation in operations] == [
        events.LEAVE, events.LEAVE, events.JOIN, events.REFRESH]
    assert removed == [members[3], members[1]] and joined == [newcomer]
    # the indices follow the tree as each earlier operation left it: prepare accepts them
    data = state.prepare(operations)
    assert data
    staged = events.stage(state.tree, operations)
    assert staged.leaf_of(members[3]) is None and staged.leaf_of(members[1]) is None
    assert staged.leaf_of(members[0]) == operations[-1].node


def test_refresh_of_a_leaver_is_dropped():
    simulation, _ = group_of(3)
    members = simulation.state.members()
    batch = [rounds.Request(relay.LEAVE, members[1], "b"),
             rounds.Request(relay.REFRESH, members[1], "b")]
    operations, _, removed = rounds.build_operations(simulation.state, batch)
    assert [operation.kind for operation in operations] == [events.LEAVE]
    assert removed == [members[1]]


def test_joiner_sponsor_filter_keeps_only_member_sponsors():
    simulation, rand = group_of(4)
    state = simulation.state
    joins = []
    for index in range(6):
        identity = ed25519.public_key(rand(32))
        joins.append(rounds.Request(relay.JOIN, identity, "j%d" % index,
                                    keys.blinded_key(rand(32))))
    operations, _, _ = rounds.build_operations(state, joins)
    sponsors = rounds.sponsors_of(state, operations)
    assert any(sponsor not in state.members() for sponsor in sponsors)  # joiners would sponsor
    batch, later = rounds.without_joiner_sponsors(state, joins)
    assert batch and len(batch) + len(later) == len(joins)
    operations, _, _ = rounds.build_operations(state, batch)
    assert set(rounds.sponsors_of(state, operations)) <= set(state.members())
    assert batch == joins[:len(batch)]  # arrival order kept


def test_event_codes():
    assert rounds.event_code([b"x"], []) == rounds.EVENT_JOIN
    assert rounds.event_code([], [b"x"]) == rounds.EVENT_LEAVE
    assert rounds.event_code([], []) == rounds.EVENT_REFRESH
    assert rounds.event_code([b"x"], [b"y"]) == rounds.EVENT_BATCH


def founder_offer(seed, secret, device="dev-01"):
    identity = ed25519.public_key(seed)
    blinded = keys.blinded_key(secret)
    signature = ed25519.sign(seed, relay.request_message(relay.FOUND, GROUP, identity,
                                                         blinded))
    found = relay.signed_request(relay.FOUND, GROUP, identity, signature, blinded)
    return relay.offer(device, found[2:]), identity, blinded


def test_operator_offer_genesis_and_invitation():
    rand = DeterministicRandom(b"operator")
    payload, identity, blinded = founder_offer(rand(32), rand(32))
    offer = operator.parse_offer(payload, GROUP)
    assert (offer.device_id, offer.identity, offer.blinded_key) == ("dev-01", identity,
                                                                    blinded)
    admin_seed = rand(32)
    nodes = [ed25519.public_key(rand(32)) for _ in range(3)]
    raw = operator.genesis_entry(GROUP, admin_seed, nodes, 2, offer)
    entry = entries.decode(raw)
    entry.verify_signature()
    body = bodies.Genesis.decode(entry.body)
    assert entry.kind == entries.GENESIS and entry.log_id == GROUP
    assert body.policy == entries.POLICY_INVITATION and body.threshold == 2
    assert body.nodes == nodes and body.admins == [ed25519.public_key(admin_seed)]
    state = PublicGroupState.decode(body.public_tree)
    assert state.members() == [identity] and state.epoch == 0
    member = ed25519.public_key(rand(32))
    for form in (member, member.hex(), did_from_public_key(member)):
        data = operator.invitation_bytes(GROUP, admin_seed, form)
        invitation = bodies.Invitation(data[:32], data[32:64], data[64:])
        assert invitation.member == member
        ed25519.verify(invitation.admin, invitation.message(GROUP), invitation.signature)


def test_operator_rejects_bad_offers_and_keys():
    rand = DeterministicRandom(b"operator bad")
    payload, _, _ = founder_offer(rand(32), rand(32))
    forged = bytearray(payload)
    forged[-1] ^= 1
    with pytest.raises(operator.OperatorError):
        operator.parse_offer(bytes(forged), GROUP)
    with pytest.raises(operator.OperatorError):
        operator.parse_offer(payload, b"another group")
    with pytest.raises(operator.OperatorError):
        operator.parse_offer(b"\x01\x90junk", GROUP)
    with pytest.raises(operator.OperatorError):
        operator.member_key("zz")
    with pytest.raises(operator.OperatorError):
        operator.member_key("00" * 31)


def test_operator_keygen_cli(tmp_path, capsys):
    import json

    path = tmp_path / "admin.key"
    assert operator.main(["keygen", "--out", str(path)]) == 0
    seed = bytes.fromhex(path.read_text().strip())
    printed = json.loads(capsys.readouterr().out)
    assert printed["admin_key"] == ed25519.public_key(seed).hex()
    assert path.stat().st_mode & 0o777 == 0o600


def test_gateway_cli_configuration_error(tmp_path):
    import subprocess
    import sys

    bad = write(tmp_path, '[groups]\nnames = ["g"]\n')
    result = subprocess.run([sys.executable, "-m", "gateway", "--config", str(bad)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "configuration error" in result.stderr


def test_batch_always_keeps_a_member_to_sign_the_entry():
    """A batch whose every sponsor is a joiner cannot be signed (the ledger wants a member
    before the transition): it must be shrunk, never retried identically forever."""
    found = 0
    for size in range(2, 18):
        simulation, rand = group_of(size)
        state = simulation.state
        for count in range(2, 7):
            joins = [rounds.Request(relay.JOIN, ed25519.public_key(rand(32)), "j%d" % index,
                                    keys.blinded_key(rand(32))) for index in range(count)]
            operations, _, _ = rounds.build_operations(state, joins)
            if any(s in state.members() for s in rounds.sponsors_of(state, operations)):
                continue
            found += 1
            batch, later = rounds.with_member_signer(state, joins)
            assert batch and batch + later == joins
            operations, _, _ = rounds.build_operations(state, batch)
            assert any(s in state.members() for s in rounds.sponsors_of(state, operations))
    assert found, "no batch sponsored only by joiners was generated: the test proves nothing"


# ------------------------------------------------------------- the adaptive batch window
async def _gather(arrivals, window, quiet, limit=16, old=0.0):
    """Run rounds.gather_batch on a live queue holding the first of ``arrivals``
    [(delay_s, request)], the others fed after their delays; return (seconds it waited,
    requests queued when it returned)."""
    import asyncio
    import time

    queue = []
    changed = asyncio.Event()

    async def feed():
        for delay, request in arrivals[1:]:
            await asyncio.sleep(delay)
            request.arrived = time.monotonic()  # as when a request is made on arrival
            queue.append(request)
            changed.set()

    first = arrivals[0][1]
    first.arrived = time.monotonic() - old
    queue.append(first)
    producer = asyncio.create_task(feed())
    await asyncio.sleep(0)
    started = time.monotonic()
    await rounds.gather_batch(queue, changed, window, quiet, limit)
    waited = time.monotonic() - started
    taken = list(queue)
    producer.cancel()
    return waited, taken


def _requests(count):
    simulation, rand = group_of(4)
    return simulation, [rounds.Request(relay.REFRESH, ed25519.public_key(rand(32)), "d%d" % i)
                        for i in range(count)]


def test_lone_request_starts_after_the_quiet_gap_not_the_window():
    import asyncio

    _, (request,) = _requests(1)
    waited, taken = asyncio.run(_gather([(0, request)], window=2.0, quiet=0.03))
    assert taken == [request]
    assert 0.025 <= waited < 1.0  # the quiet gap, far from the 2 s window


def test_requests_arriving_together_share_one_batch():
    """A join and a leave sent at the same moment (a few ms apart) are one transition."""
    import asyncio

    simulation, rand = group_of(5)
    state = simulation.state
    leave = rounds.Request(relay.LEAVE, state.members()[2], "leaver")
    join = rounds.Request(relay.JOIN, ed25519.public_key(rand(32)), "joiner",
                          keys.blinded_key(rand(32)))
    waited, taken = asyncio.run(_gather([(0, leave), (0.005, join)], window=2.0, quiet=0.05))
    assert taken == [leave, join] and waited < 1.0
    operations, joined, removed = rounds.build_operations(state, taken)
    assert joined == [join.identity] and removed == [leave.identity]


def test_steady_arrivals_are_batched_until_the_window_closes():
    import asyncio

    _, requests = _requests(60)
    arrivals = [(0, requests[0])] + [(0.01, request) for request in requests[1:]]
    waited, taken = asyncio.run(_gather(arrivals, window=0.25, quiet=0.1, limit=100))
    # never quiet for 100 ms, so it waited for the whole window, then stopped batching
    assert 0.24 <= waited < 0.6
    assert 5 <= len(taken) < len(requests)
    assert taken == requests[:len(taken)]


def test_full_or_old_queue_starts_at_once():
    import asyncio

    _, requests = _requests(3)
    arrivals = [(0, requests[0]), (0, requests[1]), (0, requests[2])]
    waited, taken = asyncio.run(_gather(arrivals, window=2.0, quiet=1.0, limit=3))
    assert len(taken) == 3 and waited < 0.5  # max_requests reached
    # requests that queued up while a round was running are already older than the window
    waited, taken = asyncio.run(_gather([(0, requests[0])], window=0.2, quiet=1.0, old=0.5))
    assert taken == [requests[0]] and waited < 0.1
