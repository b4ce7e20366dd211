"""The public tree hash (SHA-256, Merkle-style over shape, blinded keys and identities)::

    H(leaf)     = SHA256(0x00 || identity || BK)
    H(internal) = SHA256(0x01 || BK || H(left) || H(right))
    tree_hash   = H(root)

Kept apart from public_tree.py so a light member can recompute the tree hash from its own
path without importing the whole public tree.
"""

from hashlib import sha256

_LEAF_TAG = b"\x00"
_NODE_TAG = b"\x01"


def leaf_hash(identity, blinded_key):
    """H(leaf) = SHA256(0x00 || identity || BK)."""
    return sha256(_LEAF_TAG + identity + blinded_key).digest()


def node_hash(blinded_key, left_hash, right_hash):
    """H(internal) = SHA256(0x01 || BK || H(left) || H(right))."""
    return sha256(_NODE_TAG + blinded_key + left_hash + right_hash).digest()


def climb_hash(identity, leaf, leaf_blinded_key, path_blinded_keys, copath_hashes):
    """Tree hash recomputed from one leaf: its identity and BK, the BKs of its path
    (``{node: BK}``) and the hashes of its co-path subtrees (``{node: hash}``)."""
    digest = leaf_hash(identity, leaf_blinded_key)
    node = leaf
    while node > 1:
        other = copath_hashes[node ^ 1]
        parent = node >> 1
        if node & 1:
            digest = node_hash(path_blinded_keys[parent], other, digest)
        else:
            digest = node_hash(path_blinded_keys[parent], digest, other)
        node = parent
    return digest
