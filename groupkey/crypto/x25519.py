"""X25519 Diffie-Hellman function (RFC 7748 section 5), pure Python for MicroPython and CPython.

Public API:

``x25519(scalar, u_coordinate)``   RFC 7748 X25519; both arguments 32 bytes, result 32 bytes
``x25519_base(scalar)``            X25519(scalar, 9): the public key of ``scalar``
``generate_private_key()``         32 random bytes from groupkey.crypto.rng
``public_key(private)``            same as x25519_base
``x25519_steps(scalar, u_coordinate, steps_per_yield=16, pause=None)``
                                   generator version for the firmware's asyncio loop
``run_to_completion(generator)``   drives such a generator synchronously, returns its result

The scalar is clamped as RFC 7748 section 5 says; the top bit of the u-coordinate is masked
and non-canonical values (p <= u < 2**255) are accepted and reduced. An all-zero result (a
low-order peer point) raises ZeroSharedSecret; arguments that are not 32 bytes raise
InvalidInput.

Implementation notes (measured in docs/crypto.md, section "X25519"):

- Field elements are Python ints. MicroPython's ints are heap-allocated and every operation
  costs roughly a thousand machine instructions of interpreter and allocator overhead before any
  arithmetic, so the ladder is written to minimise the number of integer operations: sums and
  differences stay unreduced, and products are only partly reduced by folding the bits above
  2**255 back in (2**255 = 19 mod p), never with ``%``. The ladder state stays below 2**256
  (2**259 for u = 9), intermediates below about 2**300 (see ``_ladder``).
- The Montgomery ladder keeps its two points in a four-slot list and picks the slot to double
  by the scalar bit (list index), instead of a conditional swap: the sequence of operations is
  the same for every scalar. Python integer arithmetic is not constant time (see the docs).
- Randomized projective coordinates: the ladder starts from the RFC's points scaled by two
  factors derived from the scalar and u (``_blinding``), and its final (X : Z) is scaled by a
  third, so the values it computes on cannot be computed from u and a guess at part of the
  scalar, and the Z it finally inverts is uniform over the nonzero residues to anyone
  without the scalar.
- The final inversion is the extended Euclidean algorithm (variable time, ~4x cheaper here
  than z ** (p - 2)); the blinding above is what makes its input unpredictable.
- On CPython with ``backend.fast()`` the work goes to pycryptodome; inputs it refuses (the
  low-order points) are handed to the pure path, which gives the RFC 7748 answer.
"""

from groupkey.crypto import backend
from groupkey.crypto.errors import InvalidInput, ZeroSharedSecret
from groupkey.crypto.field25519 import blinding_factor
from groupkey.crypto.field25519 import invert as _invert

P = 2**255 - 19
BASE_POINT = b"\x09" + b"\x00" * 31

_MASK = (1 << 255) - 1
_A24 = 121665  # (486662 - 2) / 4, RFC 7748 section 5

# Selectors, one per ladder step: 0 when the scalar bit is 0 (double the point in slots 0-1),
# 2 when it is 1 (double the point in slots 2-3); the sum goes to the other pair of slots.


def _check(name, value):
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise InvalidInput("x25519: %s must be 32 bytes" % name)


def _selectors(scalar):
    """Bits 254..3 of the clamped scalar as 0/2 slot selectors (bits 0-2 are clamped to 0)."""
    out = bytearray(252)
    position = 0
    for bit in range(254, 2, -1):
        out[position] = ((scalar[bit >> 3] >> (bit & 7)) & 1) << 1
        position += 1
    out[0] = 2  # bit 254 is set by clamping
    return out


def _decode_u(u_coordinate):
    return int.from_bytes(u_coordinate, "little") & _MASK


def _ladder(state, x_1, selectors, small_x_1):
    """Run one Montgomery ladder step per selector on ``state`` = [x_2, z_2, x_3, z_3].

    The slot pair named by the selector is doubled, the other one receives the sum of both
    (a differential addition with difference x_1), with the formulas of RFC 7748 section 5.

    Reduction: (t >> 255) * 19 + (t & mask) is congruent to t modulo p and, for |t| < 2**N,
    smaller in absolute value than 2**255 + 2**(N - 250.7); negative t is fine (>> floors).
    One fold is not enough to keep values from growing from step to step, so the four
    first-level products (of sums below 2**257) are folded once, to below 2**264, and the four
    results are folded twice, to below 2**255 + 2**45: the state never grows. With
    ``small_x_1`` (x_1 = 9) the new z of the sum is 9 times a twice-folded value, below
    2**259, and needs no further reduction.
    """
    mask = _MASK
    a24 = _A24
    for i in selectors:
        j = 2 - i
        x_d = state[i]
        z_d = state[i + 1]
        x_a = state[j]
        z_a = state[j + 1]
        a = x_d + z_d
        b = x_d - z_d
        c = x_a + z_a
        d = x_a - z_a
        t = d * a
        da = (t >> 255) * 19 + (t & mask)
        t = c * b
        cb = (t >> 255) * 19 + (t & mask)
        t = a * a
        aa = (t >> 255) * 19 + (t & mask)
        t = b * b
        bb = (t >> 255) * 19 + (t & mask)
        t = da + cb
        t = t * t
        t = (t >> 255) * 19 + (t & mask)
        state[j] = (t >> 255) * 19 + (t & mask)
        t = da - cb
        t = t * t
        t = (t >> 255) * 19 + (t & mask)
        if small_x_1:
            state[j + 1] = ((t >> 255) * 19 + (t & mask)) * 9
        else:
            t = t * x_1
            t = (t >> 255) * 19 + (t & mask)
            state[j + 1] = (t >> 255) * 19 + (t & mask)
        t = aa * bb
        t = (t >> 255) * 19 + (t & mask)
        state[i] = (t >> 255) * 19 + (t & mask)
        e = aa - bb
        t = e * (aa + a24 * e)
        t = (t >> 255) * 19 + (t & mask)
        state[i + 1] = (t >> 255) * 19 + (t & mask)


def _reduce(t):
    """Fold t twice: congruent modulo p; below 2**256 in absolute value if |t| < 2**700."""
    t = (t >> 255) * 19 + (t & _MASK)
    return (t >> 255) * 19 + (t & _MASK)


def _double_three_times(x, z):
    """Three ladder steps for the clamped (zero) bits 2, 1, 0: doublings only."""
    for _ in range(3):
        a = x + z
        b = x - z
        aa = _reduce(a * a)
        bb = _reduce(b * b)
        x = _reduce(aa * bb)
        e = aa - bb
        z = _reduce(e * (aa + _A24 * e))
    return x, z


def _multiply(a, b):
    return _reduce(a * b)


def _blinding(scalar, u_coordinate):
    """Three factors in [1, p - 1] that only the holder of the scalar can compute.

    Factor i is SHA-256(label i || scalar || u) mod (p - 1) + 1: fixed for one (scalar, u)
    pair, unpredictable without the scalar. The first two scale the ladder's starting points
    (randomized projective coordinates); the ladder raises them to powers of 4, so the third
    scales the final (X : Z) once more, which makes the Z the Euclidean inversion sees
    uniform over the nonzero residues. Derived rather than drawn from the RNG, X25519 stays
    a function of its inputs (the same pair runs the same way each time, which gives a timing
    observer only repeated looks at the same unpredictable values).
    """
    return [blinding_factor(label, scalar, u_coordinate)
            for label in (b"groupkey x25519 blind 1", b"groupkey x25519 blind 2",
                          b"groupkey x25519 blind 3")]


def _start(scalar, u_coordinate, blind=True):
    """(ladder state, x_1, selectors). The state is the RFC's (1 : 0) and (x_1 : 1) scaled
    by the first two factors of ``_blinding``, plus a fifth slot holding the third one, the
    final scaling; all three are 1 with ``blind=False`` (tests: the result must not depend
    on them)."""
    _check("scalar", scalar)
    _check("u_coordinate", u_coordinate)
    x_1 = _decode_u(u_coordinate)
    if blind:
        first, second, last = _blinding(scalar, u_coordinate)
    else:
        first = second = last = 1
    return [first, 0, _reduce(x_1 * second), second, last], x_1, _selectors(scalar)


def _finish(state):
    """X / Z of the ladder's result point, scaled by the last blinding factor first."""
    x, z = _double_three_times(state[0], state[1])
    last = state[4]
    return _encode(_multiply(x, last), _invert(_multiply(z, last)))


def _encode(x, inverse_z):
    result = _multiply(x, inverse_z) % P
    if result == 0:
        raise ZeroSharedSecret("x25519: all-zero shared secret")
    return result.to_bytes(32, "little")


def _x25519_pure(scalar, u_coordinate):
    state, x_1, selectors = _start(scalar, u_coordinate)
    _ladder(state, x_1, selectors, x_1 == 9)
    return _finish(state)


def _clamp(scalar):
    """The RFC 7748 decodeScalar25519 integer of a 32-byte scalar."""
    return (int.from_bytes(scalar, "little") & ((1 << 255) - 8)) | (1 << 254)


def _x25519_pycryptodome(scalar, u_coordinate):
    """pycryptodome's X25519 ladder, or None where it refuses an input RFC 7748 allows."""
    from Crypto.PublicKey.ECC import EccXPoint

    try:
        point = EccXPoint(_decode_u(u_coordinate), "curve25519") * _clamp(scalar)
        if point.is_point_at_infinity():
            return None
        return point.x.to_bytes(32, "little")
    except ValueError:
        # Refused inputs (pycryptodome's low-order deny list): RFC 7748 computes an
        # all-zero result for them, which the pure path reports as ZeroSharedSecret.
        return None


def x25519(scalar, u_coordinate):
    """X25519(scalar, u_coordinate) -> 32 bytes, RFC 7748 section 5.

    Raises InvalidInput unless both arguments are 32 bytes, ZeroSharedSecret if the result is
    all zero (``u_coordinate`` is a low-order point).
    """
    _check("scalar", scalar)
    _check("u_coordinate", u_coordinate)
    if backend.fast():
        result = _x25519_pycryptodome(scalar, u_coordinate)
        if result is not None:
            return result
    return _x25519_pure(scalar, u_coordinate)


def x25519_base(scalar):
    """X25519(scalar, 9) -> 32 bytes: the public key of the private key ``scalar``."""
    return x25519(scalar, BASE_POINT)


def generate_private_key():
    """A fresh X25519 private key: 32 random bytes (clamped when used)."""
    from groupkey.crypto import rng

    return rng.random_bytes(32)


def public_key(private):
    """The 32-byte public key X25519(private, 9) of a 32-byte private key."""
    return x25519_base(private)


def x25519_steps(scalar, u_coordinate, steps_per_yield=16, pause=None):
    """Generator computing x25519(scalar, u_coordinate); ``return``s the 32-byte result.

    It yields after every ``steps_per_yield`` ladder steps (252 of the 255 steps depend on the
    scalar); the three last doublings and the inversion after the last yield cost about as
    much as 8 steps. Use
    ``result = yield from x25519_steps(...)`` in a generator, or ``run_to_completion``.

    MicroPython's asyncio ignores bare yields (a task that yields None is never resumed), so
    inside an ``async def`` pass ``pause``, a function returning an awaitable to wait on at
    each yield point, e.g. ``pause=lambda: asyncio.sleep_ms(0)``; then
    ``result = await x25519_steps(...)`` works there. Errors are raised on the first resume.
    Always the pure implementation (the yielding is the point).
    """
    if not isinstance(steps_per_yield, int) or steps_per_yield < 1:
        raise InvalidInput("x25519_steps: steps_per_yield must be a positive int")
    state, x_1, selectors = _start(scalar, u_coordinate)
    small_x_1 = x_1 == 9
    for first in range(0, len(selectors), steps_per_yield):
        _ladder(state, x_1, selectors[first : first + steps_per_yield], small_x_1)
        if pause is None:
            yield
        else:
            yield from pause()
    return _finish(state)


def run_to_completion(generator):
    """Drive a generator such as ``x25519_steps(...)`` to its end; return its return value."""
    try:
        while True:
            next(generator)
    except StopIteration as stop:
        return stop.value
