"""Group data messages: application payloads encrypted under an epoch's traffic secret.

Every member of an epoch shares the epoch's traffic secret (derived by the TGDH key schedule
from the root key, the group id, the epoch and the public tree hash). From it each sender gets
its own AES-128-CCM key and nonce base, so two senders never share a (key, nonce) pair, and a
per-sender sequence number makes every nonce unique within the epoch.

The group key alone only proves that *some* member wrote a message. Sender authentication
comes from an Ed25519 signature by the sender's identity key over the group id, the header and
the payload; the signature travels inside the ciphertext, so the gateway learns neither the
payload nor the signature.

Wire layout (all integers big-endian), version 1::

    offset size field
    0      1    version          0x01
    1      1    content_type     0x10 = application data
    2      8    epoch            uint64, the epoch whose traffic secret encrypts the body
    10     4    sender           uint32, the sender's leaf index in that epoch's tree
    14     4    sequence         uint32, per (epoch, sender), starts at 0, never reused
    18     n    ciphertext       AES-128-CCM(payload || signature[64]), 16-byte tag appended

    key    = HKDF-Expand(traffic_secret, "groupkey data key"   || sender, 16)
    nonce  = HKDF-Expand(traffic_secret, "groupkey data nonce" || sender, 13) XOR (0^9 || sequence)
    aad    = len(group_id)[1] || group_id || header[0:18]
    signed = "groupkey data sig v1" || aad || payload

Receiving checks, in order (parse, then verify, then apply): structure and lengths
(MalformedMessage), epoch (WrongEpoch, with ``older`` telling old from future), sender known
(else the AEAD tag is checked first, then UnknownSender: only a holder of the epoch's traffic
secret can make a receiver ask who a leaf is), sequence not seen (ReplayedMessage), AEAD tag,
then signature; a bad tag and a bad signature raise the same opaque AuthenticationFailed.
Only a message that passed every check is recorded in the replay window, so forged traffic
cannot poison it.
"""

from groupkey.crypto import aes_ccm, ed25519
from groupkey.crypto.errors import AuthenticationFailed, BadSignature, InvalidInput
from groupkey.crypto.hkdf import hkdf_expand

VERSION = 1
CONTENT_APPLICATION = 0x10
HEADER_LENGTH = 18
TAG_LENGTH = 16
SIGNATURE_LENGTH = 64
KEY_LENGTH = 16
NONCE_LENGTH = 13
MAX_PAYLOAD = 4096
MAX_SEQUENCE = 0xFFFFFFFF
WINDOW_SIZE = 64

_KEY_LABEL = b"groupkey data key"
_NONCE_LABEL = b"groupkey data nonce"
_SIGNATURE_LABEL = b"groupkey data sig v1"


class GroupMessageError(Exception):
    """Base class of group data message errors."""


class MalformedMessage(GroupMessageError):
    """Wrong version, type or length: the bytes are not a group data message."""


class WrongEpoch(GroupMessageError):
    """The message belongs to another epoch; ``older`` is True for a past epoch."""

    def __init__(self, message_epoch, current_epoch):
        self.message_epoch = message_epoch
        self.current_epoch = current_epoch
        self.older = message_epoch < current_epoch
        super().__init__(  # GroupMessageError.__init__ does not exist on MicroPython
            "message for %s epoch %d (current %d)"
            % ("old" if self.older else "future", message_epoch, current_epoch),
        )


class UnknownSender(GroupMessageError):
    """No member sits at the sender's leaf index in this epoch."""


class ReplayedMessage(GroupMessageError):
    """This (sender, sequence) was already accepted or is older than the replay window."""


class SequenceExhausted(GroupMessageError):
    """The sender used every sequence number of this epoch: a refresh is needed first."""


def _u32(value):
    return bytes(((value >> 24) & 255, (value >> 16) & 255, (value >> 8) & 255, value & 255))


def _u64(value):
    return _u32((value >> 32) & 0xFFFFFFFF) + _u32(value & 0xFFFFFFFF)


def _check_bytes(name, value, length=None):
    if not isinstance(value, (bytes, bytearray)):
        raise InvalidInput("%s must be bytes" % name)
    if length is not None and len(value) != length:
        raise InvalidInput("%s must be %d bytes" % (name, length))


def sender_key_and_nonce(traffic_secret, sender):
    """The AES-128 key and 13-byte nonce base of one sender in one epoch."""
    sender_bytes = _u32(sender)
    key = hkdf_expand(traffic_secret, _KEY_LABEL + sender_bytes, KEY_LENGTH)
    nonce_base = hkdf_expand(traffic_secret, _NONCE_LABEL + sender_bytes, NONCE_LENGTH)
    return key, nonce_base


def _nonce(nonce_base, sequence):
    nonce = bytearray(nonce_base)
    tail = _u32(sequence)
    for i in range(4):
        nonce[NONCE_LENGTH - 4 + i] ^= tail[i]
    return bytes(nonce)


def _aad(group_id, header):
    return bytes((len(group_id),)) + group_id + header


def parse_header(message):
    """Return (epoch, sender, sequence) of a message; MalformedMessage if it cannot be one."""
    if not isinstance(message, (bytes, bytearray)):
        raise MalformedMessage("group message must be bytes")
    if len(message) < HEADER_LENGTH + SIGNATURE_LENGTH + TAG_LENGTH:
        raise MalformedMessage("group message too short (%d bytes)" % len(message))
    if len(message) > HEADER_LENGTH + MAX_PAYLOAD + SIGNATURE_LENGTH + TAG_LENGTH:
        raise MalformedMessage("group message too long (%d bytes)" % len(message))
    if message[0] != VERSION:
        raise MalformedMessage("unsupported group message version %d" % message[0])
    if message[1] != CONTENT_APPLICATION:
        raise MalformedMessage("unsupported content type 0x%02x" % message[1])
    epoch = int.from_bytes(message[2:10], "big")
    sender = int.from_bytes(message[10:14], "big")
    sequence = int.from_bytes(message[14:18], "big")
    return epoch, sender, sequence


def encrypt_message(group_id, epoch, traffic_secret, sender, sequence, signing_seed, payload):
    """Encrypt and sign one payload (the deterministic core: the caller picks the sequence)."""
    _check_bytes("group_id", group_id)
    if not 1 <= len(group_id) <= 255:
        raise InvalidInput("group_id must be 1..255 bytes")
    _check_bytes("traffic_secret", traffic_secret, 32)
    _check_bytes("payload", payload)
    if len(payload) > MAX_PAYLOAD:
        raise InvalidInput("payload longer than %d bytes" % MAX_PAYLOAD)
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise SequenceExhausted("sequence %d out of range" % sequence)
    header = bytes((VERSION, CONTENT_APPLICATION)) + _u64(epoch) + _u32(sender) + _u32(sequence)
    aad = _aad(bytes(group_id), header)
    signature = ed25519.sign(signing_seed, _SIGNATURE_LABEL + aad + bytes(payload))
    key, nonce_base = sender_key_and_nonce(traffic_secret, sender)
    body = aes_ccm.encrypt(key, _nonce(nonce_base, sequence), bytes(payload) + signature, aad)
    return header + body


class ReplayWindow:
    """Sliding window over one sender's sequence numbers (RFC 4303 style, 64 wide)."""

    def __init__(self, size=WINDOW_SIZE):
        self.size = size
        self.highest = -1
        self.bitmap = 0  # bit i set: sequence (highest - i) was accepted

    def check(self, sequence):
        """Raise ReplayedMessage if ``sequence`` was seen or fell out of the window."""
        if sequence > self.highest:
            return
        offset = self.highest - sequence
        if offset >= self.size:
            raise ReplayedMessage("sequence %d is older than the replay window" % sequence)
        if (self.bitmap >> offset) & 1:
            raise ReplayedMessage("sequence %d already received" % sequence)

    def accept(self, sequence):
        """Record ``sequence``; call only after the message authenticated."""
        if sequence > self.highest:
            shift = sequence - self.highest
            self.bitmap = ((self.bitmap << shift) | 1) & ((1 << self.size) - 1)
            self.highest = sequence
        else:
            self.bitmap |= 1 << (self.highest - sequence)


class EpochMessaging:
    """Send and receive group data messages within one epoch.

    ``identity_of(leaf_index)`` returns the Ed25519 public key of the member at that leaf, or
    None. A new instance is made for each epoch; dropping the old one deletes its keys.
    """

    def __init__(self, group_id, epoch, traffic_secret, own_leaf, signing_seed, identity_of):
        _check_bytes("traffic_secret", traffic_secret, 32)
        self.group_id = bytes(group_id)
        self.epoch = epoch
        self._traffic_secret = bytes(traffic_secret)
        self.own_leaf = own_leaf
        self._signing_seed = signing_seed
        self._identity_of = identity_of
        self._next_sequence = 0
        self._windows = {}
        self._receive_keys = {}

    def encrypt(self, payload):
        """Encrypt the next message from this member."""
        sequence = self._next_sequence
        if sequence > MAX_SEQUENCE:
            raise SequenceExhausted("epoch %d: all sequence numbers used" % self.epoch)
        message = encrypt_message(
            self.group_id, self.epoch, self._traffic_secret, self.own_leaf, sequence,
            self._signing_seed, payload,
        )
        self._next_sequence = sequence + 1
        return message

    def _open(self, message, sequence, keys):
        """(aad, plaintext) of ``message`` under a sender's (key, nonce base), or
        AuthenticationFailed."""
        key, nonce_base = keys
        aad = _aad(self.group_id, bytes(message[:HEADER_LENGTH]))
        return aad, aes_ccm.decrypt(key, _nonce(nonce_base, sequence),
                                    bytes(message[HEADER_LENGTH:]), aad)

    def decrypt(self, message):
        """Return (sender_leaf, sequence, payload) of an authentic, fresh message."""
        epoch, sender, sequence = parse_header(message)
        if epoch != self.epoch:
            raise WrongEpoch(epoch, self.epoch)
        public_key = self._identity_of(sender)
        if public_key is None:
            # authenticate first (keys not cached: the leaf number is the sender's choice),
            # so forged traffic raises AuthenticationFailed and never triggers a WHO
            self._open(message, sequence, sender_key_and_nonce(self._traffic_secret, sender))
            raise UnknownSender("no member at leaf %d in epoch %d" % (sender, epoch))
        window = self._windows.get(sender)
        if window is None:
            window = ReplayWindow()
        window.check(sequence)
        keys = self._receive_keys.get(sender)
        if keys is None:
            keys = sender_key_and_nonce(self._traffic_secret, sender)
            self._receive_keys[sender] = keys
        aad, plain = self._open(message, sequence, keys)
        payload = plain[:-SIGNATURE_LENGTH]
        try:
            ed25519.verify(public_key, _SIGNATURE_LABEL + aad + payload,
                           plain[-SIGNATURE_LENGTH:])
        except BadSignature:
            raise AuthenticationFailed()
        window.accept(sequence)
        self._windows[sender] = window
        return sender, sequence, payload
