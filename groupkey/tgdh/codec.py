"""Strict big-endian encoding helpers for the TGDH wire structures.

``Reader`` raises DecodeError (never IndexError) on a short read and ``finish()`` rejects
trailing bytes, so every structure has exactly one encoding. Writers are plain functions.
"""

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


def u8(value):
    """One byte."""
    if value < 0 or value > 0xFF:
        raise DecodeError("u8 out of range")
    return bytes((value,))


def u16(value):
    """Two bytes big-endian."""
    if value < 0 or value > 0xFFFF:
        raise DecodeError("u16 out of range")
    return value.to_bytes(2, "big")


def u32(value):
    """Four bytes big-endian."""
    if value < 0 or value > 0xFFFFFFFF:
        raise DecodeError("u32 out of range")
    return value.to_bytes(4, "big")


def u64(value):
    """Eight bytes big-endian."""
    if value < 0 or value > 0xFFFFFFFFFFFFFFFF:
        raise DecodeError("u64 out of range")
    return value.to_bytes(8, "big")


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


class Reader:
    """Walks a byte string; every short read raises DecodeError."""

    def __init__(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DecodeError("expected bytes")
        self.data = data if isinstance(data, bytes) else bytes(data)  # no copy of bytes
        self.offset = 0

    def take(self, size):
        """The next ``size`` bytes."""
        end = self.offset + size
        if size < 0 or end > len(self.data):
            raise DecodeError("truncated message")
        chunk = self.data[self.offset:end]
        self.offset = end
        return chunk

    def u8(self):
        """Next byte as int."""
        return self.take(1)[0]

    def u16(self):
        """Next two bytes as int."""
        return int.from_bytes(self.take(2), "big")

    def u32(self):
        """Next four bytes as int."""
        return int.from_bytes(self.take(4), "big")

    def u64(self):
        """Next eight bytes as int."""
        return int.from_bytes(self.take(8), "big")

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

    def remaining(self):
        """Bytes not yet read."""
        return len(self.data) - self.offset

    def finish(self):
        """Raise DecodeError on trailing bytes."""
        if self.offset != len(self.data):
            raise DecodeError("trailing bytes")
