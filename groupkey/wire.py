"""Strict big-endian byte encoding shared by the TGDH and ledger wire structures.

Each package names its own error class (groupkey.tgdh.errors.DecodeError,
groupkey.ledger.errors.DecodeError) and builds on this module:

    class Reader(wire.Reader):      # the package's reader
        error = DecodeError         # raised on a short read, a trailing byte, a non-bytes input
    u8 = wire.writer(1, DecodeError)    # u8(value) -> 1 byte; DecodeError if out of range

``Reader`` never raises IndexError or struct errors: a short read raises ``error``, and
``finish()`` rejects trailing bytes, so every structure has exactly one encoding.
"""


def writer(size, error):
    """A function encoding an unsigned integer in ``size`` bytes big-endian, raising
    ``error`` for a value that does not fit."""
    limit = 1 << (8 * size)
    name = "u%d out of range" % (8 * size)

    def encode(value):
        if value < 0 or value >= limit:
            raise error(name)
        return value.to_bytes(size, "big")

    return encode


class Reader:
    """Walks a byte string; every read is bounds-checked. Subclasses set ``error``."""

    error = ValueError

    def __init__(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise self.error("expected bytes")
        self.data = data if isinstance(data, bytes) else bytes(data)  # no copy of bytes
        self.offset = 0

    def take(self, length):
        """The next ``length`` bytes."""
        end = self.offset + length
        if length < 0 or end > len(self.data):
            raise self.error("truncated")
        chunk = self.data[self.offset:end]
        self.offset = end
        return chunk

    def integer(self, length):
        """An unsigned big-endian integer of ``length`` bytes."""
        return int.from_bytes(self.take(length), "big")

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return self.integer(2)

    def u32(self):
        return self.integer(4)

    def u64(self):
        return self.integer(8)

    def remaining(self):
        """Bytes not yet read."""
        return len(self.data) - self.offset

    def finish(self):
        """Raise ``error`` unless every byte was consumed."""
        if self.offset != len(self.data):
            raise self.error("trailing bytes")
