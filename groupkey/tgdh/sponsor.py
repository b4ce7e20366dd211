"""The sponsor's side: refresh the leaf and publish the path (one contribution).

``contribute_steps`` is the single implementation; Member (light or full) and a joining member
that the rule names (a subtree of joiners only) both call it. It is a generator that yields
after every X25519 operation and returns a ``Contribution`` result; drive it with
``run_steps`` or from asyncio.
"""

from hashlib import sha256

import groupkey.tgdh as tgdh_package
from groupkey.tgdh import codec, keys, transition, tree
from groupkey.tgdh.errors import IncompleteView, InvalidEvent
from groupkey.tgdh.hashing import climb_hash

run_steps = tgdh_package.run_steps


class Pending:
    """What a sponsor keeps until the transition it contributed to is committed."""

    def __init__(self, leaf, secret, blinded_key, path_keys, operations):
        self.leaf = leaf
        self.secret = secret
        self.blinded_key = blinded_key
        self.path_keys = path_keys  # node -> (key, sibling BK used)
        self.operations = operations


def contribute_steps(request, identity, signing_seed, secret, counter=None):
    """Build the sponsor's contribution for a SponsorRequest (messages.py).

    ``secret`` is the fresh leaf secret (32 bytes from the caller's randomness). Returns
    (transition bytes with this contribution appended, Pending). ``counter`` (a one-item list)
    accumulates X25519 operations.
    """
    if signing_seed is None:
        raise InvalidEvent("a sponsor needs its signing key")
    parsed = transition.decode(request.prefix, allow_incomplete=True)
    if parsed.final() is not None:
        raise InvalidEvent("the transition is already complete")
    codec.fixed(secret, 32, "leaf secret")
    key = secret
    blinded = keys.blinded_key(key)
    yield
    blinded_keys = [blinded]
    path_blinded_keys = {}
    path_keys = {}
    operations = 1
    node = request.leaf
    while node > tree.ROOT:
        entry = request.entries.get(node ^ 1)
        if entry is None or entry[0] is None:
            break
        key = keys.combine(key, entry[0])
        yield
        node >>= 1
        path_keys[node] = (key, entry[0])
        path_blinded_keys[node] = keys.blinded_key(key)
        yield
        blinded_keys.append(path_blinded_keys[node])
        operations += 2
    if counter is not None:
        counter[0] += operations
    data = request.prefix + transition.contribution_body(request.leaf, blinded_keys,
                                                         request.final)
    if request.final:
        if node != tree.ROOT:
            raise IncompleteView("a final contribution must reach the root")
        hashes = {}
        for other in tree.copath(request.leaf):
            if request.entries[other][1] is None:
                raise IncompleteView("final contribution needs every co-path hash")
            hashes[other] = request.entries[other][1]
        tree_hash = climb_hash(identity, request.leaf, blinded, path_blinded_keys, hashes)
        data += tree_hash
        epoch_keys = keys.epoch_keys(key, parsed.group_id, parsed.epoch, tree_hash,
                                     parsed.previous_epoch_hash)
        data += epoch_keys.confirmation(sha256(data).digest())
    data = transition.sign_contribution(data, signing_seed)
    return data, Pending(request.leaf, secret, blinded, path_keys, parsed.operations)
