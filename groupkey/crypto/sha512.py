"""SHA-512 (FIPS 180-4): the interpreter's native hashlib when it has one, else pure Python.

``sha512(data)`` returns the 64-byte digest; ``SHA512(data=b"")`` is the streaming form with
``update``, ``digest`` and ``copy``. On CPython both are served by ``hashlib.sha512``.
MicroPython (ESP32 and the unix port) has no SHA-512 in hashlib, so there the pure
implementation below is used. ``sha512_pure`` and ``PureSHA512`` always run the pure code, so
tests check it on CPython as well. ``NATIVE`` tells which one ``sha512`` is.

Accepted data: bytes, bytearray, memoryview; anything else raises InvalidInput.

How the pure code is made fast enough for Ed25519 under MicroPython:

- Each 64-bit word is two 32-bit halves (high, low). On the 64-bit unix port small ints hold
  62 bits plus sign, so whole 64-bit words would be heap-allocated big ints at every operation;
  the halves, and every intermediate value below, stay under 2**62. A 32-bit half is shifted
  left by at most 30 bits, and where a shift by 31 (sigma0) or a high term near 2**62 inside a
  sum (Sigma0) would overflow, only the bits that land are kept first: ``(x & 1) << 31``,
  ``(x & 3) << 30``.
- A high half may carry junk above bit 31 until its final ``& mask``: rotations XOR shifted
  pieces, additions carry upward only, so bits 0-31 stay right. Low halves are always exact,
  so ``low >> 32`` is the carry into the high half.
- ``_compress`` is one plain loop of 80 rounds in about 60 lines, with the working words in
  local variables; the message schedule is computed on the way in a 16-word window, so a hash
  allocates nothing larger than 0.3 KB (a fragmented device heap may have no bigger hole).
  Unrolled variants were measured and rejected: 8 rounds unrolled with the schedule window in
  locals took 20% fewer instructions but 4 KB more heap after import and a 64K heap to compile
  from source (Ed25519, which imports this module after its point tables, then no longer
  loaded in 96K); 4 rounds unrolled saved only 4% for 2.4 KB more heap. This version compiles
  from source in about 38K and keeps about 6.5 KB after import.
- On the ESP32 small ints hold 31 bits, so 32-bit halves above 2**30 are big ints there: the
  code is still correct, only slower.
"""

import struct

from groupkey.crypto.errors import InvalidInput

_MASK = 0xFFFFFFFF

# FIPS 180-4 section 5.3.5: H(0), the first 64 bits of the fractional parts of the square
# roots of the first 8 primes, as (high, low) halves.
_INITIAL = (
    0x6a09e667, 0xf3bcc908, 0xbb67ae85, 0x84caa73b, 0x3c6ef372, 0xfe94f82b, 0xa54ff53a, 0x5f1d36f1,
    0x510e527f, 0xade682d1, 0x9b05688c, 0x2b3e6c1f, 0x1f83d9ab, 0xfb41bd6b, 0x5be0cd19, 0x137e2179,
)

# FIPS 180-4 section 4.2.3: K, the first 64 bits of the fractional parts of the cube roots of
# the first 80 primes, as (high, low) halves.
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


def _check(data):
    if not isinstance(data, _BYTES_TYPES):
        raise InvalidInput("sha512: data must be bytes, bytearray or memoryview")
    if isinstance(data, memoryview):
        return bytes(data)
    return data


def _compress(state, data, offset, window):
    """Fold the 128-byte block data[offset:offset + 128] into state (16 halves, in place).

    FIPS 180-4 section 6.4.2, with high halves ``..h`` and low halves ``..l``. ``window`` is a
    scratch list of 32 ints, reused across blocks: the last 16 message schedule words, W[t] at
    position 2t mod 32 (high) and the next one (low), each replaced by W[t+16] once used.
    """
    # The working words are unpacked first: the first 16 local variables get the shortest
    # load/store opcodes, and these are the most used.
    ah, al, bh, bl, ch, cl, dh, dl, eh, el, fh, fl, gh, gl, hh, hl = state
    mask = _MASK
    w = window
    w[0:32] = struct.unpack_from(">32I", data, offset)
    k = _ROUND_CONSTANTS
    for t in range(0, 160, 2):
        i = t & 31
        if t < 32:
            wh = w[i]
            wl = w[i + 1]
        else:
            # W[t] = sigma1(W[t-2]) + W[t-7] + sigma0(W[t-15]) + W[t-16], where
            # sigma0(x) = ROTR1 ^ ROTR8 ^ SHR7 and sigma1(y) = ROTR19 ^ ROTR61 ^ SHR6
            x = (i + 2) & 31
            xh = w[x]
            xl = w[x + 1]
            x = (i + 28) & 31
            yh = w[x]
            yl = w[x + 1]
            x = (i + 18) & 31
            wl = (w[i + 1] + w[x + 1]
                  + ((xl >> 1 ^ (xh & 1) << 31 ^ xl >> 8 ^ xh << 24 ^ xl >> 7 ^ xh << 25) & mask)
                  + ((yl >> 19 ^ yh << 13 ^ yh >> 29 ^ yl << 3 ^ yl >> 6 ^ yh << 26) & mask))
            wh = (w[i] + w[x] + (xh >> 1 ^ (xl & 1) << 31 ^ xh >> 8 ^ xl << 24 ^ xh >> 7)
                  + (yh >> 19 ^ yl << 13 ^ yl >> 29 ^ yh << 3 ^ yh >> 6) + (wl >> 32)) & mask
            wl &= mask
            w[i] = wh
            w[i + 1] = wl
        # T1 = h + Sigma1(e) + Ch(e, f, g) + K[t] + W[t], Sigma1 = ROTR14 ^ ROTR18 ^ ROTR41
        t1l = (hl + ((el >> 14 ^ el >> 18 ^ eh << 18 ^ eh << 14 ^ eh >> 9 ^ el << 23) & mask)
               + (gl ^ (el & (fl ^ gl))) + k[t + 1] + wl)
        t1h = (hh + (eh >> 14 ^ eh >> 18 ^ el << 18 ^ el << 14 ^ el >> 9 ^ eh << 23)
               + (gh ^ (eh & (fh ^ gh))) + k[t] + wh)
        hh = gh
        hl = gl
        gh = fh
        gl = fl
        fh = eh
        fl = el
        # e = d + T1
        el = dl + t1l
        eh = (dh + t1h + (el >> 32)) & mask
        el &= mask
        # a = T1 + Sigma0(a) + Maj(a, b, c), Sigma0 = ROTR28 ^ ROTR34 ^ ROTR39
        t1l += (((al >> 28 ^ ah << 4 ^ ah >> 2 ^ al << 30 ^ ah >> 7 ^ al << 25) & mask)
                + ((al & bl) | (cl & (al | bl))))
        t1h += ((ah >> 28 ^ al << 4 ^ al >> 2 ^ (ah & 3) << 30 ^ al >> 7 ^ ah << 25)
                + ((ah & bh) | (ch & (ah | bh))) + (t1l >> 32))
        dh = ch
        dl = cl
        ch = bh
        cl = bl
        bh = ah
        bl = al
        ah = t1h & mask
        al = t1l & mask

    words = (ah, al, bh, bl, ch, cl, dh, dl, eh, el, fh, fl, gh, gl, hh, hl)
    for index in range(0, 16, 2):
        low = state[index + 1] + words[index + 1]
        state[index] = (state[index] + words[index] + (low >> 32)) & mask
        state[index + 1] = low & mask


def _final_blocks(tail, total_length):
    """tail + 0x80 + zeros + the 128-bit big-endian bit length: one or two blocks (5.1.2)."""
    padding = 111 - len(tail)
    if padding < 0:
        padding += 128
    bits = total_length * 8
    return (bytes(tail) + b"\x80" + bytes(padding)
            + struct.pack(">QQ", bits >> 64, bits & 0xFFFFFFFFFFFFFFFF))


def _finish(state, tail, total_length, window):
    last = _final_blocks(tail, total_length)
    _compress(state, last, 0, window)
    if len(last) > 128:
        _compress(state, last, 128, window)
    return struct.pack(">16I", *state)


def sha512_pure(data):
    """SHA-512 digest (64 bytes) of data, always computed by the pure-Python code."""
    data = _check(data)
    state = list(_INITIAL)
    window = [0] * 32
    length = len(data)
    full = length - length % 128
    for offset in range(0, full, 128):
        _compress(state, data, offset, window)
    return _finish(state, data[full:], length, window)


class PureSHA512:
    """Streaming SHA-512 in pure Python: ``update(data)``, ``digest()``, ``copy()``."""

    def __init__(self, data=b""):
        self._state = list(_INITIAL)
        self._buffer = bytearray(128)
        self._buffered = 0
        self._length = 0
        self._window = None
        self.update(data)

    def update(self, data):
        """Absorb more bytes."""
        data = _check(data)
        length = len(data)
        if not length:
            return
        self._length += length
        buffer = self._buffer
        buffered = self._buffered
        window = self._scratch()
        offset = 0
        if buffered:
            offset = min(128 - buffered, length)
            buffer[buffered:buffered + offset] = data[:offset]
            buffered += offset
            if buffered < 128:
                self._buffered = buffered
                return
            _compress(self._state, buffer, 0, window)
        while length - offset >= 128:
            _compress(self._state, data, offset, window)
            offset += 128
        self._buffered = length - offset
        buffer[0:length - offset] = data[offset:]

    def digest(self):
        """The 64-byte digest of everything absorbed so far; the object stays usable."""
        return _finish(list(self._state), self._buffer[:self._buffered], self._length,
                       self._scratch())

    def _scratch(self):
        # one 32-int schedule window per hash object, made on first use
        if self._window is None:
            self._window = [0] * 32
        return self._window

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

NATIVE = _native_sha512 is not None

if NATIVE:

    class SHA512:
        """Streaming SHA-512 served by the interpreter's hashlib (same API as PureSHA512)."""

        def __init__(self, data=b""):
            self._hash = _native_sha512(_check(data))

        def update(self, data):
            """Absorb more bytes."""
            self._hash.update(_check(data))

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
        return _native_sha512(_check(data)).digest()

else:
    SHA512 = PureSHA512
    sha512 = sha512_pure
