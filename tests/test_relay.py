"""Relay messages (groupkey.relay): every type round-trips, signatures bind the group and the
request, malformed bytes give one clean DecodeError, and MicroPython decodes the same bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupkey import relay
from groupkey.crypto import ed25519
from groupkey.crypto.errors import BadSignature
from groupkey.ledger.errors import DecodeError

SEED = bytes(range(32))
IDENTITY = ed25519.public_key(SEED)
GROUP = b"plant-a"
BLINDED = bytes([9]) + bytes(31)


def signed(kind, group=GROUP, blinded=b""):
    signature = ed25519.sign(SEED, relay.request_message(kind, group, IDENTITY, blinded))
    return relay.signed_request(kind, group, IDENTITY, signature, blinded)


def samples():
    return [
        signed(relay.JOIN, blinded=BLINDED), signed(relay.LEAVE), signed(relay.REFRESH),
        signed(relay.FOUND, blinded=BLINDED), relay.register(b"\x01entry"),
        relay.contribution(7, b"tgdh"), relay.signed_entry(8, b"entry"), relay.catchup(12),
        relay.receipts(b"\xaa" * 32, b"bundle"), relay.sponsor(9, b"req"),
        relay.sign_entry(10, b"unsigned"), relay.epoch_update(b"E", b"B", b"U"),
        relay.welcome(b"E", b"", b"W"), relay.genesis(b"E", b"B"), relay.final(b"E", b"B"),
        relay.error(relay.ERROR_RETRY, "ledger quorum unreachable"),
        relay.offer("dev-1", signed(relay.FOUND, blinded=BLINDED)[2:]),
        relay.admin_entry(b"genesis"), relay.invitation(b"invite"), relay.who(3),
        relay.leaf_proof(4, 3, IDENTITY, BLINDED, b"nodes"),
    ]


def test_every_type_decodes_to_its_fields():
    decoded = [relay.decode(message) for message in samples()]
    assert [m.kind for m in decoded] == [
        relay.JOIN, relay.LEAVE, relay.REFRESH, relay.FOUND, relay.REGISTER, relay.CONTRIBUTION,
        relay.SIGNED_ENTRY, relay.CATCHUP, relay.RECEIPTS, relay.SPONSOR, relay.SIGN_ENTRY,
        relay.EPOCH, relay.WELCOME, relay.GENESIS, relay.FINAL, relay.ERROR, relay.OFFER,
        relay.ADMIN_ENTRY, relay.INVITATION, relay.WHO, relay.LEAF_PROOF]
    assert decoded[0].blinded_key == BLINDED and decoded[0].identity == IDENTITY
    assert decoded[5].request_id == 7 and decoded[5].data == b"tgdh"
    assert decoded[7].epoch == 12
    assert (decoded[11].entry, decoded[11].bundle, decoded[11].data) == (b"E", b"B", b"U")
    assert decoded[15].code == relay.ERROR_RETRY
    assert decoded[16].device_id == b"dev-1" and decoded[16].blinded_key == BLINDED
    assert decoded[19].leaf == 3
    assert (decoded[20].epoch, decoded[20].leaf, decoded[20].data) == (4, 3, b"nodes")


def test_request_signatures_bind_group_kind_and_key():
    message = relay.decode(signed(relay.JOIN, blinded=BLINDED))
    relay.verify_request(message, GROUP)
    with pytest.raises(BadSignature):
        relay.verify_request(message, b"other-group")
    leave = relay.decode(signed(relay.LEAVE))
    forged = relay.RelayMessage(relay.REFRESH, identity=leave.identity, signature=leave.signature)
    with pytest.raises(BadSignature):
        relay.verify_request(forged, GROUP)


@pytest.mark.parametrize("message", samples())
def test_truncation_is_a_clean_error(message):
    for cut in range(len(message)):
        try:
            relay.decode(message[:cut])
        except DecodeError:
            continue


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(data):
    try:
        relay.decode(data)
    except DecodeError:
        pass


MPY = r"""
import sys, json
from groupkey import relay
out = []
for line in sys.stdin.read().split():
    m = relay.decode(bytes.fromhex(line))
    fields = {}
    for k in m.fields:
        v = m.fields[k]
        fields[k] = v.hex() if isinstance(v, (bytes, bytearray)) else v
    out.append([m.kind, fields])
print(json.dumps(out))
"""


@pytest.mark.micropython
def test_micropython_decodes_identically(micropython):
    messages = samples()
    result = micropython(code=MPY, stdin="\n".join(m.hex() for m in messages), precompiled=True)
    expected = []
    for message in messages:
        decoded = relay.decode(message)
        fields = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in decoded.fields.items()}
        expected.append([decoded.kind, fields])
    assert result.json_lines()[-1] == json.loads(json.dumps(expected))
