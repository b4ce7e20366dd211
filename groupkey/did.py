"""did:key identifiers for Ed25519 public keys (W3C did:key method, version 0.7).

    did:key:z<base58btc(0xed 0x01 || public_key)>

0xed 0x01 is the unsigned-varint multicodec code of ``ed25519-pub`` (0xed); ``z`` is the
multibase prefix of base58btc (Bitcoin alphabet). Base58 is written here by hand: it is a few
lines, and MicroPython has no library for it (docs/decisions.md, D-L3).
"""

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
PREFIX = "did:key:z"
ED25519_CODEC = b"\xed\x01"


class DIDError(ValueError):
    """A string is not a well-formed did:key for an Ed25519 key."""


def base58_encode(data):
    """Base58btc (Bitcoin alphabet) of ``data``; leading zero bytes become '1's."""
    data = bytes(data)
    zeros = 0
    while zeros < len(data) and data[zeros] == 0:
        zeros += 1
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(ALPHABET[remainder])
    digits.reverse()
    return "1" * zeros + "".join(digits)


def base58_decode(text):
    """Inverse of base58_encode; raises DIDError on a character outside the alphabet."""
    if not isinstance(text, str):
        raise DIDError("base58 input must be a string")
    number = 0
    for character in text:
        value = ALPHABET.find(character)
        if value < 0:
            raise DIDError("not a base58btc character")
        number = number * 58 + value
    zeros = 0
    while zeros < len(text) and text[zeros] == "1":
        zeros += 1
    digits = []
    while number:  # int.bit_length is missing on MicroPython
        number, remainder = divmod(number, 256)
        digits.append(remainder)
    return b"\x00" * zeros + bytes(digits[::-1])


def did_from_public_key(public_key):
    """The did:key of a 32-byte Ed25519 public key."""
    if not isinstance(public_key, (bytes, bytearray)) or len(public_key) != 32:
        raise DIDError("an Ed25519 public key is 32 bytes")
    return PREFIX + base58_encode(ED25519_CODEC + bytes(public_key))


def public_key_from_did(did):
    """The 32-byte Ed25519 public key named by a did:key; DIDError if malformed."""
    if not isinstance(did, str) or not did.startswith(PREFIX):
        raise DIDError("not a base58btc did:key")
    encoded = did[len(PREFIX):]
    if len(encoded) > 64:
        raise DIDError("did:key too long")
    raw = base58_decode(encoded)
    if len(raw) != 34 or raw[:2] != ED25519_CODEC:
        raise DIDError("not an Ed25519 did:key")
    public_key = raw[2:]
    if did_from_public_key(public_key) != did:
        raise DIDError("non-canonical did:key")
    return public_key
