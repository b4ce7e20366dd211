"""Big-endian, length-checked byte encoding of the ledger wire structures.

The integer writers and the bounds-checked ``Reader`` come from groupkey.wire (shared with
the TGDH codec) and raise groupkey.ledger.errors.DecodeError; this module adds the ledger's
length-prefixed bytes and key lists.
"""

from groupkey import wire
from groupkey.ledger.errors import DecodeError

u8 = wire.writer(1, DecodeError)
u16 = wire.writer(2, DecodeError)
u32 = wire.writer(4, DecodeError)
u64 = wire.writer(8, DecodeError)


def short_bytes(data):
    """u8 length prefix then the bytes (at most 255)."""
    return u8(len(data)) + bytes(data)


def long_bytes(data):
    """u32 length prefix then the bytes."""
    return u32(len(data)) + bytes(data)


def key_list(keys, width=1):
    """Count prefix (u8 or u16) then 32-byte keys, each checked for length."""
    for key in keys:
        if len(key) != 32:
            raise DecodeError("keys are 32 bytes")
    count = u8(len(keys)) if width == 1 else u16(len(keys))
    return count + b"".join(bytes(key) for key in keys)


class Reader(wire.Reader):
    """Sequential reader over ``data`` (groupkey.wire.Reader) with the ledger's fields."""

    error = DecodeError

    def short_bytes(self):
        return self.take(self.u8())

    def long_bytes(self, limit):
        """u32-prefixed bytes, refusing lengths above ``limit``."""
        length = self.u32()
        if length > limit:
            raise DecodeError("field too long")
        return self.take(length)

    def keys(self, width=1):
        """A count-prefixed list of 32-byte keys."""
        count = self.u8() if width == 1 else self.u16()
        return [self.take(32) for _ in range(count)]
