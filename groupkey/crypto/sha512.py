"""SHA-512 (FIPS 180-4): the interpreter's native hashlib when it has one, else pure Python.

``sha512(data)`` returns the 64-byte digest; ``SHA512(data=b"")`` is the streaming form with
``update``, ``digest`` and ``copy``. On CPython both are served by ``hashlib.sha512``.
MicroPython (ESP32 and the unix port) has no SHA-512 in hashlib, so there the pure
implementation below is used. ``sha512_pure`` and ``PureSHA512`` always run the pure code, so
tests check it on CPython as well.

Each 64-bit word is held as two 32-bit halves (high, low): on the 64-bit MicroPython unix port
small ints carry 62 bits, so a whole 64-bit word would become a heap-allocated big int on every
operation, while every intermediate value here stays below 2**62. Round constants are a flat
tuple (high, low, high, low, ...).

Accepted data: bytes, bytearray, memoryview; anything else raises InvalidInput.
"""

import struct

from groupkey.crypto.errors import InvalidInput

_MASK = 0xFFFFFFFF

# FIPS 180-4 section 5.3.5: first 64 bits of the fractional parts of the square roots of the
# first 8 primes, as (high, low) halves.
_INITIAL = (
    0x6a09e667, 0xf3bcc908, 0xbb67ae85, 0x84caa73b, 0x3c6ef372, 0xfe94f82b, 0xa54ff53a, 0x5f1d36f1,
    0x510e527f, 0xade682d1, 0x9b05688c, 0x2b3e6c1f, 0x1f83d9ab, 0xfb41bd6b, 0x5be0cd19, 0x137e2179,
)

# FIPS 180-4 section 4.2.3: first 64 bits of the fractional parts of the cube roots of the
# first 80 primes, as (high, low) halves.
_ROUND_CONSTANTS = (
    0x428a2f98, 0xd728ae22, 0x71374491, 0x23ef65cd, 0xb5c0fbcf, 0xec4d3b2f, 0xe9b5dba5, 0x8189dbbc,
    0x3956c25b, 0xf348b538, 0x59f111f1, 0xb605d019, 0x923f82a4, 0xaf194f9b, 0xab1c5ed5, 0xda6d8118,
    0xd807aa98, 0xa3030242, 0x12835b01, 0x45706fbe, 0x243185be, 0x4ee4b28c, 0x550c7dc3, 0xd5ffb4e2,
    0x72be5d74, 0xf27b896f, 0x80deb1fe, 0x3b1696b1, 0x9bdc06a7, 0x25c71235, 0xc19bf174, 0xcf692694,
    0xe49b69c1, 0x9ef14ad2, 0xefbe4786, 0x384f25e3, 0x0fc19dc6, 0x8b8cd5b5, 0x240ca1cc, 0x77ac9c65,
    0x2de92c6f, 0x592b0275, 0x4a7484aa, 0x6ea6e483, 0x5cb0a9dc, 0xbd41fbd4, 0x76f988da, 0x831153b5,
    0x983e5152, 0xee66dfab, 0xa831c66d, 0x2db43210, 0xb00327c8, 0x98fb213f, 0xbf597fc7, 0xbeef0ee4,
    0xc6e00bf3, 0x3da88fc2, 0xd5a79147, 0x930aa725, 0x06ca6351, 0xe003826f, 0x14292967, 0x0a0e6e70,
    0x27b70a85, 0x46d22ffc, 0x2e1b2138, 0x5c26c926, 0x4d2c6dfc, 0x5ac42aed, 0x53380d13, 0x9d95b3df,
    0x650a7354, 0x8baf63de, 0x766a0abb, 0x3c77b2a8, 0x81c2c92e, 0x47edaee6, 0x92722c85, 0x1482353b,
    0xa2bfe8a1, 0x4cf10364, 0xa81a664b, 0xbc423001, 0xc24b8b70, 0xd0f89791, 0xc76c51a3, 0x0654be30,
    0xd192e819, 0xd6ef5218, 0xd6990624, 0x5565a910, 0xf40e3585, 0x5771202a, 0x106aa070, 0x32bbd1b8,
    0x19a4c116, 0xb8d2d0c8, 0x1e376c08, 0x5141ab53, 0x2748774c, 0xdf8eeb99, 0x34b0bcb5, 0xe19b48a8,
    0x391c0cb3, 0xc5c95a63, 0x4ed8aa4a, 0xe3418acb, 0x5b9cca4f, 0x7763e373, 0x682e6ff3, 0xd6b2b8a3,
    0x748f82ee, 0x5defb2fc, 0x78a5636f, 0x43172f60, 0x84c87814, 0xa1f0ab72, 0x8cc70208, 0x1a6439ec,
    0x90befffa, 0x23631e28, 0xa4506ceb, 0xde82bde9, 0xbef9a3f7, 0xb2c67915, 0xc67178f2, 0xe372532b,
    0xca273ece, 0xea26619c, 0xd186b8c7, 0x21c0c207, 0xeada7dd6, 0xcde0eb1e, 0xf57d4f7f, 0xee6ed178,
    0x06f067aa, 0x72176fba, 0x0a637dc5, 0xa2c898a6, 0x113f9804, 0xbef90dae, 0x1b710b35, 0x131c471b,
    0x28db77f5, 0x23047d84, 0x32caab7b, 0x40c72493, 0x3c9ebe0a, 0x15c9bebc, 0x431d67c4, 0x9c100d4c,
    0x4cc5d4be, 0xcb3e42b6, 0x597f299c, 0xfc657e2a, 0x5fcb6fab, 0x3ad6faec, 0x6c44198c, 0x4a475817,
)

_BYTES_TYPES = (bytes, bytearray, memoryview)


def _check(data, what):
    if not isinstance(data, _BYTES_TYPES):
        raise InvalidInput("%s: data must be bytes, bytearray or memoryview" % what)
    if isinstance(data, memoryview):
        return bytes(data)
    return data


def _compress(state, data, offset, schedule):
    """Fold the 128-byte block data[offset:offset + 128] into state (16 halves, in place).

    ``schedule`` is a scratch list of 160 ints (80 words as high, low halves).
    """
    mask = _MASK
    w = schedule
    words = struct.unpack_from(">32I", data, offset)
    for index in range(32):
        w[index] = words[index]
    for t in range(32, 160, 2):
        # sigma0(W[t-15]) = ROTR1 ^ ROTR8 ^ SHR7; high halves keep junk above bit 32
        xh = w[t - 30]
        xl = w[t - 29]
        s0h = xh >> 1 ^ xl << 31 ^ xh >> 8 ^ xl << 24 ^ xh >> 7
        s0l = (xl >> 1 ^ xh << 31 ^ xl >> 8 ^ xh << 24 ^ xl >> 7 ^ xh << 25) & mask
        # sigma1(W[t-2]) = ROTR19 ^ ROTR61 ^ SHR6
        xh = w[t - 4]
        xl = w[t - 3]
        s1h = xh >> 19 ^ xl << 13 ^ xl >> 29 ^ xh << 3 ^ xh >> 6
        s1l = (xl >> 19 ^ xh << 13 ^ xh >> 29 ^ xl << 3 ^ xl >> 6 ^ xh << 26) & mask
        low = s1l + w[t - 13] + s0l + w[t - 31]
        w[t + 1] = low & mask
        w[t] = (s1h + w[t - 14] + s0h + w[t - 32] + (low >> 32)) & mask

    ah, al, bh, bl, ch, cl, dh, dl, eh, el, fh, fl, gh, gl, hh, hl = state
    k = _ROUND_CONSTANTS
    for t in range(0, 160, 2):
        # T1 = h + Sigma1(e) + Ch(e, f, g) + K[t] + W[t]
        t1l = (hl + ((el >> 14 ^ eh << 18 ^ el >> 18 ^ eh << 14 ^ eh >> 9 ^ el << 23) & mask)
               + (gl ^ (el & (fl ^ gl))) + k[t + 1] + w[t + 1])
        t1h = (hh + (eh >> 14 ^ el << 18 ^ eh >> 18 ^ el << 14 ^ el >> 9 ^ eh << 23)
               + (gh ^ (eh & (fh ^ gh))) + k[t] + w[t])
        # T2 = Sigma0(a) + Maj(a, b, c)
        t2l = (((al >> 28 ^ ah << 4 ^ ah >> 2 ^ al << 30 ^ ah >> 7 ^ al << 25) & mask)
               + ((al & bl) | (cl & (al | bl))))
        t2h = ((ah >> 28 ^ al << 4 ^ al >> 2 ^ ah << 30 ^ al >> 7 ^ ah << 25)
               + ((ah & bh) | (ch & (ah | bh))))
        hh = gh
        hl = gl
        gh = fh
        gl = fl
        fh = eh
        fl = el
        el = dl + t1l
        eh = (dh + t1h + (el >> 32)) & mask
        el &= mask
        dh = ch
        dl = cl
        ch = bh
        cl = bl
        bh = ah
        bl = al
        al = t1l + t2l
        ah = (t1h + t2h + (al >> 32)) & mask
        al &= mask

    index = 0
    for high, low in ((ah, al), (bh, bl), (ch, cl), (dh, dl),
                      (eh, el), (fh, fl), (gh, gl), (hh, hl)):
        total = state[index + 1] + low
        state[index] = (state[index] + high + (total >> 32)) & mask
        state[index + 1] = total & mask
        index += 2


def _length_block(tail, total_length):
    """Padding for the final block(s): tail + 0x80 + zeros + 128-bit big-endian bit length."""
    padding = 111 - len(tail)
    if padding < 0:
        padding += 128
    bits = total_length * 8
    return (bytes(tail) + b"\x80" + bytes(padding)
            + struct.pack(">QQ", bits >> 64, bits & 0xFFFFFFFFFFFFFFFF))


def sha512_pure(data):
    """SHA-512 digest (64 bytes) of data, always computed by the pure-Python code."""
    data = _check(data, "sha512")
    state = list(_INITIAL)
    schedule = [0] * 160
    length = len(data)
    full = length - length % 128
    offset = 0
    while offset < full:
        _compress(state, data, offset, schedule)
        offset += 128
    last = _length_block(data[full:], length)
    _compress(state, last, 0, schedule)
    if len(last) > 128:
        _compress(state, last, 128, schedule)
    return struct.pack(">16I", *state)


class PureSHA512:
    """Streaming SHA-512 in pure Python: ``update(data)``, ``digest()``, ``copy()``."""

    def __init__(self, data=b""):
        self._state = list(_INITIAL)
        self._buffer = bytearray(128)
        self._buffered = 0
        self._length = 0
        self._schedule = None
        if data:
            self.update(data)
        else:
            _check(data, "sha512")

    def update(self, data):
        """Absorb more bytes."""
        data = _check(data, "sha512")
        length = len(data)
        if not length:
            return
        self._length += length
        buffer = self._buffer
        buffered = self._buffered
        offset = 0
        schedule = self._schedule
        if schedule is None:
            schedule = self._schedule = [0] * 160
        if buffered:
            take = min(128 - buffered, length)
            buffer[buffered:buffered + take] = data[:take]
            buffered += take
            offset = take
            if buffered < 128:
                self._buffered = buffered
                return
            _compress(self._state, buffer, 0, schedule)
            buffered = 0
        while length - offset >= 128:
            _compress(self._state, data, offset, schedule)
            offset += 128
        rest = length - offset
        if rest:
            buffer[0:rest] = data[offset:]
        self._buffered = rest

    def digest(self):
        """The 64-byte digest of everything absorbed so far; the object stays usable."""
        state = list(self._state)
        schedule = self._schedule
        if schedule is None:
            schedule = [0] * 160
        last = _length_block(self._buffer[:self._buffered], self._length)
        _compress(state, last, 0, schedule)
        if len(last) > 128:
            _compress(state, last, 128, schedule)
        return struct.pack(">16I", *state)

    def copy(self):
        """An independent copy of the running hash."""
        other = PureSHA512()
        other._state = list(self._state)
        other._buffer = bytearray(self._buffer)
        other._buffered = self._buffered
        other._length = self._length
        return other


try:
    from hashlib import sha512 as _native_sha512
except ImportError:
    _native_sha512 = None


if _native_sha512 is None:

    SHA512 = PureSHA512
    sha512 = sha512_pure

else:

    class SHA512:
        """Streaming SHA-512 served by the interpreter's hashlib (same API as PureSHA512)."""

        def __init__(self, data=b""):
            self._hash = _native_sha512(_check(data, "sha512"))

        def update(self, data):
            """Absorb more bytes."""
            self._hash.update(_check(data, "sha512"))

        def digest(self):
            """The 64-byte digest of everything absorbed so far; the object stays usable."""
            return self._hash.digest()

        def copy(self):
            """An independent copy of the running hash."""
            other = SHA512.__new__(SHA512)
            other._hash = self._hash.copy()
            return other

    def sha512(data):
        """SHA-512 digest (64 bytes) of data."""
        return _native_sha512(_check(data, "sha512")).digest()


NATIVE = _native_sha512 is not None
