"""The CPython fast path of groupkey.crypto.ed25519 (pycryptodome, OpenSSL via `cryptography`).

Imported only when ``backend.fast()`` is on, so a device (MicroPython) never loads this code:
on the unix port imported bytecode lives in the heap, and this is ~2 KB a light member does not
need. ``FastSigner(seed)`` and ``FastVerifier(public_key)`` give the same bytes and the same
decisions as the pure path (tests/test_ed25519.py); ``small_order_encodings()`` is pure.
"""

from groupkey.crypto import edwards25519, edwards25519_multiply
from groupkey.crypto.errors import BadSignature, InvalidInput

_L = edwards25519.L


class FastSigner:
    """pycryptodome signer for one seed (CPython only)."""

    def __init__(self, seed):
        from Crypto.Signature import eddsa

        key = eddsa.import_private_key(seed)
        self.public_key = key.public_key().export_key(format="raw")
        self._scheme = eddsa.new(key, "rfc8032")

    def sign(self, message):
        return self._scheme.sign(message)


def openssl_verifier(public_key):
    """OpenSSL's Ed25519 verifier (the `cryptography` package) for ``public_key``, or None
    when that package is not installed (it is optional: pycryptodome alone decides then)."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return None
    try:
        key = Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError:
        return None

    def accepts(message, signature):
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    return accepts


class FastVerifier:
    """Fast verifier for one public key, with our checks in front (CPython only).

    pycryptodome already rejects non-canonical encodings, S >= L and a failed cofactored
    equation; it accepts small-order A and R, which we reject first (small_order_encodings).
    When the `cryptography` package is installed, OpenSSL is asked first: it checks the
    cofactorless equation [S]B = R + [k]A by comparing R's encoding with a canonical one, which
    implies our cofactored rule, so its "valid" is final; anything OpenSSL refuses goes on to
    pycryptodome, whose cofactored answer is the decision. Same decisions, about 3x faster
    for valid signatures (decision D-E1).
    """

    def __init__(self, public_key):
        from Crypto.Signature import eddsa

        try:
            key = eddsa.import_public_key(public_key)
        except ValueError:
            raise InvalidInput("ed25519: public key is not a valid point encoding")
        if public_key in small_order_encodings():
            raise InvalidInput("ed25519: public key is a small-order point")
        self._scheme = eddsa.new(key, "rfc8032")
        self._openssl = openssl_verifier(public_key)

    def verify(self, message, signature):
        if int.from_bytes(signature[32:], "little") >= _L:
            raise BadSignature("ed25519: S is not reduced modulo L")
        # A non-canonical R is refused by pycryptodome's decoding inside verify().
        if signature[:32] in small_order_encodings():
            raise BadSignature("ed25519: R is a small-order point")
        if self._openssl is not None and self._openssl(message, signature):
            return
        try:
            self._scheme.verify(message, signature)
        except ValueError:
            raise BadSignature("ed25519: signature does not verify")


_small_order = None


def small_order_encodings():
    """The canonical encodings of the 8 points P with [8]P = 0 (a sorted tuple of bytes),
    computed on first use.

    A canonical encoding is in this set exactly when its point has small order, so the
    pycryptodome path checks A and R by membership (``[8]P`` there is a full 255-bit ladder,
    about 0.5 ms). Found as the torsion part -[L]P of the first decodable y = 2, 3, ... that
    has order 8, and its 8 multiples.
    """
    global _small_order
    if _small_order is None:
        multiply = edwards25519_multiply
        y = 2
        while True:
            point = edwards25519.decode(y.to_bytes(32, "little"))
            if point is not None:
                torsion = multiply.run(
                    multiply.double_multiply_steps(0, _L, multiply.odd_multiples(point))
                )
                quadruple = edwards25519.double(edwards25519.double(torsion))
                if not edwards25519.is_identity(quadruple):
                    break
            y += 1
        encodings = set()
        current = edwards25519.IDENTITY
        for _ in range(8):
            encodings.add(edwards25519.encode(current))
            current = edwards25519.add(current, torsion)
        _small_order = tuple(sorted(encodings))
    return _small_order
