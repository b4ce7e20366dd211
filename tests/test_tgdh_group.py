"""Property-based state machine over whole groups (CPython): random joins, leaves, refreshes,
merges, partitions and mixed batches with up to 200 members, light and full members mixed.
After every step every member holds the same epoch, tree hash and epoch secret as the public
state, and the public tree survives an encode/decode round trip."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from groupkey.tgdh import events, tree
from groupkey.tgdh.member import Member
from groupkey.tgdh.public_tree import PublicTree
from groupkey.tgdh.simulation import DeterministicRandom, Simulation, sequential_leaves

MAX_MEMBERS = 200


class GroupMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.counter = 0
        self.simulation = None

    def rand(self):
        self.counter += 1
        return DeterministicRandom(b"machine%d" % self.counter)

    @rule(full=st.booleans(), seed=st.binary(min_size=1, max_size=4))
    @precondition(lambda self: self.simulation is None)
    def found(self, full, seed):
        self.simulation = Simulation(b"machine-group", DeterministicRandom(seed), full)

    def size(self):
        return self.simulation.state.tree.size()

    @rule(count=st.integers(1, 40))
    @precondition(lambda self: self.simulation is not None)
    def join(self, count):
        count = min(count, MAX_MEMBERS - self.size())
        if count <= 0:
            return
        self.simulation.run([self.simulation.join_operation(self.simulation.new_identity())
                             for _ in range(count)])

    @rule(position=st.integers(0, 10_000))
    @precondition(lambda self: self.simulation is not None and self.size() >= 2)
    def leave(self, position):
        leaves = self.simulation.state.tree.leaves()
        self.simulation.run([events.leave(leaves[position % len(leaves)])])

    @rule(positions=st.lists(st.integers(0, 10_000), min_size=2, max_size=60))
    @precondition(lambda self: self.simulation is not None and self.size() >= 3)
    def partition(self, positions):
        leaves = self.simulation.state.tree.leaves()
        chosen = []
        for position in positions:
            leaf = leaves[position % len(leaves)]
            if leaf not in chosen and len(chosen) < len(leaves) - 1:
                chosen.append(leaf)
        self.simulation.run(sequential_leaves(chosen))

    @rule(position=st.integers(0, 10_000))
    @precondition(lambda self: self.simulation is not None)
    def refresh(self, position):
        leaves = self.simulation.state.tree.leaves()
        self.simulation.run([events.refresh(leaves[position % len(leaves)])])

    @rule(size=st.integers(1, 12))
    @precondition(lambda self: self.simulation is not None)
    def merge(self, size):
        size = min(size, MAX_MEMBERS - self.size())
        if size <= 0:
            return
        other = Simulation(b"other", self.rand(), self.simulation.full)
        if size > 1:
            other.run([other.join_operation(other.new_identity()) for _ in range(size - 1)])
        self.simulation.run([events.merge(other.state.tree)], other)

    @rule(leave_position=st.integers(0, 10_000), refresh_position=st.integers(0, 10_000),
          joins=st.integers(0, 5))
    @precondition(lambda self: self.simulation is not None and self.size() >= 3)
    def mixed_batch(self, leave_position, refresh_position, joins):
        leaves = self.simulation.state.tree.leaves()
        leaving = leaves[leave_position % len(leaves)]
        operations = [events.leave(leaving)]
        remaining = [tree.index_after_remove(leaving, leaf) for leaf in leaves if leaf != leaving]
        operations.append(events.refresh(remaining[refresh_position % len(remaining)]))
        joins = min(joins, MAX_MEMBERS - self.size() + 1)
        for _ in range(joins):
            operations.append(self.simulation.join_operation(self.simulation.new_identity()))
        self.simulation.run(operations)

    @rule(position=st.integers(0, 10_000))
    @precondition(lambda self: self.simulation is not None)
    def store_and_restore(self, position):
        members = list(self.simulation.members)
        identity = members[position % len(members)]
        member = self.simulation.members[identity]
        restored = Member.import_state(member.export_state(), member.signing_seed)
        assert restored.export_state() == member.export_state()
        self.simulation.members[identity] = restored

    @invariant()
    def everyone_agrees(self):
        if self.simulation is None:
            return
        state = self.simulation.state
        secret = self.simulation.check_agreement()
        assert len(self.simulation.members) == state.tree.size()
        assert PublicTree.decode(state.tree.encode()).tree_hash() == state.tree_hash()
        assert secret is not None


GroupMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=20,
                                          deadline=None)
TestGroup = GroupMachine.TestCase


def test_merge_equal_heights_goes_to_root():
    """Two trees of equal height merge at the root (TGDH merge rule)."""
    first = Simulation(b"a", DeterministicRandom(b"a"))
    second = Simulation(b"b", DeterministicRandom(b"b"))
    for simulation in (first, second):
        for _ in range(3):
            simulation.run([simulation.join_operation(simulation.new_identity())])
    operation = events.merge(second.state.tree)
    first.run([operation], second)
    assert operation.node == tree.ROOT
    assert first.state.tree.size() == 8
    first.check_agreement()


def test_merged_members_cannot_read_old_epochs_and_hosts_learn_no_old_key():
    first = Simulation(b"a", DeterministicRandom(b"c"))
    second = Simulation(b"b", DeterministicRandom(b"d"))
    first.run([first.join_operation(first.new_identity())])
    second.run([second.join_operation(second.new_identity())])
    before_first = first.check_agreement()
    before_second = second.check_agreement()
    first.run([events.merge(second.state.tree)], second)
    after = first.check_agreement()
    assert after not in (before_first, before_second)
