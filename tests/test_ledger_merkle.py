"""RFC 9162 Merkle tree: the node's tree and the shared verifier against a naive reference
(the RFC's recursive definitions, written directly), plus decoder robustness."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from groupkey.ledger import merkle
from groupkey.ledger.errors import DecodeError, ProofError
from ledger_node.merkle_tree import MerkleTree


def naive_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return merkle.empty_root()
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return merkle.node_hash(naive_root(leaves[:split]), naive_root(leaves[split:]))


def naive_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1 PATH(m, D[n])."""
    if len(leaves) <= 1:
        return []
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    if index < split:
        return naive_path(index, leaves[:split]) + [naive_root(leaves[split:])]
    return naive_path(index - split, leaves[split:]) + [naive_root(leaves[:split])]


def naive_subproof(old: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """RFC 9162 section 2.1.4.1 SUBPROOF(m, D[n], b)."""
    if old == len(leaves):
        return [] if complete else [naive_root(leaves)]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    if old <= split:
        return naive_subproof(old, leaves[:split], complete) + [naive_root(leaves[split:])]
    return naive_subproof(old - split, leaves[split:], False) + [naive_root(leaves[:split])]


def build(count: int) -> tuple[MerkleTree, list[bytes]]:
    tree = MerkleTree()
    leaves = [b"entry %d" % index for index in range(count)]
    for leaf in leaves:
        tree.append_entry(leaf)
    return tree, leaves


def test_every_size_index_and_pair_up_to_40_matches_the_reference():
    tree, leaves = build(40)
    for size in range(41):
        assert tree.root(size) == naive_root(leaves[:size])
        for index in range(size):
            path = tree.inclusion_proof(index, size)
            assert path == naive_path(index, leaves[:size])
            merkle.verify_inclusion(merkle.leaf_hash(leaves[index]), index, size, path,
                                    tree.root(size))
        for old in range(1, size):
            path = tree.consistency_proof(old, size)
            assert path == naive_subproof(old, leaves[:size], True)
            merkle.verify_consistency(old, size, tree.root(old), tree.root(size), path)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_any_single_change_of_a_proof_is_rejected(size, data):
    tree, leaves = build(size)
    index = data.draw(st.integers(0, size - 1))
    path = tree.inclusion_proof(index, size)
    root = tree.root(size)
    leaf = merkle.leaf_hash(leaves[index])
    merkle.verify_inclusion(leaf, index, size, path, root)
    # The tree size is not mutated here: RFC 9162 proofs do not authenticate it (a path can
    # fit several sizes); the signed checkpoint does, and receipts take it from there.
    mutation = data.draw(st.sampled_from(["index", "leaf", "hash", "drop", "extra"]))
    bad_index, bad_leaf, bad_path = index, leaf, list(path)
    if mutation == "index":
        bad_index = data.draw(st.integers(0, size).filter(lambda value: value != index))
    elif mutation == "leaf":
        bad_leaf = merkle.leaf_hash(b"other")
    elif mutation == "hash" and path:
        position = data.draw(st.integers(0, len(path) - 1))
        bad_path[position] = bytes([path[position][0] ^ 1]) + path[position][1:]
    elif mutation == "drop" and path:
        bad_path.pop()
    else:
        bad_path.append(root)
    try:
        merkle.verify_inclusion(bad_leaf, bad_index, size, bad_path, root)
    except ProofError:
        return
    raise AssertionError("mutated proof (%s) verified" % mutation)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 200), st.data())
def test_consistency_rejects_other_roots(size, data):
    tree, leaves = build(size)
    old = data.draw(st.integers(1, size - 1))
    path = tree.consistency_proof(old, size)
    merkle.verify_consistency(old, size, tree.root(old), tree.root(size), path)
    forged = MerkleTree()
    for leaf in leaves[:old - 1] + [b"rewritten"] + leaves[old:]:
        forged.append_entry(leaf)
    for old_root, new_root in [(forged.root(old), tree.root(size)),
                               (tree.root(old), forged.root(size))]:
        try:
            merkle.verify_consistency(old, size, old_root, new_root, path)
        except ProofError:
            continue
        raise AssertionError("a rewritten history passed the consistency check")


@given(st.binary(max_size=200))
def test_proof_decoder_gives_one_clean_error(data):
    try:
        first, second, hashes = merkle.decode_proof(data)
    except DecodeError:
        return
    assert merkle.encode_proof(first, second, hashes) == data


def test_million_entry_proof_is_twenty_hashes():
    tree = MerkleTree()
    for index in range(1 << 12):
        tree.append_leaf_hash(index.to_bytes(32, "big"))
    assert len(tree.inclusion_proof(5, 1 << 12)) == 12
