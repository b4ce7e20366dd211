"""Forward and backward secrecy, tried for real: an adversary takes every secret a removed
(or joining, or compromised) member really holds and tries each as the key of every node of
the public tree, climbing to the root with the published blinded keys. The attack must find
the key of the epochs the member belongs to (so it is not vacuous) and must miss the others."""

from __future__ import annotations

from groupkey.tgdh import events, keys, tree
from groupkey.tgdh.simulation import DeterministicRandom, Simulation, sequential_leaves


def held_secrets(member) -> list[bytes]:
    """Every secret a member object holds: leaf secret, path keys, epoch secrets."""
    secrets = [member._secret, member.epoch_secret, member.traffic_secret]
    secrets += [entry[0] for entry in member._path.values()]
    return secrets


def candidate_epoch_secrets(secrets, state, previous_epoch_hash) -> set[bytes]:
    """Epoch secrets reachable from ``secrets`` on ``state``'s public tree."""
    found = set()
    public_tree = state.tree
    tree_hash = state.tree_hash()
    for secret in secrets:
        found.add(keys.epoch_keys(secret, state.group_id, state.epoch, tree_hash,
                                  previous_epoch_hash).epoch_secret)
        for start in public_tree.blinded:
            key = secret
            node = start
            while node > tree.ROOT:
                key = keys.combine(key, public_tree.blinded[node ^ 1])
                node >>= 1
            found.add(keys.epoch_keys(key, state.group_id, state.epoch, tree_hash,
                                      previous_epoch_hash).epoch_secret)
    return found


def grown_group(seed: bytes, size: int) -> Simulation:
    """A group of ``size``; ``group.previous_hash`` is the epoch hash before the last step."""
    group = Simulation(b"secrecy", DeterministicRandom(seed))
    for _ in range(size - 1):
        group.run([group.join_operation(group.new_identity())])
    group.previous_hash = group.state.epoch_hash
    group.run([events.refresh(group.state.tree.leaves()[0])])
    return group


def test_attack_finds_the_key_of_a_current_member():
    group = grown_group(b"sanity", 6)
    member = next(iter(group.members.values()))
    previous = group.state
    group.run([events.refresh(group.state.tree.leaves()[0])])
    assert group.check_agreement() in candidate_epoch_secrets(
        held_secrets(member), group.state, previous.epoch_hash)


def test_removed_member_cannot_compute_later_epochs():
    group = grown_group(b"removed", 7)
    for position in (0, 3, 5):
        leaves = group.state.tree.leaves()
        victim_leaf = leaves[position % len(leaves)]
        victim = group.members[group.state.tree.identity[victim_leaf]]
        stolen = held_secrets(victim)
        old_secret = group.check_agreement()
        assert old_secret in stolen
        previous = group.state
        group.run([events.leave(victim_leaf)])
        new_secret = group.check_agreement()
        assert new_secret not in candidate_epoch_secrets(stolen, group.state,
                                                         previous.epoch_hash)
        # ... nor the one after.
        previous = group.state
        group.run([group.join_operation(group.new_identity())])
        assert group.check_agreement() not in candidate_epoch_secrets(
            stolen, group.state, previous.epoch_hash)


def test_partition_members_cannot_compute_the_new_epoch():
    group = grown_group(b"partition", 9)
    leaves = group.state.tree.leaves()
    leaving = [leaves[1], leaves[4], leaves[7]]
    stolen = []
    for leaf in leaving:
        stolen += held_secrets(group.members[group.state.tree.identity[leaf]])
    previous = group.state
    group.run(sequential_leaves(leaving))
    assert group.check_agreement() not in candidate_epoch_secrets(stolen, group.state,
                                                                  previous.epoch_hash)


def test_new_member_cannot_compute_earlier_epochs():
    group = grown_group(b"joiner", 5)
    old_state = group.state
    old_secret = group.check_agreement()
    insider = next(iter(group.members.values()))
    assert old_secret in candidate_epoch_secrets(held_secrets(insider), old_state,
                                                 group.previous_hash)
    joiner = group.new_identity()
    group.run([group.join_operation(joiner)])
    member = group.members[joiner.public]
    stolen = held_secrets(member) + [joiner.secret]
    assert member.epoch_secret in stolen
    # The joiner tries its secrets on the OLD public tree (which it may have seen).
    assert old_secret not in candidate_epoch_secrets(stolen, old_state, group.previous_hash)


def test_merged_group_cannot_read_host_history_and_vice_versa():
    host = grown_group(b"host", 4)
    guest = grown_group(b"guest", 3)
    host_state, host_secret = host.state, host.check_agreement()
    guest_state, guest_secret = guest.state, guest.check_agreement()
    guest_members = dict(guest.members)
    insider = next(iter(guest_members.values()))
    assert guest_secret in candidate_epoch_secrets(held_secrets(insider), guest_state,
                                                   guest.previous_hash)
    host_members = dict(host.members)
    host.run([events.merge(guest.state.tree)], guest)
    merged_guest = [held_secrets(host.members[public]) for public in guest_members]
    merged_host = [held_secrets(host.members[public]) for public in host_members]
    for stolen in merged_guest:
        assert host_secret not in candidate_epoch_secrets(stolen, host_state,
                                                          host.previous_hash)
    for stolen in merged_host:
        assert guest_secret not in candidate_epoch_secrets(stolen, guest_state,
                                                           guest.previous_hash)


def test_refresh_heals_a_compromise():
    group = grown_group(b"heal", 6)
    leaf = group.state.tree.leaves()[2]
    victim = group.members[group.state.tree.identity[leaf]]
    stolen = held_secrets(victim)
    previous = group.state
    group.run([events.refresh(leaf)])
    assert group.check_agreement() not in candidate_epoch_secrets(stolen, group.state,
                                                                  previous.epoch_hash)


def test_committed_state_drops_old_secrets():
    group = grown_group(b"erase", 5)
    leaf = group.state.tree.leaves()[0]
    member = group.members[group.state.tree.identity[leaf]]
    old = held_secrets(member)
    group.run([events.refresh(leaf)])
    stored = member.export_state()
    for secret in old:
        assert secret not in stored
