"""Strict big-endian encoding helpers for the TGDH wire structures.

The integer writers and the bounds-checked ``Reader`` come from groupkey.wire (shared with
the ledger encoding) and raise groupkey.tgdh.errors.DecodeError; this module adds the TGDH
header, group id and fixed-size fields.
"""

from groupkey import wire
from groupkey.tgdh.errors import DecodeError

VERSION = 1
KEY_SIZE = 32
HASH_SIZE = 32
SIGNATURE_SIZE = 64
MAX_GROUP_ID = 32

# Message types (second byte of every top-level structure).
TYPE_TRANSITION = 0x01
TYPE_WELCOME = 0x02
TYPE_NODE_LIST = 0x03
TYPE_PUBLIC_TREE = 0x04
TYPE_MEMBER_STATE = 0x05
TYPE_MEMBER_UPDATE = 0x06


u8 = wire.writer(1, DecodeError)
u16 = wire.writer(2, DecodeError)
u32 = wire.writer(4, DecodeError)
u64 = wire.writer(8, DecodeError)


def header(message_type):
    """Version byte then type byte."""
    return bytes((VERSION, message_type))


def group_id_field(group_id):
    """u8 length (1..32) then the group id."""
    if not isinstance(group_id, (bytes, bytearray)) or not 0 < len(group_id) <= MAX_GROUP_ID:
        raise DecodeError("group id must be 1..32 bytes")
    return u8(len(group_id)) + bytes(group_id)


def fixed(value, size, what):
    """Check that ``value`` is bytes of ``size`` and return it as bytes."""
    if not isinstance(value, (bytes, bytearray)) or len(value) != size:
        raise DecodeError("%s must be %d bytes" % (what, size))
    return bytes(value)


class Reader(wire.Reader):
    """Walks a byte string (groupkey.wire.Reader) with the TGDH fields."""

    error = DecodeError

    def key(self):
        """Next 32-byte key or hash."""
        return self.take(KEY_SIZE)

    def header(self, message_type):
        """Check version and type bytes."""
        version = self.u8()
        if version != VERSION:
            raise DecodeError("unsupported version %d" % version)
        found = self.u8()
        if found != message_type:
            raise DecodeError("expected message type %d, got %d" % (message_type, found))

    def group_id(self):
        """u8 length-prefixed group id (1..32 bytes)."""
        size = self.u8()
        if size == 0 or size > MAX_GROUP_ID:
            raise DecodeError("group id length out of range")
        return self.take(size)
