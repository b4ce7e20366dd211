"""Pure validation (ledger_node.validation) on real TGDH groups: random valid histories are
accepted, every single mutation of a valid entry is rejected with the right outcome,
authorization rules, and the decoders give one clean error on malformed input."""

from __future__ import annotations

import hashlib
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from groupkey.crypto import ed25519
from groupkey.ledger import bodies, events, receipt
from groupkey.ledger import entry as entries
from groupkey.ledger.errors import DecodeError
from groupkey.tgdh.simulation import DeterministicRandom
from ledger_node import validation
from ledger_node.fixtures import GroupDriver
from ledger_node.state import GROUP, IDENTITY, LedgerState

NODE_KEYS = [hashlib.sha256(b"node %d" % index).digest() for index in range(3)]


class World:
    """A ledger state and a TGDH group driver that builds valid next entries for it."""

    def __init__(self, seed: int, policy: int = entries.POLICY_ALLOW_LIST, devices: int = 4):
        self.driver = GroupDriver(b"group %d" % seed, DeterministicRandom(b"%d" % seed),
                                  NODE_KEYS, 2, policy)
        self.state = LedgerState()
        self.history: list[bytes] = []
        self.accept(self.driver.inception(self.driver.founder))
        self.devices = []
        for _ in range(devices):
            key, raw = self.driver.new_identity()
            self.accept(raw)
            self.devices.append(key)
        self.accept(self.driver.genesis(allowed=self.devices))
        self.joined: set[bytes] = set()

    def accept(self, raw: bytes) -> None:
        decision = validation.validate(self.state, raw)
        assert decision.outcome == validation.ACCEPTED, decision.reason
        self.state.apply(decision.change)
        self.history.append(raw)

    def members(self) -> list[bytes]:
        return self.state.groups[self.driver.group_id].members

    def join(self, key: bytes) -> bytes:
        self.joined.add(key)
        return self.driver.transition(joined=[key])


def expect(state: LedgerState, raw: bytes, outcome: str) -> validation.Decision:
    decision = validation.validate(state, raw)
    assert decision.outcome == outcome, (decision.outcome, decision.reason)
    return decision


def build_history(seed: int, steps: list[int]) -> World:
    world = World(seed)
    for step in steps:
        members = world.members()
        outsiders = [key for key in world.devices if key not in world.joined]
        if step == 0 and outsiders:
            world.accept(world.join(outsiders[0]))
        elif step == 1 and len(members) > 2:
            world.accept(world.driver.transition(removed=[members[len(members) // 2]]))
        elif step == 2:
            key, raw = world.driver.new_identity()
            world.accept(raw)
        else:
            world.accept(world.driver.transition(refresh=members[-1]))
    return world


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32), st.lists(st.integers(0, 3), min_size=1, max_size=8))
def test_random_valid_histories_are_accepted_and_replay(seed, steps):
    world = build_history(seed, steps)
    replay = LedgerState()
    for raw in world.history:
        decision = validation.validate(replay, raw)
        assert decision.outcome == validation.ACCEPTED, decision.reason
        replay.apply(decision.change)
        assert validation.validate(replay, raw).outcome == validation.DUPLICATE
    group = replay.groups[world.driver.group_id]
    assert group.members == world.driver.members()
    assert group.public_view.tree_hash == world.driver.simulation.state.tree_hash()


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_every_bit_flip_of_the_next_entry_is_rejected(data):
    world = build_history(1, [0, 0])
    raw = world.driver.transition(refresh=world.members()[0])
    expect(world.state, raw, validation.ACCEPTED)
    position = data.draw(st.integers(0, len(raw) * 8 - 1))
    flipped = bytearray(raw)
    flipped[position // 8] ^= 1 << (position % 8)
    expect(world.state, bytes(flipped), validation.INVALID)


def _resign(raw: bytes, seed: bytes, **changes) -> bytes:
    item = entries.decode(raw)
    fields = dict(kind=item.kind, log_id=item.log_id, sequence=item.sequence,
                  previous_hash=item.previous_hash, body=item.body,
                  signer=ed25519.public_key(seed))
    fields.update(changes)
    return entries.sign(entries.Entry(**fields), seed)


def _with_body(raw: bytes, seed: bytes, **changes) -> bytes:
    body = bodies.Transition.decode(entries.decode(raw).body)
    for name, value in changes.items():
        setattr(body, name, value)
    return _resign(raw, seed, body=body.encode())


def test_named_mutations_get_the_right_outcome():
    world = build_history(7, [0, 0, 3])
    good = world.driver.transition(refresh=world.members()[-1])
    item = entries.decode(good)
    seed = world.driver.seeds[item.signer]
    state = world.state
    expect(state, good[:-64], validation.INVALID)  # dropped signature
    expect(state, good[:-64] + bytes(64), validation.INVALID)  # zeroed signature
    expect(state, good + b"\x00", validation.INVALID)  # trailing byte
    expect(state, _resign(good, seed, sequence=item.sequence + 1), validation.OUT_OF_ORDER)
    expect(state, _resign(good, seed, previous_hash=bytes(32)), validation.INVALID)
    expect(state, _resign(good, seed, sequence=item.sequence - 1), validation.CONFLICT)
    wrong_hash = _with_body(good, seed, new_tree_hash=hashlib.sha256(b"x").digest())
    assert "tree hash" in expect(state, wrong_hash, validation.INVALID).reason
    undeclared = _with_body(good, seed, joined=[world.devices[-1]])
    expect(state, undeclared, validation.INVALID)
    tampered = _with_body(good, seed, tgdh=bodies.Transition.decode(item.body).tgdh[:-1])
    assert "DecodeError" in expect(state, tampered, validation.INVALID).reason
    # A sponsor contribution whose signature is broken (wrapper re-signed correctly).
    from groupkey.tgdh import transition as tgdh_transition

    data = bodies.Transition.decode(item.body).tgdh
    signature = tgdh_transition.decode(data).contributions[0].signature
    position = data.find(signature)
    broken = data[:position] + bytes([signature[0] ^ 1]) + data[position + 1:]
    reason = expect(state, _with_body(good, seed, tgdh=broken), validation.INVALID).reason
    assert "BadSignature" in reason
    outsider = os.urandom(32)
    expect(state, _resign(good, outsider), validation.INVALID)  # not a member
    # Reordering: the entry after `good` is out of order until `good` is in.
    world.accept(good)
    following = world.driver.transition(refresh=world.members()[0])
    expect(build_history(7, [0, 0, 3]).state, following, validation.OUT_OF_ORDER)
    world.accept(following)


def test_revocation_identity_rules_and_pending_removal():
    world = build_history(11, [0, 0, 0])
    driver = world.driver
    members = world.members()
    victim = members[1]
    admin_seed = driver.seeds[driver.founder]
    sequence, head = world.state.head((IDENTITY, victim))
    # Only the device itself or an admin of one of its groups may revoke it.
    stranger = events.revocation(victim, sequence, head, driver.seeds[members[2]])
    expect(world.state, stranger, validation.INVALID)
    world.accept(events.revocation(victim, sequence, head, admin_seed, driver.group_id))
    group = world.state.groups[driver.group_id]
    assert group.pending_removals == {victim}
    assert world.state.identities[victim].revoked
    # A revoked key can no longer sponsor: re-sign a valid transition with its key.
    good = driver.transition(removed=[victim])
    expect(world.state, _resign(good, driver.seeds[victim]), validation.INVALID)
    world.accept(good)
    assert world.state.groups[driver.group_id].pending_removals == set()
    # Rotation must reveal exactly the committed key and be signed by it.
    rotating_seed, next_seed = os.urandom(32), os.urandom(32)
    world.accept(events.inception(rotating_seed, ed25519.public_key(next_seed)))
    identity = ed25519.public_key(rotating_seed)
    sequence, head = world.state.head((IDENTITY, identity))
    wrong = events.rotation(identity, sequence, head, os.urandom(32), os.urandom(32))
    assert "pre-rotation" in expect(world.state, wrong, validation.INVALID).reason
    world.accept(events.rotation(identity, sequence, head, next_seed, os.urandom(32)))
    assert world.state.identities[identity].current_key == ed25519.public_key(next_seed)


def test_unknown_or_revoked_keys_cannot_join():
    world = World(12)
    never_incepted = world.driver.simulation.new_identity()
    world.driver.identities[never_incepted.public] = never_incepted
    world.driver.seeds[never_incepted.public] = never_incepted.seed
    decision = expect(world.state, world.driver.transition(joined=[never_incepted.public]),
                      validation.INVALID)
    assert "unknown or revoked" in decision.reason


def test_allow_list_and_invitation_policies():
    world = World(13, devices=2)
    key, raw = world.driver.new_identity()  # incepted but not on the allow-list
    world.accept(raw)
    expect(world.state, world.join(key), validation.INVALID)

    invited = World(14, policy=entries.POLICY_INVITATION, devices=2)
    driver = invited.driver
    admin_seed = driver.seeds[driver.founder]
    newcomer = invited.devices[0]
    invitation = events.invitation(driver.group_id, admin_seed, newcomer)
    forged = events.invitation(driver.group_id, driver.seeds[invited.devices[1]], newcomer)
    good = driver.transition(joined=[newcomer], invitations=[invitation])
    seed = driver.seeds[entries.decode(good).signer]
    expect(invited.state, _with_body(good, seed, invitations=[]), validation.INVALID)
    expect(invited.state, _with_body(good, seed, invitations=[forged]), validation.INVALID)
    invited.accept(good)
    assert newcomer in invited.members()


def test_genesis_must_be_valid_tgdh_epoch_zero():
    world = World(15, devices=1)
    driver = world.driver
    admin = driver.seeds[driver.founder]
    other = GroupDriver(b"other group", DeterministicRandom(b"o"), NODE_KEYS, 2)
    bad = events.genesis(b"fresh group", admin, [driver.founder], NODE_KEYS, 2,
                         other.simulation.state.encode())
    expect(world.state, bad, validation.INVALID)
    too_high = events.genesis(b"fresh group", admin, [driver.founder], NODE_KEYS, 4,
                              driver.simulation.state.encode())
    expect(world.state, too_high, validation.INVALID)
    # 1 of 3 (and 2 of 4) would let two disjoint sets of honest nodes finalize two epochs
    no_majority = events.genesis(b"fresh group", admin, [driver.founder], NODE_KEYS, 1,
                                 driver.simulation.state.encode())
    expect(world.state, no_majority, validation.INVALID)
    four = NODE_KEYS + [hashlib.sha256(b"node 3").digest()]
    half = events.genesis(b"fresh group", admin, [driver.founder], four, 2,
                          driver.simulation.state.encode())
    expect(world.state, half, validation.INVALID)
    assert world.state.head((GROUP, b"fresh group")) == (0, None)


@given(st.binary(max_size=300))
def test_entry_and_body_decoders_give_one_clean_error(data):
    for decoder in (entries.decode, bodies.KeyEvent.decode, bodies.Revocation.decode,
                    bodies.Genesis.decode, bodies.Transition.decode, receipt.Receipt.decode,
                    receipt.Checkpoint.decode, receipt.decode_bundle):
        try:
            decoder(data)
        except DecodeError:
            pass


@given(st.binary(min_size=1, max_size=300))
def test_validate_never_raises(data):
    assert validation.validate(LedgerState(), data).outcome in (validation.INVALID,
                                                                 validation.OUT_OF_ORDER)
