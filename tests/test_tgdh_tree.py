"""TGDH tree arithmetic and public-tree shape: properties checked against brute force."""

from __future__ import annotations

import math
from hashlib import sha256

from hypothesis import given, settings
from hypothesis import strategies as st

from groupkey.tgdh import events, tree
from groupkey.tgdh.public_tree import PublicTree

indices = st.integers(min_value=1, max_value=(1 << 20) - 1)


def key(label: str) -> bytes:
    return sha256(label.encode()).digest()


@given(indices)
def test_path_and_copath(index):
    path = tree.path(index)
    assert path[0] == index and path[-1] == tree.ROOT
    assert len(path) == tree.level(index) + 1
    for child, parent in zip(path, path[1:], strict=False):
        assert tree.parent(child) == parent
        assert child in (tree.left(parent), tree.right(parent))
    assert tree.copath(index) == [tree.sibling(node) for node in path[:-1]]


@given(indices, indices)
def test_common_ancestor_is_lowest(first, second):
    ancestor = tree.common_ancestor(first, second)
    assert tree.is_in_subtree(first, ancestor) and tree.is_in_subtree(second, ancestor)
    for child in (tree.left(ancestor), tree.right(ancestor)):
        assert not (tree.is_in_subtree(first, child) and tree.is_in_subtree(second, child))


def random_tree(joins: int, leaves_out: list[int]) -> PublicTree:
    public_tree = PublicTree.single(key("id0"), key("bk0"))
    for number in range(1, joins + 1):
        public_tree = events.stage(public_tree, [events.join(key("id%d" % number), key("b"))],
                                   fill=True)
        for node in public_tree.unknown_nodes():
            public_tree.blinded[node] = key("n%d-%d" % (number, node))
    for position in leaves_out:
        leaves = public_tree.leaves()
        if len(leaves) < 2:
            break
        public_tree = events.stage(public_tree, [events.leave(leaves[position % len(leaves)])])
        for node in public_tree.unknown_nodes():
            public_tree.blinded[node] = key("l%d-%d" % (position, node))
    public_tree.clear_marks()
    return public_tree


def brute_insertion_point(public_tree: PublicTree, subtree_height: int) -> int:
    """Shallowest, then rightmost node that keeps the height, by scanning every node."""
    total = public_tree.height()
    best = None
    for node in public_tree.blinded:
        depth = tree.level(node)
        if depth + 1 + max(public_tree.height(node), subtree_height) <= total:
            candidate = (depth, -node)
            if best is None or candidate < best:
                best = candidate
    return -best[1] if best else tree.ROOT


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 70), st.lists(st.integers(0, 1000), max_size=40), st.integers(0, 3))
def test_insertion_point_matches_brute_force(joins, leaves_out, subtree_height):
    public_tree = random_tree(joins, leaves_out)
    assert public_tree.insertion_point(subtree_height) == brute_insertion_point(
        public_tree, subtree_height)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300))
def test_join_rule_keeps_height_logarithmic(joins):
    public_tree = random_tree(joins, [])
    assert public_tree.height() <= math.ceil(math.log2(joins + 1)) + 1 or joins == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60), st.lists(st.integers(0, 1000), max_size=30))
def test_cached_hash_equals_fresh_hash(joins, leaves_out):
    """Caches survive subtree moves: a freshly decoded copy hashes the same."""
    public_tree = random_tree(joins, leaves_out)
    fresh = PublicTree.decode(public_tree.encode())
    assert fresh.tree_hash() == public_tree.tree_hash()
    assert fresh.leaves() == public_tree.leaves()
    assert fresh.height() == public_tree.height()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.lists(st.integers(0, 1000), min_size=1, max_size=6))
def test_index_maps_follow_the_tree(joins, positions):
    """map_index (used by light members) predicts where every node of the tree lands."""
    public_tree = random_tree(joins, [])
    leaves = public_tree.leaves()
    operations = []
    staged = public_tree
    for position in positions:
        current = staged.leaves()
        if len(current) < 2:
            break
        leaf = current[position % len(current)]
        operations.append(events.leave(leaf))
        staged = events.stage(staged, [events.leave(leaf)])
        for node in staged.unknown_nodes():
            staged.blinded[node] = key("x%d" % node)
    after = events.stage(public_tree, operations) if operations else public_tree
    for leaf in leaves:
        identity = public_tree.identity[leaf]
        assert events.map_index(operations, leaf) == after.leaf_of(identity)
