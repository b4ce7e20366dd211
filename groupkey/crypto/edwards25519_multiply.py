"""Scalar multiplication on edwards25519 for Ed25519: fixed base (signing) and double
scalar (verification). Point formulas and encodings are in edwards25519.

* ``base_multiply_steps(scalar)``: scalar * B by a comb (Lim-Lee) over a table of 2 x 16
  precomputed points in Niels form (y + x, y - x, 2*d*x*y), each packed into one int of
  three 256-bit slots (constants in edwards25519_table, loaded on first use). No branch
  or table index depends on the scalar.
* ``double_multiply_steps(s, k, multiples, multiples_high=None)``: s * B - k * A for public
  s, k (variable time): Straus' method sharing one chain of doublings between a width-5 NAF
  of k (optionally split in two 128-bit halves) and the comb of s.

The ``*_steps`` functions are generators that yield every few iterations (about 0.3 ms of
work on the unix port between two yields) and return the extended point, so firmware can
interleave them with asyncio tasks; ``run(steps)`` drives one to the end.
MicroPython's asyncio never resumes a task that yields None, so inside ``async def`` either
drive the generator with ``next()`` and ``await asyncio.sleep_ms(0)`` in between, or pass
``pause`` (a function returning an awaitable, e.g. ``lambda: asyncio.sleep_ms(0)``), which
is then awaited at each yield point instead of a bare yield (as in x25519_steps).
"""

from groupkey.crypto.edwards25519 import (
    IDENTITY,
    P,
    add_cached,
    double,
    to_cached,
)

_MASK_256 = (1 << 256) - 1
_MASK_128 = (1 << 128) - 1
# Fixed-base comb: 2 blocks of 128 bits, 4 teeth 32 bits apart in each block.
_COMB_SPACING = 32
_COMB_TEETH = 4
_COMB_BLOCKS = 2
# Width of the signed sliding window (wNAF) for the variable-base scalar in verification.
NAF_WIDTH = 5
# Loop iterations between two yields of the *_steps generators: 4 comb columns (8 additions,
# 4 doublings) or 16 doublings of the verification chain, about 0.3 ms each on the unix port.
COMB_YIELD_EVERY = 4
YIELD_EVERY = 16


_base_table = None


def base_table():
    """The comb table: a tuple of 2 blocks x 16 packed Niels points, entry [b][index] being
    sum over teeth i with bit i of index set of 2^(128*b + 32*i) * B.

    Precomputed constants (groupkey/crypto/edwards25519_table.py, generated and checked by
    scripts/gen_base_table.py): building it on a device took ~230 doublings and ~15 KB of
    transient heap on the first signature or verification. Imported on first use, then held
    for the process lifetime: 32 ints of 768 bits (about 4 KB of heap).
    """
    global _base_table
    if _base_table is None:
        from groupkey.crypto.edwards25519_table import COMB

        _base_table = COMB
    return _base_table


def _comb_words(scalar):
    """The 8 32-bit words of a scalar < 2^256, least significant first."""
    return [(scalar >> (32 * index)) & 0xFFFFFFFF for index in range(8)]


def base_multiply_steps(scalar, pause=None):
    """Generator computing scalar * B (0 <= scalar < 2^256); yields now and then, returns the
    extended point.

    Comb method: 31 doublings and 64 mixed additions. The control flow and the memory
    accessed do not depend on the scalar: every addition scans all 16 entries of its table
    row with masks (identity entries included, the formulas being complete). Python big-int
    operations themselves take time that varies slightly with operand values (see
    docs/crypto.md).
    """
    rows = base_table()
    row_low = rows[0]
    row_high = rows[1]
    words = _comb_words(scalar)
    w0, w1, w2, w3, w4, w5, w6, w7 = words
    p = P
    mask256 = _MASK_256
    X, Y, Z, T = IDENTITY
    for column in range(_COMB_SPACING - 1, -1, -1):
        if column != _COMB_SPACING - 1:
            # Doubling; T is needed by the addition that follows.
            xx = X * X % p
            yy = Y * Y % p
            h = xx + yy
            g = yy - xx
            s = X + Y
            e = s * s % p - h
            f = Z * Z * 2 % p - g
            X = e * f % p
            Y = h * g % p
            Z = g * f % p
            T = e * h % p
        index_low = (
            (w0 >> column & 1)
            | (w1 >> column & 1) << 1
            | (w2 >> column & 1) << 2
            | (w3 >> column & 1) << 3
        )
        index_high = (
            (w4 >> column & 1)
            | (w5 >> column & 1) << 1
            | (w6 >> column & 1) << 2
            | (w7 >> column & 1) << 3
        )
        for row, index, last in ((row_low, index_low, False), (row_high, index_high, True)):
            selected = 0
            for entry in range(16):
                # mask is -1 for the wanted entry and 0 otherwise, without a branch.
                selected |= row[entry] & (((entry ^ index) - 1) >> 4)
            a = (Y + X) * (selected & mask256) % p
            b = (Y - X) * ((selected >> 256) & mask256) % p
            c = T * (selected >> 512) % p
            d = Z + Z
            e = a - b
            h = a + b
            g = d + c
            f = d - c
            X = e * f % p
            Y = h * g % p
            Z = g * f % p
            if not last:
                T = e * h % p
        if column % COMB_YIELD_EVERY == 0:
            if pause is None:
                yield
            else:
                yield from pause()
    return (X, Y, Z, e * h % p)


def run(steps):
    """Drive a *_steps generator to the end and return its result."""
    try:
        while True:
            next(steps)
    except StopIteration as stop:
        return stop.value


def base_multiply(scalar):
    """scalar * B (0 <= scalar < 2^256) as an extended point; see base_multiply_steps."""
    return run(base_multiply_steps(scalar))


def _pack_cached(point):
    ypx, ymx, z2, t2d = to_cached(point)
    return ypx | ymx << 256 | z2 << 512 | t2d << 768


def odd_multiples(point):
    """Cached forms of point, 3*point, ..., 15*point: the window table of verification.

    A tuple of 8 ints, each packing (Y + X, Y - X, 2Z, 2dT) in four 256-bit slots: one heap
    object per point (about 1.3 KB for the table) instead of a tuple of four ints.
    """
    twice = to_cached(double(point))
    current = point
    table = [_pack_cached(current)]
    for _ in range((1 << (NAF_WIDTH - 2)) - 1):
        current = add_cached(current, twice)
        table.append(_pack_cached(current))
    return tuple(table)


def _naf(scalar):
    """Width-NAF_WIDTH non-adjacent form of a public scalar 0 <= scalar < 2^256.

    A bytearray of 257 digits, least significant first, each stored as a byte in two's
    complement (a bytearray, not a list, keeps the allocation small on a fragmented heap).
    Every nonzero digit is odd, |digit| < 2^(NAF_WIDTH-1), and any NAF_WIDTH consecutive
    digits hold at most one nonzero.
    """
    window = 1 << NAF_WIDTH
    half = window >> 1
    mask = window - 1
    digits = bytearray(257)
    position = 0
    while scalar:
        if scalar & 1:
            digit = scalar & mask
            if digit >= half:
                digit -= window
            scalar -= digit
            digits[position] = digit & 0xFF
        scalar >>= 1
        position += 1
    return digits


def double_multiply_steps(scalar_base, scalar_point, multiples, multiples_high=None,
                          pause=None):
    """Generator computing scalar_base * B - scalar_point * A, variable time (public data).

    ``multiples`` is ``odd_multiples(A)``; 0 <= scalar_base < 2^256, 0 <= scalar_point < 2^256.
    Straus' method: one chain of doublings shared by a width-5 NAF of scalar_point and the
    fixed-base comb of scalar_base, whose additions fall in the last 32 doublings. With
    ``multiples_high`` = ``odd_multiples(2^128 * A)`` (a cached key) scalar_point is split in
    two 128-bit halves and the chain is 128 doublings long instead of 253.
    Yields now and then; returns the extended point.
    """
    rows = base_table()
    row_low = rows[0]
    row_high = rows[1]
    w0, w1, w2, w3, w4, w5, w6, w7 = _comb_words(scalar_base)
    if multiples_high is None:
        digits = _naf(scalar_point)
        digits_high = _naf(0)
        multiples_high = multiples
    else:
        digits = _naf(scalar_point & _MASK_128)
        digits_high = _naf(scalar_point >> 128)
    p = P
    mask256 = _MASK_256
    top = len(digits) - 1
    while top >= _COMB_SPACING and not (digits[top] or digits_high[top]):
        top -= 1
    X, Y, Z, T = IDENTITY
    started = False
    for position in range(top, -1, -1):
        digit = digits[position]
        digit_high = digits_high[position]
        if position < _COMB_SPACING:
            index_low = (
                (w0 >> position & 1)
                | (w1 >> position & 1) << 1
                | (w2 >> position & 1) << 2
                | (w3 >> position & 1) << 3
            )
            index_high = (
                (w4 >> position & 1)
                | (w5 >> position & 1) << 1
                | (w6 >> position & 1) << 2
                | (w7 >> position & 1) << 3
            )
        else:
            index_low = index_high = 0
        if started:
            xx = X * X % p
            yy = Y * Y % p
            h = xx + yy
            g = yy - xx
            s = X + Y
            e = s * s % p - h
            f = Z * Z * 2 % p - g
            X = e * f % p
            Y = h * g % p
            Z = g * f % p
            if digit or digit_high or index_low or index_high:
                T = e * h % p
        for naf_digit, table in ((digit, multiples), (digit_high, multiples_high)):
            if naf_digit:
                # Subtract digit * A: a positive digit uses the negated cached point.
                if naf_digit < 128:
                    entry = table[naf_digit >> 1]
                    ymx = entry & mask256
                    ypx = (entry >> 256) & mask256
                    t2d = -(entry >> 768)
                else:
                    entry = table[(256 - naf_digit) >> 1]
                    ypx = entry & mask256
                    ymx = (entry >> 256) & mask256
                    t2d = entry >> 768
                z2 = (entry >> 512) & mask256
                a = (Y + X) * ypx % p
                b = (Y - X) * ymx % p
                c = T * t2d % p
                d = Z * z2 % p
                e = a - b
                h = a + b
                g = d + c
                f = d - c
                X = e * f % p
                Y = h * g % p
                Z = g * f % p
                T = e * h % p
                started = True
        for index, row in ((index_low, row_low), (index_high, row_high)):
            if index:
                entry = row[index]
                a = (Y + X) * (entry & mask256) % p
                b = (Y - X) * ((entry >> 256) & mask256) % p
                c = T * (entry >> 512) % p
                d = Z + Z
                e = a - b
                h = a + b
                g = d + c
                f = d - c
                X = e * f % p
                Y = h * g % p
                Z = g * f % p
                T = e * h % p
                started = True
        if position % YIELD_EVERY == 0:
            if pause is None:
                yield
            else:
                yield from pause()
    return (X, Y, Z, T)
