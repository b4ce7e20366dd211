"""Signature checks for the node, with a bounded cache of decoded public keys.

Sponsors, admins and devices sign many entries with the same key; groupkey.crypto.ed25519's
VerifyingKey caches the decoded point (and, on the fast path, pycryptodome's key object and
the small-order check of the key), so keeping one per recently seen key saves most of the
per-key work. Decisions are exactly groupkey.crypto.ed25519's.
"""

from __future__ import annotations

from collections import OrderedDict

from groupkey.crypto import ed25519
from groupkey.crypto.errors import CryptoError

CACHE_SIZE = 4096
_cache: OrderedDict[bytes, object] = OrderedDict()


def verifying_key(public_key: bytes):
    """A cached ed25519.VerifyingKey (raises InvalidInput for a malformed key)."""
    key = _cache.get(public_key)
    if key is not None:
        _cache.move_to_end(public_key)
        return key
    key = ed25519.VerifyingKey(public_key)
    _cache[public_key] = key
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return key


def is_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message``."""
    try:
        verifying_key(bytes(public_key)).verify(message, signature)
    except CryptoError:
        return False
    return True


def clear() -> None:
    """Forget cached keys (tests that switch crypto backends)."""
    _cache.clear()
