"""Ed25519 signatures (RFC 8032 section 5.1), pure Python with a pycryptodome fast path.

Functions: ``generate_seed()``, ``public_key(seed)``, ``sign(seed, message)``,
``verify(public_key, message, signature)`` (returns None or raises), ``is_valid(...)``,
and the generators ``sign_steps`` / ``verify_steps`` that yield now and then (firmware
asyncio) and return the result. ``SigningKey(seed)`` and ``VerifyingKey(public_key)`` cache
the expanded key and the decoded point for repeated use. Point formulas and encodings are in
edwards25519, scalar multiplication in edwards25519_multiply.

Verification rule (docs/crypto.md, section Ed25519):

* wrong type or length of any argument                          -> InvalidInput
* public key not a canonical encoding of a curve point, or of small order (8A = 0)
                                                               -> InvalidInput
* S >= L, R not a canonical point encoding, R of small order,
  or the cofactored equation [8][S]B = [8]R + [8][k]A fails     -> BadSignature

The cofactored equation is the check of RFC 8032 5.1.7 and the one pycryptodome applies; the
small-order rejections are ours, checked before pycryptodome is called, so both backends
decide identically.
"""

# isort: off
# sha512 first: compiling it from source is the largest heap peak of this import, lowest while
# little else is alive (MicroPython unix port and tests import .py files, not .mpy).
from groupkey.crypto.sha512 import SHA512, sha512

# isort: on
from groupkey.crypto import backend, edwards25519, edwards25519_multiply
from groupkey.crypto.ct import bytes_eq
from groupkey.crypto.errors import BadSignature, CryptoError, InvalidInput
from groupkey.crypto.rng import random_bytes

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64

_L = edwards25519.L


def _check_bytes(name, value, length):
    if not isinstance(value, (bytes, bytearray)) or len(value) != length:
        raise InvalidInput("ed25519: %s must be %d bytes" % (name, length))
    return bytes(value)


def _check_message(message):
    if isinstance(message, bytes):
        return message
    if isinstance(message, (bytearray, memoryview)):
        return bytes(message)
    raise InvalidInput("ed25519: message must be bytes, bytearray or memoryview")


def _expand(seed):
    """(clamped secret scalar, prefix) from the seed (RFC 8032 5.1.5 steps 1-2)."""
    digest = sha512(seed)
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8
    scalar |= 1 << 254
    return scalar, digest[32:]


def _hash_to_scalar(head, message):
    """SHA-512(head || message) mod L. The message is streamed into the hash, not joined to
    ``head``: a ledger entry is ~1.5 KB, and a fragmented device heap may not have a free
    block that large for the copy."""
    state = SHA512(head)
    state.update(message)
    return int.from_bytes(state.digest(), "little") % _L


def _sign_steps(scalar, prefix, public, message, pause):
    """RFC 8032 5.1.6 with an expanded key; a generator returning the 64-byte signature."""
    nonce = _hash_to_scalar(prefix, message)
    point = yield from edwards25519_multiply.base_multiply_steps(nonce, pause)
    encoded_r = edwards25519.encode(point)
    challenge = _hash_to_scalar(encoded_r + public, message)
    s = (nonce + challenge * scalar) % _L
    return encoded_r + s.to_bytes(32, "little")


def generate_seed():
    """A new random 32-byte private key (seed) from groupkey.crypto.rng."""
    return random_bytes(SEED_SIZE)


class SigningKey:
    """A private key ready to sign: caches the secret scalar, prefix and public key.

    ``SigningKey(seed)``; attribute ``public_key`` (32 bytes); ``sign(message)`` and the
    generator ``sign_steps(message)``.
    """

    def __init__(self, seed):
        self._seed = _check_bytes("seed", seed, SEED_SIZE)
        self._expanded = None
        self._fast_signer = None
        if backend.fast():
            self.public_key = self._fast().public_key
        else:
            self.public_key = self._pure()[2]

    def _pure(self):
        if self._expanded is None:
            scalar, prefix = _expand(self._seed)
            public = edwards25519.encode(edwards25519_multiply.base_multiply(scalar))
            self._expanded = (scalar, prefix, public)
        return self._expanded

    def _fast(self):
        if self._fast_signer is None:
            from groupkey.crypto.ed25519_fast import FastSigner

            self._fast_signer = FastSigner(self._seed)
        return self._fast_signer

    def sign_steps(self, message, pause=None):
        """Generator signing ``message``; yields now and then, returns 64 bytes.

        ``pause``: see ``sign_steps`` (module function)."""
        message = _check_message(message)
        if backend.fast():
            return self._fast().sign(message)
        scalar, prefix, public = self._pure()
        signature = yield from _sign_steps(scalar, prefix, public, message, pause)
        return signature

    def sign(self, message):
        """The deterministic 64-byte signature R || S of ``message`` (RFC 8032 5.1.6)."""
        return edwards25519_multiply.run(self.sign_steps(message))


class VerifyingKey:
    """A public key ready to verify: caches the decoded point and its window tables.

    ``VerifyingKey(public_key)`` raises InvalidInput for a malformed or small-order key;
    ``verify(message, signature)``, the generator ``verify_steps``, and ``is_valid``.
    From the second verification on, the pure path also keeps a table of 2^128 * A (built
    once; about 1.3 KB of heap more), which makes every later verification about a third
    faster.
    """

    def __init__(self, public_key):
        self.public_key = _check_bytes("public_key", public_key, PUBLIC_KEY_SIZE)
        self._point = None
        self._multiples = None
        self._multiples_high = None
        self._verified = 0
        self._fast_verifier = None
        if backend.fast():
            self._fast()
        else:
            self._pure()

    def _pure(self):
        """(odd multiples of A, odd multiples of 2^128 A or None), decoding A on first use."""
        if self._multiples is None:
            point = edwards25519.decode(self.public_key)
            if point is None:
                raise InvalidInput("ed25519: public key is not a valid point encoding")
            if edwards25519.is_identity(edwards25519.times_eight(point)):
                raise InvalidInput("ed25519: public key is a small-order point")
            self._point = point
            self._multiples = edwards25519_multiply.odd_multiples(point)
        elif self._multiples_high is None and self._verified:
            point = self._point
            for _ in range(128):
                point = edwards25519.double(point)
            self._multiples_high = edwards25519_multiply.odd_multiples(point)
            self._point = None
        return self._multiples, self._multiples_high

    def _fast(self):
        if self._fast_verifier is None:
            from groupkey.crypto.ed25519_fast import FastVerifier

            self._fast_verifier = FastVerifier(self.public_key)
        return self._fast_verifier

    def verify_steps(self, message, signature, pause=None):
        """Generator form of ``verify``: yields now and then, returns None or raises.

        ``pause``: see ``sign_steps`` (module function)."""
        message = _check_message(message)
        signature = _check_bytes("signature", signature, SIGNATURE_SIZE)
        if backend.fast():
            self._fast().verify(message, signature)
            return None
        multiples, multiples_high = self._pure()
        self._verified += 1
        s = int.from_bytes(signature[32:], "little")
        if s >= _L:
            raise BadSignature("ed25519: S is not reduced modulo L")
        encoded_r = signature[:32]
        point_r = edwards25519.decode(encoded_r)
        if point_r is None:
            raise BadSignature("ed25519: R is not a valid point encoding")
        eight_r = edwards25519.times_eight(point_r)
        if edwards25519.is_identity(eight_r):
            raise BadSignature("ed25519: R is a small-order point")
        challenge = _hash_to_scalar(encoded_r + self.public_key, message)
        # [S]B - [k]A, then compare 8 times it with [8]R (RFC 8032 5.1.7, cofactored).
        point = yield from edwards25519_multiply.double_multiply_steps(
            s, challenge, multiples, multiples_high, pause
        )
        if not edwards25519.equal(edwards25519.times_eight(point), eight_r):
            raise BadSignature("ed25519: signature does not verify")
        return None

    def verify(self, message, signature):
        """None when ``signature`` is valid for ``message``; raises BadSignature otherwise
        (InvalidInput for a wrong type or length)."""
        edwards25519_multiply.run(self.verify_steps(message, signature))

    def is_valid(self, message, signature):
        """True when ``verify`` would return, False when it would raise a CryptoError."""
        try:
            self.verify(message, signature)
        except CryptoError:
            return False
        return True


def public_key(seed):
    """The 32-byte public key of a 32-byte seed (RFC 8032 5.1.5)."""
    return SigningKey(seed).public_key


def sign(seed, message):
    """The 64-byte Ed25519 signature of ``message`` under ``seed`` (deterministic)."""
    return edwards25519_multiply.run(sign_steps(seed, message))


def sign_steps(seed, message, pause=None):
    """Generator form of ``sign``: yields now and then, returns the 64-byte signature.

    Between two yields there is at most about 1 ms of work on the unix port (about 0.3 ms in
    the scalar multiplications; a field inversion, a point decompression or the SHA-512 of a
    long message is not split). Drive it with ``next()``, or ``result = yield from ...`` in a
    generator. MicroPython's asyncio never resumes a task that yields None: inside
    ``async def`` either call ``next()`` and ``await asyncio.sleep_ms(0)`` between calls, or
    pass ``pause=lambda: asyncio.sleep_ms(0)`` (awaited at each yield point instead) and
    ``await`` the generator. On the pycryptodome backend it returns without yielding.
    """
    global _last_expanded
    seed = _check_bytes("seed", seed, SEED_SIZE)
    message = _check_message(message)
    if backend.fast():
        from groupkey.crypto.ed25519_fast import FastSigner

        return FastSigner(seed).sign(message)
    cached = _last_expanded
    if cached is not None and bytes_eq(cached[0], seed):
        _, scalar, prefix, public = cached
    else:
        scalar, prefix = _expand(seed)
        point = yield from edwards25519_multiply.base_multiply_steps(scalar, pause)
        public = edwards25519.encode(point)
        _last_expanded = (seed, scalar, prefix, public)
    signature = yield from _sign_steps(scalar, prefix, public, message, pause)
    return signature


# The expanded key (seed, secret scalar, prefix, public key) of the last seed that
# ``sign``/``sign_steps`` used: a device signs everything with its one identity seed, and
# deriving the public key again ([a]B and its encoding, ~40% of a signature) for every
# reading and ledger entry would be wasted work. The seed is compared in constant time; the
# cache holds nothing the caller's own copy of the seed does not already give, but it keeps
# it after the caller lets go, until ``sign`` is called with another seed (the firmware signs
# with one identity seed for the life of the process). A miss costs ~14 M instructions more,
# so timing shows whether two consecutive signatures used the same key.
_last_expanded = None


def verify(public_key, message, signature):
    """None when ``signature`` is a valid signature of ``message`` under ``public_key``.

    Raises BadSignature when it is not, InvalidInput for wrong types or lengths and for a
    public key that is malformed or of small order (module docstring).
    """
    edwards25519_multiply.run(verify_steps(public_key, message, signature))


def verify_steps(public_key, message, signature, pause=None):
    """Generator form of ``verify``: yields now and then, returns None or raises.

    ``pause``: see ``sign_steps``."""
    _check_message(message)
    _check_bytes("signature", signature, SIGNATURE_SIZE)
    key = VerifyingKey(public_key)
    yield from key.verify_steps(message, signature, pause)


def is_valid(public_key, message, signature):
    """True when ``verify`` accepts, False for any CryptoError (bad types included)."""
    try:
        verify(public_key, message, signature)
    except CryptoError:
        return False
    return True


def small_order_encodings():
    """The canonical encodings of the 8 small-order points (see ed25519_fast)."""
    from groupkey.crypto.ed25519_fast import small_order_encodings as encodings

    return encodings()
