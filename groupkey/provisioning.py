"""Provisioning a new device over BLE: the messages both sides use (docs/provisioning.md).

A device that has no configuration yet makes its identity (Ed25519, on the device) and a
fresh X25519 key for this session, and offers both, signed by the identity. The gateway
checks the offer (and, out of band, the identity's fingerprint), seals the device's
configuration (Wi-Fi and MQTT credentials, group id, ledger node keys) to the session key,
and writes it in frames. The device opens it, stores it, and answers with an ACK: its
identity's signature over the sealed message it opened and stored, so the gateway knows
that exactly this configuration reached exactly this device. The gateway never learns a
private key; the radio link (and anyone listening) sees only the offer, a sealed blob and
the ACK.

    offer_from_parts(signing_seed, box_secret)       OFFER bytes (device)
    decode_offer(data) -> (identity, box_public)     checks the signature (gateway)
    pairing_code(random_bytes) -> 8 digits, shown by the device                  (device)
    seal_from_parts(identity, box_public, config, ephemeral_secret, code) / seal (gateway)
    open_sealed(data, identity, box_secret, code) -> config bytes                (device)
    ack_from_parts(signing_seed, sealed) -> ACK bytes                            (device)
    check_ack(data, identity, sealed)                                            (gateway)
    frames(data, size) -> [frame, ...]; Assembler(limit).add(frame) -> data or None

Layouts (all integers big-endian; version 1):

    OFFER   01 | 01 | identity (32) | box public key (32) | signature (64)
            signature = Ed25519(identity, OFFER_LABEL | identity | box public key)
    SEALED  01 | 02 | ephemeral public key (32) | AES-CCM(config) with a 16-byte tag
            key = HKDF-SHA256(ikm = X25519(ephemeral, box public), salt = pairing code,
                              info = KEY_INFO | identity | box public | ephemeral public, 16)
            the pairing code: 8 digits the device shows on its console for this session and
            the operator types in; a gateway without it seals a message the device cannot
            open, so the device accepts a configuration only from whoever can see it
            nonce = 13 zero bytes (the key is used once), AAD = the 34 header bytes
    ACK     01 | 03 | signature (64) = Ed25519(identity, ACK_LABEL | SHA-256(SEALED))
            (over the sealed bytes, not the configuration: a listener who sees the ACK must
            not be able to test guesses of the configuration's passwords against it)
    FRAME   index u8 | count u8 | payload (1 .. size - 2 bytes); frames 0..count-1 in order

Every decoding failure raises ProvisioningError with a precise reason (for the operator's
log); what goes back over the radio is only "error" (firmware/app/provision.py).
"""

from hashlib import sha256

VERSION = 1
OFFER = 0x01
SEALED = 0x02
ACK = 0x03

OFFER_LABEL = b"groupkey provisioning offer v1"
ACK_LABEL = b"groupkey provisioning ack v1"
KEY_INFO = b"groupkey provisioning key v1"
NONCE = b"\x00" * 13
MAX_CONFIG = 4096  # bytes of configuration JSON a device accepts

# GATT layout (the ESP32 board serves it, gateway/provision.py's BLE link uses it).
SERVICE_UUID = "5f6d0001-8c1e-4b4e-9d6b-67726f75706b"
OFFER_UUID = "5f6d0002-8c1e-4b4e-9d6b-67726f75706b"  # read: OFFER
CONFIG_UUID = "5f6d0003-8c1e-4b4e-9d6b-67726f75706b"  # write: FRAMEs of SEALED
STATUS_UUID = "5f6d0004-8c1e-4b4e-9d6b-67726f75706b"  # read/notify: b"", b"error" or ACK


class ProvisioningError(Exception):
    """A provisioning message is malformed, forged or does not open."""


def _header(kind):
    return bytes((VERSION, kind))


def _check_header(data, kind, length=None):
    if not isinstance(data, (bytes, bytearray)) or len(data) < 2:
        raise ProvisioningError("message too short")
    if data[0] != VERSION or data[1] != kind:
        raise ProvisioningError("unexpected version or message type")
    if length is not None and len(data) != length:
        raise ProvisioningError("message of %d bytes, expected %d" % (len(data), length))


def offer_from_parts(signing_seed, box_secret):
    """The device's OFFER for its identity (from ``signing_seed``) and this session's X25519
    secret ``box_secret``."""
    from groupkey.crypto import ed25519, x25519

    identity = ed25519.public_key(signing_seed)
    box_public = x25519.public_key(box_secret)
    signature = ed25519.sign(signing_seed, OFFER_LABEL + identity + box_public)
    return _header(OFFER) + identity + box_public + signature


def decode_offer(data):
    """(identity, box public key) of a valid OFFER; ProvisioningError otherwise."""
    from groupkey.crypto import ed25519
    from groupkey.crypto.errors import CryptoError

    _check_header(data, OFFER, 2 + 32 + 32 + 64)
    identity = bytes(data[2:34])
    box_public = bytes(data[34:66])
    try:
        ed25519.verify(identity, OFFER_LABEL + identity + box_public, bytes(data[66:130]))
    except CryptoError:
        raise ProvisioningError("offer signature does not verify")
    return identity, box_public


def pairing_code(random_bytes):
    """A session's pairing code: 8 decimal digits (about 26.6 bits) as bytes."""
    return b"%08d" % (int.from_bytes(random_bytes(8), "big") % 100000000)


def _key(shared, identity, box_public, ephemeral_public, code):
    from groupkey.crypto.hkdf import hkdf

    return hkdf(shared, bytes(code), KEY_INFO + identity + box_public + ephemeral_public, 16)


def seal_from_parts(identity, box_public, config, ephemeral_secret, code):
    """SEALED bytes carrying ``config`` (bytes) to the device that offered ``box_public``
    and shows the pairing ``code``."""
    from groupkey.crypto import aes_ccm, x25519
    from groupkey.crypto.errors import CryptoError

    if len(config) > MAX_CONFIG:
        raise ProvisioningError("configuration over %d bytes" % MAX_CONFIG)
    ephemeral_public = x25519.public_key(ephemeral_secret)
    try:
        shared = x25519.x25519(ephemeral_secret, box_public)
    except CryptoError:
        raise ProvisioningError("offered box key is a low-order point")
    header = _header(SEALED) + ephemeral_public
    key = _key(shared, identity, box_public, ephemeral_public, code)
    return header + aes_ccm.encrypt(key, NONCE, bytes(config), header)


def seal(identity, box_public, config, code):
    """seal_from_parts with a fresh ephemeral secret from groupkey.crypto.rng."""
    from groupkey.crypto import rng

    return seal_from_parts(identity, box_public, config, rng.random_bytes(32), code)


def open_sealed(data, identity, box_secret, code):
    """The configuration bytes in SEALED ``data`` for this session (pairing ``code``);
    ProvisioningError if it is malformed or does not authenticate (sealed for another key
    or another code: no plaintext is released then)."""
    from groupkey.crypto import aes_ccm, x25519
    from groupkey.crypto.errors import CryptoError

    _check_header(data, SEALED)
    if len(data) < 2 + 32 + 16 or len(data) > 2 + 32 + MAX_CONFIG + 16:
        raise ProvisioningError("sealed configuration of %d bytes" % len(data))
    ephemeral_public = bytes(data[2:34])
    try:
        shared = x25519.x25519(box_secret, ephemeral_public)
        box_public = x25519.public_key(box_secret)
        key = _key(shared, identity, box_public, ephemeral_public, code)
        return aes_ccm.decrypt(key, NONCE, bytes(data[34:]), bytes(data[:34]))
    except CryptoError:
        raise ProvisioningError("sealed configuration does not open")


def _ack_message(sealed):
    return ACK_LABEL + sha256(bytes(sealed)).digest()


def ack_from_parts(signing_seed, sealed):
    """The device's ACK: its signature over the SEALED message it opened and stored."""
    from groupkey.crypto import ed25519

    return _header(ACK) + ed25519.sign(signing_seed, _ack_message(sealed))


def check_ack(data, identity, sealed):
    """Raise ProvisioningError unless ``data`` is ``identity``'s ACK of ``sealed``."""
    from groupkey.crypto import ed25519
    from groupkey.crypto.errors import CryptoError

    _check_header(data, ACK, 2 + 64)
    try:
        ed25519.verify(identity, _ack_message(sealed), bytes(data[2:]))
    except CryptoError:
        raise ProvisioningError("acknowledgement does not verify")


def frames(data, size):
    """``data`` cut into FRAMEs of at most ``size`` bytes (a BLE write's payload)."""
    room = size - 2
    if room < 1:
        raise ProvisioningError("frame size too small")
    count = (len(data) + room - 1) // room or 1
    if count > 255:
        raise ProvisioningError("too many frames")
    return [bytes((index, count)) + data[index * room:(index + 1) * room]
            for index in range(count)]


class Assembler:
    """Collects FRAMEs in order; ``add`` returns the whole message after the last one.

    Frame 0 always starts a new message (a gateway retrying after a broken link starts
    over); other out-of-order, repeated or inconsistent frames and a message over ``limit``
    bytes raise ProvisioningError and drop what was collected (nothing partial is ever
    returned).
    """

    def __init__(self, limit):
        self.limit = limit
        self.reset()

    def reset(self):
        self.parts = []
        self.count = None
        self.size = 0

    def add(self, frame):
        if len(frame) < 3:
            self.reset()
            raise ProvisioningError("frame too short")
        index, count = frame[0], frame[1]
        if index == 0:
            self.reset()
        expected = len(self.parts)
        if count == 0 or index != expected or (self.count is not None and count != self.count):
            self.reset()
            raise ProvisioningError("frame %d of %d out of order" % (index, count))
        self.size += len(frame) - 2
        if self.size > self.limit:
            self.reset()
            raise ProvisioningError("message over %d bytes" % self.limit)
        self.count = count
        self.parts.append(bytes(frame[2:]))
        if len(self.parts) < count:
            return None
        data = b"".join(self.parts)
        self.reset()
        return data
