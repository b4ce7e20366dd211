"""Inversion modulo p = 2**255 - 19, shared by X25519 and edwards25519 (MicroPython subset).

``invert(z)``                      1/z mod p by the extended Euclidean algorithm; 0 for z = 0
                                   mod p. Variable time: pass it blinded values only.
``blinding_factor(label, *parts)`` a factor in [1, p - 1]: SHA-256(label || parts...) mod
                                   (p - 1) + 1, for callers whose parts include something
                                   the observer does not know (a secret, or the unknown
                                   value itself).

Why Euclid: in MicroPython every big-int operation allocates and costs about a thousand x86
instructions of overhead, so z ** (p - 2) (254 squarings, each with its reduction) costs
3.2 M instructions with folded reductions and ~4.7 M with ``%``, while the Euclidean
algorithm needs ~150 division steps of three operations, most with a small quotient:
0.73-0.86 M. Its number of steps depends on z, so a caller multiplies z by a factor the
observer cannot know, inverts the product, and multiplies back:
the Euclidean algorithm then sees a value uniform over the nonzero residues.
"""

from hashlib import sha256

P = 2**255 - 19


def invert(z):
    """s with s * z = 1 mod p and |s| < p (s may be negative); 0 when z = 0 mod p.

    Any int z is accepted (negative, or p and above: it is reduced first).
    """
    r_0 = P
    r_1 = z % P
    s_0 = 0
    s_1 = 1
    divide = divmod
    while r_1:
        quotient, remainder = divide(r_0, r_1)
        r_0 = r_1
        r_1 = remainder
        s_0, s_1 = s_1, s_0 - quotient * s_1
    # r_0 is gcd(p, z) = 1 here unless z = 0 mod p, where the loop never ran and s_0 = 0.
    return s_0


def blinding_factor(label, *parts):
    """SHA-256(label || parts...) as a little-endian int, mod (p - 1), plus 1.

    Fixed for fixed inputs (results and instruction counts stay deterministic) and
    unpredictable to anyone who lacks one of the parts; the parts are streamed into the
    hash, so no concatenated copy of a secret is made.
    """
    state = sha256(label)
    for part in parts:
        state.update(part)
    return int.from_bytes(state.digest(), "little") % (P - 1) + 1
