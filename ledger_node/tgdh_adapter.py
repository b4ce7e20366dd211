"""The one seam between the ledger and the TGDH public-tree validator (groupkey.tgdh).

The ledger keeps each group's PUBLIC tree and checks that a transition implies exactly the
declared membership change and the declared new tree hash. Two functions, nothing else in
ledger_node knows how the public tree looks:

    initial_public_state(public_tree_bytes) -> PublicView
    apply_public_transition(view, transition) -> PublicView  (raises TransitionRejected)

TODO(issue 3): groupkey.tgdh has not landed yet. Until it does, the public tree is a
placeholder (u8 count | 32-byte member keys), membership changes are taken from the entry's
joined/removed lists, and the declared new tree hash is NOT checked against the TGDH bytes.
tests/test_ledger_validation.py::test_tree_hash_checked_by_tgdh is xfail(strict=True) until
this adapter calls the real validator.
"""

from __future__ import annotations

import hashlib

from groupkey.ledger.encoding import Reader
from groupkey.ledger.errors import DecodeError

TGDH_WIRED = False


class TransitionRejected(Exception):
    """The TGDH transition does not have the public-tree consequence the entry declares."""


class PublicView:
    """What the ledger needs from a group's public tree: members and tree hash."""

    def __init__(self, members: list[bytes], tree_hash: bytes, tree: object = None):
        self.members = list(members)
        self.tree_hash = tree_hash
        self.tree = tree


def placeholder_tree(members: list[bytes]) -> bytes:
    """Placeholder public tree encoding used until groupkey.tgdh lands."""
    return bytes((len(members),)) + b"".join(members)


def placeholder_tree_hash(members: list[bytes]) -> bytes:
    """Placeholder tree hash over the sorted members (stands in for the TGDH tree hash)."""
    return hashlib.sha256(b"placeholder-tree" + b"".join(sorted(members))).digest()


def initial_public_state(public_tree: bytes) -> PublicView:
    """Decode a genesis public tree; raises TransitionRejected if malformed."""
    try:
        reader = Reader(public_tree)
        members = reader.keys()
        reader.finish()
    except DecodeError as exc:
        raise TransitionRejected("genesis public tree: %s" % exc) from None
    if not members or len(set(members)) != len(members):
        raise TransitionRejected("genesis public tree needs distinct members")
    return PublicView(members, placeholder_tree_hash(members))


def apply_public_transition(view: PublicView, transition) -> PublicView:
    """Stage the transition on the public tree; return the new view (``view`` untouched)."""
    members = [key for key in view.members if key not in transition.removed]
    members.extend(transition.joined)
    # TODO(issue 3): replace with groupkey.tgdh's PublicGroupState.apply(transition.tgdh) and
    # compare its members and tree hash with the declared ones.
    return PublicView(members, transition.new_tree_hash)
