"""Exception tree of groupkey.crypto, rooted in one class.

CryptoError
  InvalidInput         wrong length, out-of-range or non-canonical encoding (caller bug or
                       malformed peer data); raised before any secret is touched
  ZeroSharedSecret     X25519 produced the all-zero output (low-order peer point)
  BadSignature         an Ed25519 signature does not verify
  AuthenticationFailed an AEAD tag does not verify; deliberately carries no detail
"""


class CryptoError(Exception):
    """Base class of every error raised by groupkey.crypto."""


try:

    class InvalidInput(CryptoError, ValueError):
        """An argument has the wrong length, range or encoding."""

except TypeError:
    # MicroPython cannot combine a user exception with a second native base ("multiple bases
    # have instance lay-out conflict"): there InvalidInput is a plain CryptoError.

    class InvalidInput(CryptoError):
        """An argument has the wrong length, range or encoding."""


class ZeroSharedSecret(CryptoError):
    """X25519 returned the all-zero value: the peer sent a low-order point."""


class BadSignature(CryptoError):
    """An Ed25519 signature did not verify."""


class AuthenticationFailed(CryptoError):
    """An AEAD ciphertext or tag did not authenticate. Opaque on purpose."""

    def __init__(self, *args):
        # One message whatever went wrong, so nothing leaks to a peer.
        super().__init__("authentication failed")
