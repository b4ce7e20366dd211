"""Relay messages: what devices, the gateway and the operator exchange over MQTT.

The gateway is untrusted: nothing here is believed because of who relayed it. Requests a
device makes about itself are signed with its identity key, and the JOIN signatures travel
on to the sponsors (SPONSOR), whose member devices refuse a join without one (a gateway
cannot invent a join); everything a device accepts as a new epoch arrives with a
ledger entry and a t-of-n receipt bundle it checks itself; TGDH bytes inside are checked by
groupkey.tgdh. Topics are in firmware/app/topics.py and docs/firmware.md.

Every message (version 1)::

    version u8 (=1) | type u8 | body (per type, below; all integers big-endian)

Device -> gateway, topic gk/<group>/req/<device>:

    0x01 REGISTER      entry: the device's signed ledger inception entry (rest of message)
    0x02 JOIN          identity[32] | blinded_key[32] | signature[64]
    0x03 LEAVE         identity[32] | signature[64]
    0x04 REFRESH       identity[32] | signature[64]
    0x05 CONTRIBUTION  request_id u32 | TGDH transition bytes (Member.contribute output)
    0x06 SIGNED_ENTRY  request_id u32 | ledger transition entry, signed by the device
    0x07 FOUND         identity[32] | blinded_key[32] | signature[64] (founder offers epoch 0)
    0x08 CATCHUP       epoch u64 (the device's last committed epoch)
    0x09 WHO           leaf u32 (asks who sits at a leaf: to verify a data message's sender)

    request signature = Ed25519(identity, "groupkey-relay-v1\\0" | type u8 | u8 len | group_id
                                 | identity | blinded_key (JOIN and FOUND only))

Gateway -> one device, topic gk/<group>/resp/<device>:

    0x81 RECEIPTS      entry_hash[32] | bundle (rest)              answer to REGISTER
    0x82 SPONSOR       request_id u32 | u32 len + TGDH SponsorRequest bytes | u8 count
                       | (identity[32] | blinded_key[32] | signature[64]) per join: the
                       joiners' own JOIN signatures (a member sponsor checks every join of
                       the transition against them: the gateway cannot invent a join)
    0x83 SIGN_ENTRY    request_id u32 | unsigned ledger entry      sign this transition entry
    0x84 EPOCH         entry u32+bytes | bundle u32+bytes | TGDH MemberUpdate bytes (rest)
    0x85 WELCOME       entry u32+bytes | bundle u32+bytes | TGDH Welcome bytes (rest)
    0x86 GENESIS       entry u32+bytes | bundle (rest)             the group's epoch 0
    0x87 LEAF_PROOF    epoch u64 | leaf u32 | identity[32] | blinded_key[32] | TGDH node list
                       (the leaf's co-path with subtree hashes: the device recomputes the
                       tree hash of that epoch from it, so the answer is checked, not trusted)
    0x8F ERROR         code u8 | utf-8 text (rest, <= 200 bytes)

Gateway -> every member, topic gk/<group>/epoch (retained):

    0x90 FINAL         entry u32+bytes | bundle (rest)             latest final transition

Operator (admin key holder) <-> gateway, topics gk/<group>/admin/...:

    0xA0 OFFER         device u8 len + utf-8 | FOUND body          gateway -> operator
    0xA1 ADMIN_ENTRY   ledger entry signed by an admin (genesis)   operator -> gateway
    0xA2 INVITATION    ledger invitation bytes                     operator -> gateway
"""

from groupkey.ledger.encoding import Reader, long_bytes, u8, u32, u64
from groupkey.ledger.errors import DecodeError

VERSION = 1

REGISTER = 0x01
JOIN = 0x02
LEAVE = 0x03
REFRESH = 0x04
CONTRIBUTION = 0x05
SIGNED_ENTRY = 0x06
FOUND = 0x07
CATCHUP = 0x08
WHO = 0x09

RECEIPTS = 0x81
SPONSOR = 0x82
SIGN_ENTRY = 0x83
EPOCH = 0x84
WELCOME = 0x85
GENESIS = 0x86
LEAF_PROOF = 0x87
ERROR = 0x8F

FINAL = 0x90

OFFER = 0xA0
ADMIN_ENTRY = 0xA1
INVITATION = 0xA2

# ERROR codes: what the device should do next.
ERROR_REJECTED = 1      # the ledger refused the request (reason in the text); do not retry
ERROR_RETRY = 2         # transient (ledger quorum unreachable, busy); retry later
ERROR_UNKNOWN_GROUP = 3  # no genesis yet
ERROR_MALFORMED = 4     # the gateway could not parse the request

MAX_ENTRY = 1 << 20
MAX_BUNDLE = 1 << 16
SIGNED_TYPES = (JOIN, LEAVE, REFRESH, FOUND)
_LABEL = b"groupkey-relay-v1\x00"


class RelayMessage:
    """A decoded relay message: ``kind`` and the fields named for that kind."""

    def __init__(self, kind, **fields):
        self.kind = kind
        self.fields = fields

    def __getattr__(self, name):
        fields = self.__dict__.get("fields")
        if fields is not None and name in fields:
            return fields[name]
        raise AttributeError(name)


def _header(kind):
    return bytes((VERSION, kind))


def request_message(kind, group_id, identity, blinded_key=b""):
    """The bytes a device signs for a JOIN, LEAVE, REFRESH or FOUND request."""
    if kind not in SIGNED_TYPES:
        raise DecodeError("not a signed request type")
    return _LABEL + bytes((kind, len(group_id))) + bytes(group_id) + bytes(identity) + bytes(
        blinded_key)


def signed_request(kind, group_id, identity, signature, blinded_key=b""):
    """Encode a JOIN/LEAVE/REFRESH/FOUND request (signature made over request_message)."""
    if len(identity) != 32 or len(signature) != 64:
        raise DecodeError("identity is 32 bytes, signature 64")
    if (kind in (JOIN, FOUND)) != (len(blinded_key) == 32):
        raise DecodeError("JOIN and FOUND carry a 32-byte blinded key, others none")
    return _header(kind) + bytes(identity) + bytes(blinded_key) + bytes(signature)


def verify_request(message, group_id):
    """Check the identity signature of a decoded JOIN/LEAVE/REFRESH/FOUND; raises BadSignature."""
    from groupkey.crypto import ed25519

    blinded_key = message.fields.get("blinded_key", b"")
    ed25519.verify(message.identity,
                   request_message(message.kind, group_id, message.identity, blinded_key),
                   message.signature)


def register(entry):
    return _header(REGISTER) + bytes(entry)


def contribution(request_id, data):
    return _header(CONTRIBUTION) + u32(request_id) + bytes(data)


def signed_entry(request_id, entry):
    return _header(SIGNED_ENTRY) + u32(request_id) + bytes(entry)


def catchup(epoch):
    return _header(CATCHUP) + u64(epoch)


def who(leaf):
    return _header(WHO) + u32(leaf)


def leaf_proof(epoch, leaf, identity, blinded_key, node_list):
    if len(identity) != 32 or len(blinded_key) != 32:
        raise DecodeError("identity and blinded key are 32 bytes")
    return (_header(LEAF_PROOF) + u64(epoch) + u32(leaf) + bytes(identity) + bytes(blinded_key)
            + bytes(node_list))


def receipts(entry_hash, bundle):
    return _header(RECEIPTS) + bytes(entry_hash) + bytes(bundle)


def sponsor(request_id, request, join_proofs=()):
    """``join_proofs``: (identity, blinded_key, signature) of each joiner's signed JOIN."""
    if len(join_proofs) > 255:
        raise DecodeError("at most 255 join proofs")
    parts = [_header(SPONSOR), u32(request_id), long_bytes(request), u8(len(join_proofs))]
    for identity, blinded_key, signature in join_proofs:
        if len(identity) != 32 or len(blinded_key) != 32 or len(signature) != 64:
            raise DecodeError("a join proof is identity 32 | blinded key 32 | signature 64")
        parts += [bytes(identity), bytes(blinded_key), bytes(signature)]
    return b"".join(parts)



def sign_entry(request_id, unsigned_entry):
    return _header(SIGN_ENTRY) + u32(request_id) + bytes(unsigned_entry)


def epoch_update(entry, bundle, member_update):
    return _header(EPOCH) + long_bytes(entry) + long_bytes(bundle) + bytes(member_update)


def welcome(entry, bundle, welcome_bytes):
    return _header(WELCOME) + long_bytes(entry) + long_bytes(bundle) + bytes(welcome_bytes)


def genesis(entry, bundle):
    return _header(GENESIS) + long_bytes(entry) + bytes(bundle)


def final(entry, bundle):
    return _header(FINAL) + long_bytes(entry) + bytes(bundle)


def error(code, text):
    data = text.encode()[:200] if isinstance(text, str) else bytes(text)[:200]
    return _header(ERROR) + u8(code) + data


def offer(device_id, found_body):
    name = device_id.encode() if isinstance(device_id, str) else bytes(device_id)
    return _header(OFFER) + u8(len(name)) + name + bytes(found_body)


def admin_entry(entry):
    return _header(ADMIN_ENTRY) + bytes(entry)


def invitation(data):
    return _header(INVITATION) + bytes(data)


def _rest(reader):
    return reader.take(reader.remaining())


def decode(data):
    """Parse any relay message; DecodeError (one clean error) for anything malformed."""
    reader = Reader(data)
    if reader.u8() != VERSION:
        raise DecodeError("unsupported relay version")
    kind = reader.u8()
    if kind in SIGNED_TYPES:
        identity = reader.take(32)
        blinded_key = reader.take(32) if kind in (JOIN, FOUND) else b""
        signature = reader.take(64)
        reader.finish()
        if blinded_key:
            return RelayMessage(kind, identity=identity, blinded_key=blinded_key,
                                signature=signature)
        return RelayMessage(kind, identity=identity, signature=signature)
    if kind in (REGISTER, ADMIN_ENTRY, INVITATION):
        body = _rest(reader)
        if not body:
            raise DecodeError("empty body")
        return RelayMessage(kind, entry=body)
    if kind == SPONSOR:
        request_id = reader.u32()
        body = reader.take(reader.u32())
        if not body:
            raise DecodeError("empty body")
        proofs = []
        for _ in range(reader.u8()):
            proofs.append((reader.take(32), reader.take(32), reader.take(64)))
        reader.finish()
        return RelayMessage(kind, request_id=request_id, data=body, join_proofs=proofs)
    if kind in (CONTRIBUTION, SIGNED_ENTRY, SIGN_ENTRY):
        request_id = reader.u32()
        body = _rest(reader)
        if not body:
            raise DecodeError("empty body")
        return RelayMessage(kind, request_id=request_id, data=body)
    if kind == CATCHUP:
        epoch = reader.u64()
        reader.finish()
        return RelayMessage(kind, epoch=epoch)
    if kind == WHO:
        leaf = reader.u32()
        reader.finish()
        return RelayMessage(kind, leaf=leaf)
    if kind == LEAF_PROOF:
        epoch = reader.u64()
        leaf = reader.u32()
        identity = reader.take(32)
        blinded_key = reader.take(32)
        return RelayMessage(kind, epoch=epoch, leaf=leaf, identity=identity,
                            blinded_key=blinded_key, data=_rest(reader))
    if kind == RECEIPTS:
        entry_hash = reader.take(32)
        return RelayMessage(kind, entry_hash=entry_hash, bundle=_rest(reader))
    if kind in (EPOCH, WELCOME):
        entry = reader.long_bytes(MAX_ENTRY)
        bundle = reader.long_bytes(MAX_BUNDLE)
        body = _rest(reader)
        if not body:
            raise DecodeError("empty TGDH body")
        return RelayMessage(kind, entry=entry, bundle=bundle, data=body)
    if kind in (GENESIS, FINAL):
        entry = reader.long_bytes(MAX_ENTRY)
        return RelayMessage(kind, entry=entry, bundle=_rest(reader))
    if kind == ERROR:
        code = reader.u8()
        text = _rest(reader)
        if len(text) > 200:
            raise DecodeError("error text too long")
        return RelayMessage(kind, code=code, text=text)
    if kind == OFFER:
        name = reader.take(reader.u8())
        found_message = decode(_header(FOUND) + _rest(reader))
        return RelayMessage(kind, device_id=name, identity=found_message.identity,
                            blinded_key=found_message.blinded_key,
                            signature=found_message.signature)
    raise DecodeError("unknown relay message type 0x%02x" % kind)
