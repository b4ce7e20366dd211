"""RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing and proof verification.

Hashes (RFC 9162 section 2.1.1), SHA-256 from hashlib (native on both interpreters):

    leaf_hash(entry)  = SHA-256(0x00 || entry)
    node_hash(l, r)   = SHA-256(0x01 || l || r)
    root of the empty tree = SHA-256("")

Verification follows RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2 (consistency)
step by step; proof generation lives on the ledger node (CPython), which holds the tree.

Wire forms (big-endian):

    inclusion proof    leaf_index u64 | tree_size u64 | count u8 | count x 32-byte hash
    consistency proof  old_size u64 | new_size u64 | count u8 | count x 32-byte hash
"""

import hashlib

from groupkey.ledger import encoding
from groupkey.ledger.errors import DecodeError, ProofError

HASH_SIZE = 32
MAX_PROOF_HASHES = 64


def leaf_hash(entry):
    """RFC 9162 leaf hash of an entry's bytes (streamed into the hash: no copy of the entry)."""
    state = hashlib.sha256(b"\x00")
    state.update(entry)
    return state.digest()


def node_hash(left, right):
    """RFC 9162 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def empty_root():
    """Root hash of the tree of size 0."""
    return hashlib.sha256(b"").digest()


def _check_hashes(hashes):
    if len(hashes) > MAX_PROOF_HASHES:
        raise ProofError("proof too long")
    for value in hashes:
        if len(value) != HASH_SIZE:
            raise ProofError("proof hashes are 32 bytes")


def root_from_inclusion(leaf, leaf_index, tree_size, path):
    """Recompute the root that ``path`` proves ``leaf`` (a leaf hash) belongs to.

    RFC 9162 section 2.1.3.2; raises ProofError when the path has the wrong shape.
    """
    _check_hashes(path)
    if len(leaf) != HASH_SIZE:
        raise ProofError("leaf hash is 32 bytes")
    if leaf_index < 0 or leaf_index >= tree_size:
        raise ProofError("leaf index outside the tree")
    index = leaf_index
    last = tree_size - 1
    result = leaf
    for sibling in path:
        if last == 0:
            raise ProofError("inclusion path too long")
        if index & 1 or index == last:
            result = node_hash(sibling, result)
            if not index & 1:
                while index and not index & 1:
                    index >>= 1
                    last >>= 1
        else:
            result = node_hash(result, sibling)
        index >>= 1
        last >>= 1
    if last != 0:
        raise ProofError("inclusion path too short")
    return result


def verify_inclusion(leaf, leaf_index, tree_size, path, root):
    """Raise ProofError unless ``path`` proves leaf hash ``leaf`` at ``leaf_index`` in the
    tree of ``tree_size`` leaves whose root is ``root``."""
    if root_from_inclusion(leaf, leaf_index, tree_size, path) != root:
        raise ProofError("inclusion proof does not match the root")


def verify_consistency(old_size, new_size, old_root, new_root, path):
    """Raise ProofError unless ``path`` proves the tree of ``old_size`` leaves (root
    ``old_root``) is a prefix of the tree of ``new_size`` leaves (root ``new_root``).

    RFC 9162 section 2.1.4.2. Size 0 is consistent with anything (empty path); equal sizes
    need an empty path and equal roots.
    """
    _check_hashes(path)
    if old_size < 0 or old_size > new_size:
        raise ProofError("old size larger than new size")
    if old_size == 0:
        if path:
            raise ProofError("proof from the empty tree must be empty")
        return
    if old_size == new_size:
        if path or old_root != new_root:
            raise ProofError("equal sizes need equal roots and an empty proof")
        return
    if not path:
        raise ProofError("empty consistency proof")
    if old_size & (old_size - 1) == 0:
        path = [old_root] + list(path)
    first = old_size - 1
    second = new_size - 1
    while first & 1:
        first >>= 1
        second >>= 1
    old_result = path[0]
    new_result = path[0]
    for value in path[1:]:
        if second == 0:
            raise ProofError("consistency path too long")
        if first & 1 or first == second:
            old_result = node_hash(value, old_result)
            new_result = node_hash(value, new_result)
            if not first & 1:
                while first and not first & 1:
                    first >>= 1
                    second >>= 1
        else:
            new_result = node_hash(new_result, value)
        first >>= 1
        second >>= 1
    if second != 0:
        raise ProofError("consistency path too short")
    if old_result != old_root or new_result != new_root:
        raise ProofError("consistency proof does not match the roots")


def encode_proof(first, second, hashes):
    """Wire form of an inclusion (index, size) or consistency (old, new) proof."""
    if len(hashes) > MAX_PROOF_HASHES:
        raise DecodeError("proof too long")
    for value in hashes:
        if len(value) != HASH_SIZE:
            raise DecodeError("proof hashes are 32 bytes")
    return encoding.u64(first) + encoding.u64(second) + encoding.u8(len(hashes)) + b"".join(
        hashes)


def decode_proof(data):
    """Inverse of encode_proof: (first, second, hashes); DecodeError on malformed bytes."""
    reader = encoding.Reader(data)
    first = reader.u64()
    second = reader.u64()
    count = reader.u8()
    if count > MAX_PROOF_HASHES:
        raise DecodeError("proof too long")
    hashes = [reader.take(HASH_SIZE) for _ in range(count)]
    reader.finish()
    return first, second, hashes
