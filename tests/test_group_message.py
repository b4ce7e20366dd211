"""Group data messages (groupkey.group_message): AES-CCM under per-sender keys, Ed25519 sender
authentication, replay window, epoch checks; CPython and MicroPython interoperate."""

from __future__ import annotations

import json
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupkey import group_message as gm
from groupkey.crypto import ed25519
from groupkey.crypto.errors import AuthenticationFailed

GROUP = b"greenhouse-7"


def members(count=3, seed=1):
    rng = random.Random(seed)
    seeds = [bytes(rng.randrange(256) for _ in range(32)) for _ in range(count)]
    public = {leaf: ed25519.public_key(s) for leaf, s in enumerate(seeds)}
    return seeds, public


def endpoint(leaf, seeds, public, epoch=5, secret=b"\x11" * 32):
    return gm.EpochMessaging(GROUP, epoch, secret, leaf, seeds[leaf], public.get)


def test_round_trip_between_members():
    seeds, public = members()
    alice, bob = endpoint(0, seeds, public), endpoint(1, seeds, public)
    for i in range(3):
        message = alice.encrypt(b"reading %d" % i)
        assert bob.decrypt(message) == (0, i, b"reading %d" % i)
    assert alice.decrypt(bob.encrypt(b"")) == (1, 0, b"")


def test_ciphertext_hides_payload_and_nonces_differ():
    seeds, public = members()
    alice = endpoint(0, seeds, public)
    first, second = alice.encrypt(b"same payload"), alice.encrypt(b"same payload")
    assert b"same payload" not in first
    assert first[gm.HEADER_LENGTH:] != second[gm.HEADER_LENGTH:]


def test_every_single_byte_flip_is_rejected_and_window_untouched():
    seeds, public = members()
    alice, bob = endpoint(0, seeds, public), endpoint(1, seeds, public)
    message = alice.encrypt(b"open valve 3")
    for index in range(len(message)):
        tampered = bytearray(message)
        tampered[index] ^= 0x01
        with pytest.raises((gm.GroupMessageError, AuthenticationFailed)):
            bob.decrypt(bytes(tampered))
    # none of the forgeries consumed the sequence number
    assert bob.decrypt(message) == (0, 0, b"open valve 3")


def test_replay_is_rejected():
    seeds, public = members()
    alice, bob = endpoint(0, seeds, public), endpoint(1, seeds, public)
    message = alice.encrypt(b"x")
    bob.decrypt(message)
    with pytest.raises(gm.ReplayedMessage):
        bob.decrypt(message)


def test_wrong_epoch_is_named_old_or_future():
    seeds, public = members()
    bob = endpoint(1, seeds, public, epoch=5)
    old = endpoint(0, seeds, public, epoch=4).encrypt(b"x")
    future = endpoint(0, seeds, public, epoch=6).encrypt(b"x")
    with pytest.raises(gm.WrongEpoch) as caught:
        bob.decrypt(old)
    assert caught.value.older
    with pytest.raises(gm.WrongEpoch) as caught:
        bob.decrypt(future)
    assert not caught.value.older


def test_other_epoch_secret_cannot_decrypt():
    seeds, public = members()
    removed = endpoint(2, seeds, public, secret=b"\x22" * 32)  # holds a different secret
    message = endpoint(0, seeds, public).encrypt(b"after rekey")
    with pytest.raises(AuthenticationFailed):
        removed.decrypt(message)


def test_unknown_sender():
    seeds, public = members()
    stranger = gm.EpochMessaging(GROUP, 5, b"\x11" * 32, 9, seeds[0], public.get)
    with pytest.raises(gm.UnknownSender):
        endpoint(1, seeds, public).decrypt(stranger.encrypt(b"x"))
    # without the traffic secret (e.g. the gateway): an unknown leaf is not worth a WHO, the
    # tag is checked first
    outsider = gm.EpochMessaging(GROUP, 5, b"\x22" * 32, 9, seeds[0], public.get)
    with pytest.raises(AuthenticationFailed):
        endpoint(1, seeds, public).decrypt(outsider.encrypt(b"x"))
    message = bytearray(stranger.encrypt(b"x"))
    message[-1] ^= 1
    with pytest.raises(AuthenticationFailed):
        endpoint(1, seeds, public).decrypt(bytes(message))


def test_member_cannot_impersonate_another_member():
    seeds, public = members()
    # member 2 knows the traffic secret but signs with its own key while claiming leaf 0
    forger = gm.EpochMessaging(GROUP, 5, b"\x11" * 32, 0, seeds[2], public.get)
    with pytest.raises(AuthenticationFailed):
        endpoint(1, seeds, public).decrypt(forger.encrypt(b"unlock"))


@pytest.mark.parametrize(
    "message",
    [b"", b"\x01", bytes(80), b"\x02" + bytes(120), b"\x01\x11" + bytes(120),
     b"\x01\x10" + bytes(gm.HEADER_LENGTH + gm.MAX_PAYLOAD + 100)],
)
def test_malformed_messages(message):
    seeds, public = members()
    with pytest.raises(gm.MalformedMessage):
        endpoint(1, seeds, public).decrypt(message)


def test_payload_too_long_is_refused():
    seeds, public = members()
    with pytest.raises(ValueError):
        endpoint(0, seeds, public).encrypt(bytes(gm.MAX_PAYLOAD + 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), max_size=60))
def test_replay_window_matches_reference(sequences):
    window = gm.ReplayWindow(size=64)
    accepted: set[int] = set()
    highest = -1
    for sequence in sequences:
        expect_ok = sequence not in accepted and sequence > highest - 64
        try:
            window.check(sequence)
            ok = True
        except gm.ReplayedMessage:
            ok = False
        assert ok == expect_ok, (sequence, sorted(accepted), highest)
        if ok:
            window.accept(sequence)
            accepted.add(sequence)
            highest = max(highest, sequence)


MPY_SCRIPT = r"""
import sys, json
from groupkey import group_message as gm
from groupkey.crypto import ed25519
job = json.loads(sys.stdin.read())
seeds = [bytes.fromhex(s) for s in job["seeds"]]
public = {}
for i in range(len(seeds)):
    public[i] = ed25519.public_key(seeds[i])
me = gm.EpochMessaging(job["group"].encode(), job["epoch"], bytes.fromhex(job["secret"]),
                       1, seeds[1], public.get)
out = []
for hexmsg in job["incoming"]:
    try:
        sender, seq, payload = me.decrypt(bytes.fromhex(hexmsg))
        out.append([sender, seq, payload.hex()])
    except Exception as exc:
        out.append(type(exc).__name__)
reply = me.encrypt(b"from micropython")
print(json.dumps({"results": out, "reply": reply.hex()}))
"""


@pytest.mark.micropython
def test_cpython_and_micropython_interoperate(micropython):
    seeds, public = members()
    secret = os.urandom(32)
    alice = gm.EpochMessaging(GROUP, 7, secret, 0, seeds[0], public.get)
    first, second = alice.encrypt(b"t=21.5C"), alice.encrypt(b"t=21.6C")
    tampered = bytearray(second)
    tampered[-1] ^= 1
    job = {"seeds": [s.hex() for s in seeds], "group": GROUP.decode(), "epoch": 7,
           "secret": secret.hex(),
           "incoming": [first.hex(), bytes(tampered).hex(), second.hex(), first.hex()]}
    result = micropython(code=MPY_SCRIPT, stdin=json.dumps(job), precompiled=True)
    answer = result.json_lines()[-1]
    assert answer["results"] == [
        [0, 0, b"t=21.5C".hex()], "AuthenticationFailed", [0, 1, b"t=21.6C".hex()],
        "ReplayedMessage",
    ]
    assert alice.decrypt(bytes.fromhex(answer["reply"])) == (1, 0, b"from micropython")
