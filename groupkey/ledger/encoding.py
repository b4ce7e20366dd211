"""Big-endian, length-checked byte encoding shared by the ledger wire structures.

``Reader`` walks a byte string and raises DecodeError (never IndexError or struct errors) on
any short read; ``finish()`` rejects trailing bytes, so every structure has exactly one
encoding. Writers are plain functions returning bytes.
"""

from groupkey.ledger.errors import DecodeError


def u8(value):
    """One byte, 0..255."""
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


class Reader:
    """Sequential reader over ``data``; every read is bounds-checked."""

    def __init__(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DecodeError("expected bytes")
        self.data = bytes(data)
        self.offset = 0

    def take(self, length):
        """The next ``length`` bytes."""
        end = self.offset + length
        if length < 0 or end > len(self.data):
            raise DecodeError("truncated")
        chunk = self.data[self.offset:end]
        self.offset = end
        return chunk

    def integer(self, length):
        """An unsigned big-endian integer of ``length`` bytes."""
        return int.from_bytes(self.take(length), "big")

    def u8(self):
        return self.integer(1)

    def u16(self):
        return self.integer(2)

    def u32(self):
        return self.integer(4)

    def u64(self):
        return self.integer(8)

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

    def remaining(self):
        return len(self.data) - self.offset

    def finish(self):
        """Raise DecodeError unless every byte was consumed."""
        if self.offset != len(self.data):
            raise DecodeError("trailing bytes")
