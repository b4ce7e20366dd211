"""One-proof catch-up (docs/e2e.md section 5): a member that missed epochs rebuilds its state
from the WELCOME of the latest transition and its unchanged leaf secret. The signed tree hash
and the key confirmation decide; a wrong secret, a welcome addressed to someone else, or a
removed member's secret gets a TGDHError and nothing."""

from __future__ import annotations

import pytest

from groupkey.tgdh import events
from groupkey.tgdh.errors import TGDHError
from groupkey.tgdh.member import Member
from groupkey.tgdh.simulation import DeterministicRandom, Simulation


def grown(seed: bytes, size: int) -> Simulation:
    group = Simulation(b"catchup", DeterministicRandom(seed))
    for _ in range(size - 1):
        group.run([group.join_operation(group.new_identity())])
    return group


def stale_copy(group: Simulation, public: bytes):
    member = group.members[public]
    return Member.import_state(member.export_state(), member.signing_seed)


def run_with_welcome(group: Simulation, operations, identity: bytes):
    previous = group.state
    data = group.run(operations)
    return group.state.welcome(previous, data, identity)


@pytest.mark.parametrize("missed", [1, 3])
def test_member_behind_by_several_epochs_catches_up_with_one_welcome(missed):
    group = grown(b"behind", 7)
    late_public = list(group.members)[2]
    stale = stale_copy(group, late_public)
    for _ in range(missed - 1):
        group.run([events.refresh(group.state.tree.leaves()[0])])
    leaves = group.state.tree.leaves()
    victim = next(leaf for leaf in leaves if group.state.tree.identity[leaf] != late_public)
    welcome = run_with_welcome(group, [events.leave(victim)], late_public)
    assert stale.epoch == group.state.epoch - missed
    caught = Member.from_welcome(welcome, late_public, stale._secret, stale.signing_seed)
    assert caught.epoch == group.state.epoch
    assert caught.tree_hash == group.state.tree_hash()
    assert caught.epoch_secret == group.check_agreement()
    assert caught.leaf == group.state.leaf_of(late_public)


def test_wrong_secret_or_someone_elses_welcome_is_refused():
    group = grown(b"refuse", 6)
    publics = list(group.members)
    stale = stale_copy(group, publics[1])
    welcome = run_with_welcome(group, [events.refresh(group.state.tree.leaves()[0])],
                               publics[1])
    with pytest.raises(TGDHError):
        Member.from_welcome(welcome, publics[1], bytes(32), stale.signing_seed)
    other = stale_copy(group, publics[3])
    with pytest.raises(TGDHError):  # a member using another member's welcome
        Member.from_welcome(welcome, publics[3], other._secret, other.signing_seed)
    with pytest.raises(TGDHError):  # the right identity but another member's secret
        Member.from_welcome(welcome, publics[1], other._secret, stale.signing_seed)


def test_removed_member_cannot_catch_up():
    group = grown(b"removed", 6)
    removed_public = list(group.members)[4]
    stale = stale_copy(group, removed_public)
    keeper = list(group.members)[0]
    welcome = run_with_welcome(group, [events.leave(group.state.leaf_of(removed_public))],
                               keeper)
    with pytest.raises(TGDHError):
        group.state.welcome(group.state, b"", removed_public)
    with pytest.raises(TGDHError):  # replaying a welcome meant for a current member
        Member.from_welcome(welcome, removed_public, stale._secret, stale.signing_seed)
