"""Negative tests: every bad input gives its named error and leaves the state unchanged
(light member, full member and PublicGroupState), and the good message still applies after."""

from __future__ import annotations

from hashlib import sha256

import pytest

from groupkey.tgdh import events, keys, messages, sponsor, transition, tree
from groupkey.tgdh.errors import (
    BadSignature,
    DecodeError,
    Duplicate,
    IncompleteView,
    InconsistentBlindedKey,
    NotReady,
    NotSponsor,
    Removed,
    TreeHashMismatch,
    WrongEpoch,
    WrongGroup,
)
from groupkey.tgdh.member import Member
from groupkey.tgdh.simulation import DeterministicRandom, Simulation
from groupkey.tgdh.state import PublicGroupState


class Setup:
    """A 7-member light group, one observed light member (the sponsor's sibling), a full copy
    of it, and a valid leave transition not yet delivered."""

    def __init__(self):
        self.group = Simulation(b"negative", DeterministicRandom(b"negative"))
        for _ in range(6):
            self.group.run([self.group.join_operation(self.group.new_identity())])
        leaves = self.group.state.tree.leaves()
        self.leaving = leaves[2]
        self.operations = [events.leave(self.leaving)]
        prefix = self.group.state.prepare(self.operations)
        request = messages.SponsorRequest.decode(self.group.state.sponsor_request(prefix))
        staged_sponsor = request.leaf
        _, staged, _ = self.group.state.replay(prefix, verify=False, allow_incomplete=True)
        self.sponsor_identity = staged.identity[staged_sponsor]
        observed_leaf = staged_sponsor ^ 1
        if not staged.is_leaf(observed_leaf):
            observed_leaf = staged.rightmost_leaf(observed_leaf)
        self.observed_identity = staged.identity[observed_leaf]
        self.light = self.group.members[self.observed_identity]
        self.full = Member.import_state(self.light.export_state(), self.light.signing_seed)
        self.full.public = PublicGroupState.decode(self.group.state.encode())
        self.prefix = prefix
        self.request_bytes = self.group.state.sponsor_request(prefix)
        self.data = self.group.build(self.operations)
        self.new_state = self.group.state.apply(self.data)
        self.update = self.new_state.member_update(self.group.state, self.data,
                                                   self.observed_identity)

    def snapshots(self):
        return (self.light.export_state(), self.full.export_state(), self.group.state.encode())

    def expect(self, error, light_message=None, full_message=None, public_message=None):
        before = self.snapshots()
        if light_message is not None:
            with pytest.raises(error):
                self.light.handle(light_message)
        if full_message is not None:
            with pytest.raises(error):
                self.full.handle(full_message)
        if public_message is not None:
            with pytest.raises(error):
                self.group.state.apply(public_message)
        assert self.snapshots() == before
        # The genuine message still applies afterwards.
        assert self.light.handle(self.update) == self.group.state.epoch + 1
        assert self.full.handle(self.data) == self.group.state.epoch + 1
        assert self.light.epoch_secret == self.full.epoch_secret


@pytest.fixture
def setup():
    return Setup()


def rebuild_update(setup, data, entries=None, identities=None):
    original = messages.MemberUpdate.decode(setup.update)
    return messages.MemberUpdate(data, original.identities if identities is None else identities,
                                 original.entries if entries is None else entries).encode()


def test_forged_signature(setup):
    forged = setup.data[:-1] + bytes([setup.data[-1] ^ 1])
    setup.expect(BadSignature, rebuild_update(setup, forged), forged, forged)


def test_signature_by_another_identity(setup):
    other = next(i for i in setup.group.members if i != setup.sponsor_identity)
    update = rebuild_update(setup, setup.data, identities=[other])
    setup.expect(BadSignature, update)


def test_missing_signature_is_truncation(setup):
    cut = setup.data[:-64]
    setup.expect(DecodeError, rebuild_update(setup, cut), cut, cut)


@pytest.mark.parametrize("change", ["truncate", "extend"])
def test_truncated_or_oversized(setup, change):
    data = setup.data[:-7] if change == "truncate" else setup.data + b"\x00"
    update = setup.update[:-5] if change == "truncate" else setup.update + b"\x00"
    setup.expect(DecodeError, update, data, data)


def test_duplicate_and_stale_and_future(setup):
    # Commit the genuine transition, then replay it: Duplicate.
    setup.light.handle(setup.update)
    setup.full.handle(setup.data)
    with pytest.raises(Duplicate):
        setup.light.handle(setup.update)
    with pytest.raises(Duplicate):
        setup.full.handle(setup.data)
    state = setup.group.state.apply(setup.data)
    with pytest.raises(Duplicate):
        state.apply(setup.data)
    # A future epoch (skipping one) and a stale one, on a fresh group.
    group = Simulation(b"epochs", DeterministicRandom(b"epochs"))
    first = group.run([group.join_operation(group.new_identity())])
    before = group.state
    second = group.run([events.refresh(group.state.tree.leaves()[0])])
    third = group.build([events.refresh(group.state.tree.leaves()[1])])
    with pytest.raises(WrongEpoch) as future:
        before.apply(third)
    assert not future.value.older
    member = next(iter(group.members.values()))
    with pytest.raises(WrongEpoch) as stale:
        member.handle(first)
    assert second and stale.value.older
    assert stale.value.older


def test_wrong_group(setup):
    other = Simulation(b"another group", DeterministicRandom(b"x"))
    data = other.build([other.join_operation(other.new_identity())])
    setup.expect(WrongGroup, rebuild_update(setup, data), data, data)


def test_contribution_from_a_non_sponsor(setup):
    request = messages.SponsorRequest.decode(setup.request_bytes)
    impostor_identity = next(i for i in setup.group.members
                             if i not in (setup.sponsor_identity, setup.observed_identity))
    impostor = setup.group.members[impostor_identity]
    _, staged, _ = setup.group.state.replay(setup.prefix, verify=False, allow_incomplete=True)
    impostor_leaf = staged.leaf_of(impostor_identity)
    entries = {node: (staged.blinded[node], staged.hash(node))
               for node in tree.copath(impostor_leaf)}
    forged_request = messages.SponsorRequest(impostor_leaf, True, request.prefix, entries)
    data, _ = sponsor.run_steps(sponsor.contribute_steps(
        forged_request, impostor_identity, impostor.signing_seed, b"\x07" * 32))
    # Full members and the ledger check the rule; a light member relies on them (and on the
    # identity the gateway attaches, which is the rule's sponsor: the signature fails).
    setup.expect(NotSponsor, None, data, data)
    fresh = Setup()
    fresh.expect(BadSignature, rebuild_update(fresh, data))


def dishonest_contribution(setup, tamper_level):
    """The real sponsor publishes a wrong BK at one level of its path, signs it and commits
    to it in the tree hash; its confirmation uses its true root key."""
    request = messages.SponsorRequest.decode(setup.request_bytes)
    seed = setup.group.members[setup.sponsor_identity].signing_seed
    key = b"\x05" * 32
    blinded_keys = [keys.blinded_key(key)]
    path_blinded = {}
    node = request.leaf
    while node > tree.ROOT:
        key = keys.combine(key, request.entries[node ^ 1][0])
        node >>= 1
        path_blinded[node] = keys.blinded_key(key)
        blinded_keys.append(path_blinded[node])
    blinded_keys[tamper_level] = keys.blinded_key(b"\x06" * 32)
    index = request.leaf
    for level, blinded in enumerate(blinded_keys):
        if level:
            path_blinded[index] = blinded
        index >>= 1
    body = request.prefix + transition.contribution_body(request.leaf, blinded_keys, True)
    hashes = {other: request.entries[other][1] for other in tree.copath(request.leaf)}
    tree_hash = sponsor.climb_hash(setup.sponsor_identity, request.leaf, blinded_keys[0],
                                   path_blinded, hashes)
    parsed = transition.decode(request.prefix, allow_incomplete=True)
    schedule = keys.epoch_keys(key, parsed.group_id, parsed.epoch, tree_hash,
                               parsed.previous_epoch_hash)
    body += tree_hash
    body += schedule.confirmation(sha256(body).digest())
    return transition.sign_contribution(body, seed)


def test_inconsistent_blinded_key_is_caught_by_the_sponsors_sibling(setup):
    data = dishonest_contribution(setup, 0)
    new_state = setup.group.state.apply(data)  # public checks cannot see it
    update = new_state.member_update(setup.group.state, data, setup.observed_identity)
    setup.expect(InconsistentBlindedKey, update, data)


def test_strict_mode_names_the_wrong_blinded_key(setup):
    data = dishonest_contribution(setup, 1)
    setup.full.check_blinded_keys = True
    with pytest.raises(InconsistentBlindedKey, match="published BK"):
        setup.full.handle(data)


def test_tree_hash_mismatch_from_a_lying_gateway(setup):
    entries = dict(messages.MemberUpdate.decode(setup.update).entries)
    for node in tree.copath(setup.light.leaf):
        entries[node] = (None, b"\x01" * 32)
        break
    setup.expect(TreeHashMismatch, rebuild_update(setup, setup.data, entries=entries))


def test_incomplete_view_without_the_delta(setup):
    setup.expect(IncompleteView, rebuild_update(setup, setup.data, entries={}))


def test_bare_transition_to_a_light_member(setup):
    setup.expect(NotReady, setup.data)


def test_removed_member(setup):
    leaving_identity = setup.group.state.tree.identity[setup.leaving]
    member = setup.group.members[leaving_identity]
    before = member.export_state()
    update = messages.MemberUpdate(setup.data, messages.MemberUpdate.decode(
        setup.update).identities, {}).encode()
    with pytest.raises(Removed):
        member.handle(update)
    assert member.export_state() == before


def test_garbage_never_escapes_as_a_foreign_exception():
    group = Simulation(b"fuzz", DeterministicRandom(b"fuzz"))
    group.run([group.join_operation(group.new_identity())])
    previous = group.state
    data = group.build([group.join_operation(group.new_identity())])
    member = next(iter(group.members.values()))
    for cut in range(0, len(data), 7):
        for candidate in (data[:cut], data[:cut] + b"\xff" + data[cut + 1:]):
            if candidate == data:
                continue
            with pytest.raises(Exception) as caught:
                previous.apply(candidate)
            assert caught.type.__module__ == "groupkey.tgdh.errors", caught.type
            with pytest.raises(Exception) as caught:
                member.handle(candidate)
            assert caught.type.__module__ == "groupkey.tgdh.errors", caught.type
