"""Point arithmetic on edwards25519, the curve of Ed25519 (RFC 8032 section 5.1).

Curve: -x^2 + y^2 = 1 + d x^2 y^2 over GF(p), p = 2^255 - 19, group order 8 * L.

Representations (all coordinates are Python ints):

* extended   (X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z  (Hisil, Wong, Carter, Dawson,
             "Twisted Edwards curves revisited", ASIACRYPT 2008): the working form.
* cached     (Y + X, Y - X, 2*Z, 2*d*T) of an extended point: the second operand of an
             addition (8 multiplications).

The addition and doubling formulas are complete on this curve (a = -1 is a square, d is not),
so the identity needs no special case. Only products are reduced modulo p; sums and
differences stay unreduced (|value| < 4p) until the next product.

Public functions: ``decode`` / ``encode`` (RFC 8032 5.1.3 / 5.1.2, strict), ``inverse``,
``double``, ``add``, ``to_cached`` / ``add_cached``, ``times_eight``,
``is_identity``, ``equal``. Scalar multiplication is in edwards25519_multiply.
"""

from groupkey.crypto.field25519 import blinding_factor, invert

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


def _square_times(value, count):
    """value ** (2 ** count) modulo p, below 2**256 but not fully reduced (value below 2**256).

    Reduction by folding, ``(t >> 255) * 19 + (t & (2**255 - 1))`` (congruent to t, four cheap
    operations), instead of ``%`` (a long division, about three times the cost in MicroPython):
    in groups of four squarings the first three fold once (below 2**262, 2**274, 2**297 in
    turn), the fourth twice (below 2**342, then 2**255 + 2**92); a lone squaring folds twice.
    """
    mask = _MASK_255
    for _ in range(count // 4):
        value = value * value
        value = (value >> 255) * 19 + (value & mask)
        value = value * value
        value = (value >> 255) * 19 + (value & mask)
        value = value * value
        value = (value >> 255) * 19 + (value & mask)
        value = value * value
        value = (value >> 255) * 19 + (value & mask)
        value = (value >> 255) * 19 + (value & mask)
    for _ in range(count % 4):
        value = value * value
        value = (value >> 255) * 19 + (value & mask)
        value = (value >> 255) * 19 + (value & mask)
    return value


def _pow_2_252_minus_3(z):
    """z^(2^252 - 3) mod p by the addition chain of ref10: 250 squarings, 11 products.

    The squarings fold (``_square_times``), the products reduce with ``%``; the result is
    below 2**256, congruent mod p, not necessarily below p (callers reduce their products)."""
    p = P
    z2 = z * z % p
    z8 = z2 * z2 % p
    z8 = z8 * z8 % p
    z9 = z8 * z % p
    z11 = z9 * z2 % p
    t = z11 * z11 % p
    z_5_0 = t * z9 % p  # z^(2^5 - 1)
    z_10_0 = _square_times(z_5_0, 5) * z_5_0 % p
    z_20_0 = _square_times(z_10_0, 10) * z_10_0 % p
    t = _square_times(z_20_0, 20) * z_20_0 % p  # z^(2^40 - 1)
    z_50_0 = _square_times(t, 10) * z_10_0 % p
    z_100_0 = _square_times(z_50_0, 50) * z_50_0 % p
    t = _square_times(z_100_0, 100) * z_100_0 % p  # z^(2^200 - 1)
    t = _square_times(t, 50) * z_50_0 % p  # z^(2^250 - 1)
    return _square_times(t, 2) * z % p  # z^(2^252 - 3)


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
    """The 32-byte encoding of an extended point (RFC 8032 5.1.2).

    1/Z by the Euclidean algorithm (groupkey.crypto.field25519: ~0.75 M MicroPython
    instructions against ~4.5 M for ``inverse``), on Z times a factor derived from Z itself:
    Z depends on the secret scalar of a signature's R or of a public key, and only the affine
    point is ever published, so the blinded value the variable-time algorithm sees cannot be
    predicted by anyone who sees the encoding.
    """
    X, Y, Z, _ = point
    p = P
    Z %= p
    factor = blinding_factor(b"groupkey ed25519 encode", Z.to_bytes(32, "little"))
    z_inverse = invert(Z * factor) * factor % p
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
