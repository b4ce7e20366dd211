"""Point arithmetic on edwards25519, the curve of Ed25519 (RFC 8032 section 5.1).

Curve: -x^2 + y^2 = 1 + d x^2 y^2 over GF(p), p = 2^255 - 19, group order 8 * L.

Representations (all coordinates are Python ints):

* extended   (X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z  (Hisil, Wong, Carter, Dawson,
             "Twisted Edwards curves revisited", ASIACRYPT 2008): the working form.
* Niels      (y + x, y - x, 2*d*x*y) of an affine point: the fixed-base table entries; a
             mixed addition with it costs 7 multiplications. Packed into one int per entry
             (three 256-bit slots) so a constant-time table scan is two big-int operations
             per entry.
* cached     (Y + X, Y - X, 2*Z, 2*d*T) of an extended point: 8-multiplication additions,
             used for the odd multiples of a public key in verification.

The addition and doubling formulas are complete on this curve (a = -1 is a square, d is not),
so the identity needs no special case. Only products are reduced modulo p; sums and
differences stay unreduced (|value| < 4p) until the next product.

Public functions: ``decode`` / ``encode`` (RFC 8032 5.1.3 / 5.1.2, strict), ``double``,
``add``, ``times_eight``, ``is_identity``, ``equal``, ``base_multiply`` / its generator
``base_multiply_steps`` (fixed base, no secret-dependent branches or indexing),
``odd_multiples`` and ``double_multiply_steps`` (variable time, public inputs only).
"""

P = 2**255 - 19
# d = -121665/121666 mod p, 2*d, and sqrt(-1) = 2^((p-1)/4) mod p (checked by the tests).
D = 37095705934669439343138083508754565189542113879843219016388785533085940283555
D2 = 16295367250680780974490674513165176452449235426866156013048779062215315747161
SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752
# Order of the prime-order subgroup, RFC 8032 section 5.1.
L = 2**252 + 27742317777372353535851937790883648493
# Base point B: y = 4/5, x even (RFC 8032 section 5.1).
BASE_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202
BASE_Y = 46316835694926478169428394003475163141307993866256225615783033603165251855960

IDENTITY = (0, 1, 1, 0)
BASE = (BASE_X, BASE_Y, 1, BASE_X * BASE_Y % P)

_MASK_255 = (1 << 255) - 1
_MASK_256 = (1 << 256) - 1
# Fixed-base comb: 2 blocks of 128 bits, 4 teeth 32 bits apart in each block.
_COMB_SPACING = 32
_COMB_TEETH = 4
_COMB_BLOCKS = 2
# Width of the signed sliding window (wNAF) for the variable-base scalar in verification.
NAF_WIDTH = 5
# Iterations of a scalar multiplication between two yields of the *_steps generators.
YIELD_EVERY = 16


def _pow_2_252_minus_3(z):
    """z^(2^252 - 3) mod p by the addition chain of ref10: 250 squarings, 11 products."""
    p = P
    z2 = z * z % p
    z8 = z2 * z2 % p
    z8 = z8 * z8 % p
    z9 = z8 * z % p
    z11 = z9 * z2 % p
    t = z11 * z11 % p
    z_5_0 = t * z9 % p  # z^(2^5 - 1)
    t = z_5_0
    for _ in range(5):
        t = t * t % p
    z_10_0 = t * z_5_0 % p
    t = z_10_0
    for _ in range(10):
        t = t * t % p
    z_20_0 = t * z_10_0 % p
    t = z_20_0
    for _ in range(20):
        t = t * t % p
    t = t * z_20_0 % p  # z^(2^40 - 1)
    for _ in range(10):
        t = t * t % p
    z_50_0 = t * z_10_0 % p
    t = z_50_0
    for _ in range(50):
        t = t * t % p
    z_100_0 = t * z_50_0 % p
    t = z_100_0
    for _ in range(100):
        t = t * t % p
    t = t * z_100_0 % p  # z^(2^200 - 1)
    for _ in range(50):
        t = t * t % p
    t = t * z_50_0 % p  # z^(2^250 - 1)
    t = t * t % p
    t = t * t % p
    return t * z % p  # z^(2^252 - 3)


def inverse(z):
    """1/z mod p (z not 0 mod p) as z^(p-2) = (z^(2^252 - 3))^8 * z^3."""
    t = _pow_2_252_minus_3(z)
    p = P
    t = t * t % p
    t = t * t % p
    t = t * t % p
    return t * (z * z % p * z % p) % p


def decode(encoded):
    """The extended point encoded by 32 bytes (RFC 8032 5.1.3), or None when the encoding
    is not canonical (y >= p, or x = 0 with the sign bit set) or not on the curve."""
    p = P
    y = int.from_bytes(encoded, "little")
    sign = y >> 255
    y &= _MASK_255
    if y >= p:
        return None
    yy = y * y % p
    u = yy - 1
    v = D * yy % p + 1
    v3 = v * v % p * v % p
    uv3 = u * v3 % p
    # x = u v^3 (u v^7)^((p-5)/8) is a square root of u/v when one exists.
    x = uv3 * _pow_2_252_minus_3(uv3 * v3 % p * v % p) % p
    vxx = v * x % p * x % p
    if vxx != u % p:
        if vxx != -u % p:
            return None
        x = x * SQRT_M1 % p
    if x == 0 and sign:
        return None
    if (x & 1) != sign:
        x = p - x
    return (x, y, 1, x * y % p)


def encode(point):
    """The 32-byte encoding of an extended point (RFC 8032 5.1.2)."""
    X, Y, Z, _ = point
    p = P
    z_inverse = inverse(Z)
    x = X * z_inverse % p
    y = Y * z_inverse % p
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def double(point):
    """2 * point (extended coordinates; 4 squarings, 4 products)."""
    X, Y, Z, _ = point
    p = P
    xx = X * X % p
    yy = Y * Y % p
    h = xx + yy
    g = yy - xx
    s = X + Y
    e = s * s % p - h
    f = Z * Z * 2 % p - g
    return (e * f % p, h * g % p, g * f % p, e * h % p)


def to_cached(point):
    """(Y + X, Y - X, 2Z, 2dT): the form ``add`` takes as its second argument."""
    X, Y, Z, T = point
    return ((Y + X) % P, (Y - X) % P, 2 * Z % P, D2 * T % P)


def add_cached(point, cached):
    """point + the point whose cached form is ``cached`` (8 products)."""
    X, Y, Z, T = point
    ypx, ymx, z2, t2d = cached
    p = P
    a = (Y + X) * ypx % p
    b = (Y - X) * ymx % p
    c = T * t2d % p
    d = Z * z2 % p
    e = a - b
    h = a + b
    g = d + c
    f = d - c
    return (e * f % p, h * g % p, g * f % p, e * h % p)


def add(point, other):
    """point + other, both extended."""
    return add_cached(point, to_cached(other))


def negate(point):
    """-point."""
    X, Y, Z, T = point
    return (-X % P, Y, Z, -T % P)


def times_eight(point):
    """8 * point: three doublings (clears the small-order component)."""
    return double(double(double(point)))


def is_identity(point):
    """True for the neutral element (0, 1)."""
    X, Y, Z, _ = point
    return X % P == 0 and (Y - Z) % P == 0


def equal(point, other):
    """True when two extended points are the same group element (projective comparison)."""
    X1, Y1, Z1, _ = point
    X2, Y2, Z2, _ = other
    p = P
    return (X1 * Z2 - X2 * Z1) % p == 0 and (Y1 * Z2 - Y2 * Z1) % p == 0


def _batch_to_affine(points):
    """Affine (x, y) of every extended point, with one field inversion (Montgomery's trick)."""
    p = P
    prefix = []
    running = 1
    for point in points:
        prefix.append(running)
        running = running * point[2] % p
    running = inverse(running)
    result = [None] * len(points)
    for index in range(len(points) - 1, -1, -1):
        X, Y, Z, _ = points[index]
        z_inverse = running * prefix[index] % p
        running = running * Z % p
        result[index] = (X * z_inverse % p, Y * z_inverse % p)
    return result


def _pack_niels(x, y):
    return (y + x) % P | ((y - x) % P) << 256 | (D2 * x % P * y % P) << 512


_base_table = None


def base_table():
    """The comb table, built on first use (about 230 doublings and one inversion).

    A tuple of 2 blocks x 16 packed Niels points: entry [b][index] is
    sum over teeth i with bit i of index set of 2^(128*b + 32*i) * B. Held for the process
    lifetime: 32 ints of 768 bits (about 4 KB of heap).
    """
    global _base_table
    if _base_table is None:
        teeth = []
        point = BASE
        for index in range(_COMB_BLOCKS * _COMB_TEETH):
            if index:
                for _ in range(_COMB_SPACING):
                    point = double(point)
            teeth.append(point)
        entries = []
        for block in range(_COMB_BLOCKS):
            row = [IDENTITY]
            for index in range(1, 1 << _COMB_TEETH):
                top = 0
                while (2 << top) <= index:
                    top += 1
                tooth = teeth[block * _COMB_TEETH + top]
                rest = index - (1 << top)
                row.append(tooth if rest == 0 else add(row[rest], tooth))
            entries.extend(row)
        affine = _batch_to_affine(entries)
        packed = [_pack_niels(x, y) for x, y in affine]
        size = 1 << _COMB_TEETH
        _base_table = tuple(tuple(packed[b * size:(b + 1) * size]) for b in range(_COMB_BLOCKS))
    return _base_table


def _comb_words(scalar):
    """The 8 32-bit words of a scalar < 2^256, least significant first."""
    return [(scalar >> (32 * index)) & 0xFFFFFFFF for index in range(8)]


def base_multiply_steps(scalar):
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
        if column % YIELD_EVERY == 0:
            yield
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


def odd_multiples(point):
    """Cached forms of point, 3*point, ..., 15*point: the window table of verification."""
    twice = to_cached(double(point))
    current = point
    table = [to_cached(current)]
    for _ in range((1 << (NAF_WIDTH - 2)) - 1):
        current = add_cached(current, twice)
        table.append(to_cached(current))
    return table


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


def double_multiply_steps(scalar_base, scalar_point, multiples):
    """Generator computing scalar_base * B - scalar_point * A, variable time (public data).

    ``multiples`` is ``odd_multiples(A)``; 0 <= scalar_base < 2^256, scalar_point >= 0.
    Straus' method: one chain of doublings shared by a width-5 NAF of scalar_point and the
    fixed-base comb of scalar_base, whose additions fall in the last 32 doublings.
    Yields now and then; returns the extended point.
    """
    rows = base_table()
    row_low = rows[0]
    row_high = rows[1]
    w0, w1, w2, w3, w4, w5, w6, w7 = _comb_words(scalar_base)
    digits = _naf(scalar_point)
    p = P
    mask256 = _MASK_256
    top = len(digits) - 1
    while top >= _COMB_SPACING and not digits[top]:
        top -= 1
    X, Y, Z, T = IDENTITY
    started = False
    for position in range(top, -1, -1):
        digit = digits[position]
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
            if digit or index_low or index_high:
                T = e * h % p
        if digit:
            # Subtract digit * A: a positive digit uses the negated cached point.
            if digit < 128:
                ymx, ypx, z2, t2d = multiples[digit >> 1]
                t2d = -t2d
            else:
                ypx, ymx, z2, t2d = multiples[(256 - digit) >> 1]
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
            yield
    return (X, Y, Z, T)
