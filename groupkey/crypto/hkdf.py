"""HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869), built on hashlib.sha256.

hashlib.sha256 exists on CPython, on the MicroPython unix port and on the ESP32 port, so one
implementation serves every interpreter (MicroPython ships no ``hmac`` module, and its sha256
objects have no ``copy()``, so the padded keys are kept instead of hash states).

    hmac_sha256(key, data)             -> 32-byte tag
    hkdf_extract(salt, ikm)            -> 32-byte pseudorandom key (PRK)
    hkdf_expand(prk, info, length)     -> ``length`` bytes of output keying material
    hkdf(ikm, salt, info, length)      -> extract then expand

Byte arguments accept bytes, bytearray and memoryview; ``salt`` and ``info`` may also be None
(empty). Anything else raises InvalidInput, as does an expand ``length`` outside 1..8160
(255 * HashLen, RFC 5869 section 2.3) or a PRK shorter than 32 bytes.
"""

from hashlib import sha256

from groupkey.crypto.errors import InvalidInput

DIGEST_SIZE = 32
BLOCK_SIZE = 64
MAX_OUTPUT = 255 * DIGEST_SIZE

_BYTES_TYPES = (bytes, bytearray, memoryview)
# 0x36 and 0x5c repeated over one SHA-256 block (RFC 2104 section 2), as integers so one
# XOR pads the whole key.
_INNER_PAD = int.from_bytes(b"\x36" * BLOCK_SIZE, "big")
_OUTER_PAD = int.from_bytes(b"\x5c" * BLOCK_SIZE, "big")


def _as_bytes(value, what, optional=False):
    if optional and value is None:
        return b""
    if not isinstance(value, _BYTES_TYPES):
        raise InvalidInput("%s must be bytes, bytearray or memoryview" % what)
    return value


def _padded_keys(key):
    """(key ^ ipad, key ^ opad) for an already type-checked HMAC key (RFC 2104 section 2)."""
    if len(key) > BLOCK_SIZE:
        key = sha256(key).digest()
    # Left-justify the key in a zero block, then XOR the pads in as one big integer.
    block = int.from_bytes(bytes(key) + bytes(BLOCK_SIZE - len(key)), "big")
    return ((block ^ _INNER_PAD).to_bytes(BLOCK_SIZE, "big"),
            (block ^ _OUTER_PAD).to_bytes(BLOCK_SIZE, "big"))


def _tag(inner_key, outer_key, data):
    inner = sha256(inner_key)
    inner.update(data)
    outer = sha256(outer_key)
    outer.update(inner.digest())
    return outer.digest()


def hmac_sha256(key, data):
    """HMAC-SHA256 of data under key (any length; keys over 64 bytes are hashed first)."""
    key = _as_bytes(key, "hmac_sha256: key")
    data = _as_bytes(data, "hmac_sha256: data")
    inner_key, outer_key = _padded_keys(key)
    return _tag(inner_key, outer_key, data)


def hkdf_extract(salt, ikm):
    """HKDF-Extract (RFC 5869 section 2.2): PRK = HMAC-SHA256(salt, ikm).

    An empty or None salt means 32 zero bytes, as the RFC specifies.
    """
    salt = _as_bytes(salt, "hkdf_extract: salt", optional=True)
    ikm = _as_bytes(ikm, "hkdf_extract: ikm")
    if not len(salt):
        salt = bytes(DIGEST_SIZE)
    return hmac_sha256(salt, ikm)


def hkdf_expand(prk, info, length):
    """HKDF-Expand (RFC 5869 section 2.3): ``length`` bytes (1..8160) of keying material."""
    prk = _as_bytes(prk, "hkdf_expand: prk")
    info = _as_bytes(info, "hkdf_expand: info", optional=True)
    # bool is an int subclass; a True/False length is a caller bug, not a request for 1/0 bytes
    if not isinstance(length, int) or isinstance(length, bool):
        raise InvalidInput("hkdf_expand: length must be an int")
    if length < 1 or length > MAX_OUTPUT:
        raise InvalidInput("hkdf_expand: length must be in 1..%d" % MAX_OUTPUT)
    if len(prk) < DIGEST_SIZE:
        raise InvalidInput("hkdf_expand: prk must be at least %d bytes" % DIGEST_SIZE)
    inner_key, outer_key = _padded_keys(prk)
    info = bytes(info)
    output = bytearray()
    block = b""
    counter = 1
    while len(output) < length:
        # T(i) = HMAC(PRK, T(i-1) | info | i)
        block = _tag(inner_key, outer_key, block + info + bytes((counter,)))
        output.extend(block)
        counter += 1
    return bytes(output[:length])


def hkdf(ikm, salt, info, length):
    """HKDF-SHA256: extract with salt, then expand to ``length`` bytes bound to info."""
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)
