"""Ledger entry wire format: one signed identity or group event (docs/ledger.md, "Entries").

    entry = version u8 (=1)
          | kind u8
          | log_id: u8 length (1..64) | bytes    identity: the inception key; group: group id
          | sequence u32                          identity sequence or group epoch
          | previous_hash 32                      entry hash of sequence - 1 (zeros at 0)
          | body: u32 length | bytes             layout per kind, see the body classes below
          | signer 32                             Ed25519 public key
          | signature 64                          over DOMAIN || every byte above

The entry hash is the RFC 9162 leaf hash, SHA-256(0x00 || entry bytes), so an entry's hash
is also its leaf in every node's Merkle tree. Decoding is strict: one encoding per entry.
"""

from groupkey.ledger import encoding
from groupkey.ledger.errors import DecodeError
from groupkey.ledger.merkle import leaf_hash

VERSION = 1
DOMAIN = b"groupkey-ledger-entry-v1\x00"
MAX_BODY = 1 << 20

INCEPTION = 1
ROTATION = 2
REVOCATION = 3
GENESIS = 16
TRANSITION = 17

IDENTITY_KINDS = (INCEPTION, ROTATION, REVOCATION)
GROUP_KINDS = (GENESIS, TRANSITION)
KIND_NAMES = {INCEPTION: "inception", ROTATION: "rotation", REVOCATION: "revocation",
              GENESIS: "genesis", TRANSITION: "transition"}

POLICY_ALLOW_LIST = 0
POLICY_INVITATION = 1

ZERO_HASH = b"\x00" * 32


class Entry:
    """A decoded (not yet validated) entry; ``raw`` keeps the exact bytes received."""

    def __init__(self, kind, log_id, sequence, previous_hash, body, signer, signature=b"",  # noqa: PLR0917
                 raw=None):
        self.kind = kind
        self.log_id = bytes(log_id)
        self.sequence = sequence
        self.previous_hash = bytes(previous_hash)
        self.body = bytes(body)
        self.signer = bytes(signer)
        self.signature = bytes(signature)
        self.raw = raw

    def unsigned_bytes(self):
        """Every field before the signature."""
        if self.kind not in KIND_NAMES:
            raise DecodeError("unknown entry kind")
        if not 1 <= len(self.log_id) <= 64:
            raise DecodeError("log id is 1..64 bytes")
        if len(self.previous_hash) != 32 or len(self.signer) != 32:
            raise DecodeError("hash and signer are 32 bytes")
        if len(self.body) > MAX_BODY:
            raise DecodeError("body too long")
        # one join, not a chain of +: each + would copy everything before it (the body is
        # up to ~1.5 KB on a device, whose heap may have few free blocks that large)
        return b"".join((encoding.u8(VERSION), encoding.u8(self.kind),
                         encoding.short_bytes(self.log_id), encoding.u32(self.sequence),
                         self.previous_hash, encoding.u32(len(self.body)), self.body,
                         self.signer))  # u32 length + body = encoding.long_bytes, uncopied

    def signed_message(self):
        """The bytes the signer's Ed25519 signature covers."""
        return DOMAIN + self.unsigned_bytes()

    def encode(self):
        """Wire bytes (requires a 64-byte signature)."""
        if len(self.signature) != 64:
            raise DecodeError("signature is 64 bytes")
        return self.unsigned_bytes() + self.signature

    def entry_hash(self):
        """RFC 9162 leaf hash of the wire bytes."""
        return leaf_hash(self.raw if self.raw is not None else self.encode())

    def verify_signature(self):
        """Raise groupkey.crypto.errors.BadSignature unless the signer signed this entry."""
        from groupkey.crypto import ed25519

        ed25519.verify(self.signer, self.signed_message(), self.signature)


def sign(entry, seed):
    """Fill in ``entry.signature`` with the Ed25519 key of ``seed``; return the wire bytes."""
    from groupkey.crypto import ed25519

    entry.signature = ed25519.sign(seed, entry.signed_message())
    entry.raw = entry.encode()
    return entry.raw


def decode(data):
    """Parse wire bytes into an Entry (signature not yet checked); DecodeError if malformed."""
    reader = encoding.Reader(data)
    if reader.u8() != VERSION:
        raise DecodeError("unknown entry version")
    kind = reader.u8()
    if kind not in KIND_NAMES:
        raise DecodeError("unknown entry kind")
    log_id = reader.short_bytes()
    if not log_id:
        raise DecodeError("empty log id")
    sequence = reader.u32()
    previous_hash = reader.take(32)
    body = reader.long_bytes(MAX_BODY)
    signer = reader.take(32)
    signature = reader.take(64)
    reader.finish()
    return Entry(kind, log_id, sequence, previous_hash, body, signer, signature, reader.data)
