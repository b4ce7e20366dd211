"""Constructors of signed ledger entries (plain functions, bytes out).

Devices use ``inception`` / ``rotation`` / ``revocation``; admins ``genesis`` and
``invitation``; sponsors ``transition``. Each returns the entry's wire bytes. Keys are
Ed25519 seeds (32 bytes); the next key of pre-rotation is committed as SHA-256 of its public key.
"""

import hashlib

from groupkey.ledger import bodies
from groupkey.ledger import entry as entries


def _public_key(seed):
    from groupkey.crypto import ed25519

    return ed25519.public_key(seed)


def key_digest(public_key):
    """The pre-rotation commitment to a public key."""
    return hashlib.sha256(bytes(public_key)).digest()


def inception(seed, next_public_key):
    """Sequence 0 of an identity log: the device's key, committing to its next key."""
    public_key = _public_key(seed)
    body = bodies.KeyEvent(public_key, key_digest(next_public_key)).encode()
    entry = entries.Entry(entries.INCEPTION, public_key, 0, entries.ZERO_HASH, body, public_key)
    return entries.sign(entry, seed)


def rotation(identity, sequence, previous_hash, new_seed, next_public_key):
    """Reveal the committed key (signed by it) and commit to the following one."""
    public_key = _public_key(new_seed)
    body = bodies.KeyEvent(public_key, key_digest(next_public_key)).encode()
    entry = entries.Entry(entries.ROTATION, identity, sequence, previous_hash, body, public_key)
    return entries.sign(entry, new_seed)


def revocation(identity, sequence, previous_hash, signer_seed, group_id=b"", reason=0):  # noqa: PLR0917
    """Revoke an identity: by its current key (no group) or by an admin of ``group_id``."""
    body = bodies.Revocation(group_id, reason).encode()
    entry = entries.Entry(entries.REVOCATION, identity, sequence, previous_hash, body,
                          _public_key(signer_seed))
    return entries.sign(entry, signer_seed)


def genesis(group_id, admin_seed, admins, nodes, threshold, public_tree, allowed=(),  # noqa: PLR0917
            policy=entries.POLICY_ALLOW_LIST):
    """Epoch 0 of a group log, signed by one of the admins."""
    body = bodies.Genesis(policy, threshold, admins, nodes, allowed, public_tree).encode()
    entry = entries.Entry(entries.GENESIS, group_id, 0, entries.ZERO_HASH, body,
                          _public_key(admin_seed))
    return entries.sign(entry, admin_seed)


def invitation(group_id, admin_seed, member):
    """An admin's signed admission of ``member`` (invitation policy)."""
    from groupkey.crypto import ed25519

    invite = bodies.Invitation(member, _public_key(admin_seed), b"\x00" * 64)
    invite.signature = ed25519.sign(admin_seed, invite.message(group_id))
    return invite


def transition(group_id, epoch, previous_hash, sponsor_seed, event, new_tree_hash,  # noqa: PLR0917
               joined=(), removed=(), invitations=(), tgdh=b""):
    """One TGDH epoch, signed by its sponsor."""
    body = bodies.Transition(event, new_tree_hash, joined, removed, list(invitations),
                              tgdh).encode()
    entry = entries.Entry(entries.TRANSITION, group_id, epoch, previous_hash, body,
                          _public_key(sponsor_seed))
    return entries.sign(entry, sponsor_seed)
