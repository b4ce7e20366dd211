"""Bodies of ledger entries, one class per kind (see groupkey.ledger.entry for the header).

Kept apart from the entry header so a device that only checks receipts does not pay heap for
them. Every ``decode`` is strict (DecodeError on short, long or out-of-range input).
"""

from groupkey.ledger import encoding
from groupkey.ledger.entry import (
    GENESIS,
    INCEPTION,
    MAX_BODY,
    REVOCATION,
    ROTATION,
    TRANSITION,
)
from groupkey.ledger.errors import DecodeError


class KeyEvent:
    """Body of an inception or rotation: public_key 32 | next_key_digest 32.

    ``next_key_digest`` = SHA-256(next public key): the pre-rotation commitment that the next
    rotation must reveal (KERI-style).
    """

    def __init__(self, public_key, next_key_digest):
        self.public_key = bytes(public_key)
        self.next_key_digest = bytes(next_key_digest)

    def encode(self):
        if len(self.public_key) != 32 or len(self.next_key_digest) != 32:
            raise DecodeError("key event fields are 32 bytes")
        return self.public_key + self.next_key_digest

    @staticmethod
    def decode(body):
        reader = encoding.Reader(body)
        event = KeyEvent(reader.take(32), reader.take(32))
        reader.finish()
        return event


class Revocation:
    """Body of a revocation: group_id (u8 length | bytes, empty when the device revokes itself;
    otherwise the group whose admin signs) | reason u8."""

    def __init__(self, group_id=b"", reason=0):
        self.group_id = bytes(group_id)
        self.reason = reason

    def encode(self):
        return encoding.short_bytes(self.group_id) + encoding.u8(self.reason)

    @staticmethod
    def decode(body):
        reader = encoding.Reader(body)
        revocation = Revocation(reader.short_bytes(), reader.u8())
        reader.finish()
        return revocation


class Genesis:
    """Body of a group genesis:

        policy u8 (0 allow-list, 1 admin-signed invitations) | threshold u8
        | admins: u8 count | 32 each | ledger nodes: u8 count | 32 each
        | allowed: u16 count | 32 each | public_tree: u32 length | TGDH public tree bytes
    """

    def __init__(self, policy, threshold, admins, nodes, allowed, public_tree):  # noqa: PLR0917
        self.policy = policy
        self.threshold = threshold
        self.admins = [bytes(key) for key in admins]
        self.nodes = [bytes(key) for key in nodes]
        self.allowed = [bytes(key) for key in allowed]
        self.public_tree = bytes(public_tree)

    def encode(self):
        return (encoding.u8(self.policy) + encoding.u8(self.threshold)
                + encoding.key_list(self.admins) + encoding.key_list(self.nodes)
                + encoding.key_list(self.allowed, 2) + encoding.long_bytes(self.public_tree))

    @staticmethod
    def decode(body):
        reader = encoding.Reader(body)
        policy = reader.u8()
        threshold = reader.u8()
        admins = reader.keys()
        nodes = reader.keys()
        allowed = reader.keys(2)
        public_tree = reader.long_bytes(MAX_BODY)
        reader.finish()
        return Genesis(policy, threshold, admins, nodes, allowed, public_tree)


class Invitation:
    """An admin's signature admitting ``member`` to ``group_id``:
    member 32 | admin 32 | signature 64 over INVITATION_DOMAIN || group_id || member."""

    DOMAIN = b"groupkey-ledger-invitation-v1\x00"

    def __init__(self, member, admin, signature):
        self.member = bytes(member)
        self.admin = bytes(admin)
        self.signature = bytes(signature)

    def message(self, group_id):
        return self.DOMAIN + encoding.short_bytes(group_id) + self.member


class Transition:
    """Body of a group transition (one TGDH epoch):

        event u8 | new_tree_hash 32
        | joined: u8 count | 32 each | removed: u8 count | 32 each
        | invitations: u8 count | (member 32 | admin 32 | signature 64) each
        | tgdh: u32 length | TGDH transition bytes (sponsor contributions, signed)
    """

    def __init__(self, event, new_tree_hash, joined, removed, invitations, tgdh):  # noqa: PLR0917
        self.event = event
        self.new_tree_hash = bytes(new_tree_hash)
        self.joined = [bytes(key) for key in joined]
        self.removed = [bytes(key) for key in removed]
        self.invitations = invitations
        self.tgdh = bytes(tgdh)

    def encode(self):
        if len(self.new_tree_hash) != 32:
            raise DecodeError("tree hash is 32 bytes")
        parts = [encoding.u8(self.event), self.new_tree_hash, encoding.key_list(self.joined),
                 encoding.key_list(self.removed), encoding.u8(len(self.invitations))]
        for invitation in self.invitations:
            if len(invitation.member) != 32 or len(invitation.admin) != 32 or len(
                    invitation.signature) != 64:
                raise DecodeError("malformed invitation")
            parts.append(invitation.member + invitation.admin + invitation.signature)
        parts.append(encoding.long_bytes(self.tgdh))
        return b"".join(parts)

    @staticmethod
    def decode(body):
        reader = encoding.Reader(body)
        event = reader.u8()
        new_tree_hash = reader.take(32)
        joined = reader.keys()
        removed = reader.keys()
        invitations = []
        for _ in range(reader.u8()):
            invitations.append(Invitation(reader.take(32), reader.take(32), reader.take(64)))
        tgdh = reader.long_bytes(MAX_BODY)
        reader.finish()
        return Transition(event, new_tree_hash, joined, removed, invitations, tgdh)


BODY_CLASSES = {INCEPTION: KeyEvent, ROTATION: KeyEvent, REVOCATION: Revocation,
                GENESIS: Genesis, TRANSITION: Transition}


def decode_body(entry):
    """The body object of a decoded entry (KeyEvent, Revocation, Genesis or Transition)."""
    return BODY_CLASSES[entry.kind].decode(entry.body)
