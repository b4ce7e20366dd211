"""MQTT 3.1.1 packet encoding (firmware/mqtt/packet.py) against the examples of the OASIS
standard, under CPython and the MicroPython interpreter, plus a parser fuzz."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.device_process import FIRMWARE

sys.path.insert(0, str(FIRMWARE))
from mqtt import packet  # noqa: E402
from mqtt.errors import ProtocolError  # noqa: E402

# MQTT 3.1.1 section 2.2.3, table 2.4: boundaries of the remaining-length varint
LENGTHS = [(0, "00"), (127, "7f"), (128, "8001"), (16383, "ff7f"), (16384, "808001"),
           (2097151, "ffff7f"), (2097152, "80808001"), (268435455, "ffffff7f")]

# section 4.7: topic filter examples
MATCHES = [
    ("sport/tennis/player1/#", "sport/tennis/player1", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
    ("sport/#", "sport", True),
    ("sport/tennis/+", "sport/tennis/player1", True),
    ("sport/tennis/+", "sport/tennis/player1/ranking", False),
    ("sport/+", "sport", False),
    ("sport/+", "sport/", True),
    ("+/+", "/finance", True),
    ("/+", "/finance", True),
    ("+", "/finance", False),
    ("gk/+/msg/+", "gk/g1/msg/dev-a", True),
    ("gk/+/msg/+", "gk/g1/req/dev-a", False),
]


@pytest.mark.parametrize(("length", "encoded"), LENGTHS)
def test_remaining_length_table(length, encoded):
    assert packet.encode_length(length).hex() == encoded


def test_remaining_length_out_of_range():
    with pytest.raises(ProtocolError):
        packet.encode_length(268435456)


def test_connect_layout_with_will_and_credentials():
    data = packet.encode_connect("dev", 30, clean_session=False,
                                 will=("gk/g/presence/dev", b"off", 1, True),
                                 username="dev", password="pw")
    body = data[2:]
    assert data[0] == 0x10 and data[1] == len(body)
    assert body[:7] == b"\x00\x04MQTT\x04"
    # flags: user name, password, will retain, will qos 1, will flag; no clean session
    assert body[7] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04
    assert body[8:10] == b"\x00\x1e"
    assert body[10:] == (b"\x00\x03dev" + b"\x00\x11gk/g/presence/dev" + b"\x00\x03off"
                         + b"\x00\x03dev" + b"\x00\x02pw")


def test_publish_subscribe_ack_layouts():
    assert packet.encode_publish("a/b", b"hi") == b"\x30\x07\x00\x03a/bhi"
    qos1 = packet.encode_publish("a/b", b"hi", 1, True, packet_id=10)
    assert qos1 == b"\x33\x09\x00\x03a/b\x00\x0ahi"
    assert packet.mark_duplicate(qos1)[0] == 0x3B
    assert packet.encode_puback(10) == b"\x40\x02\x00\x0a"
    assert packet.encode_subscribe(1, "a/#", 1) == b"\x82\x08\x00\x01\x00\x03a/#\x01"
    assert packet.encode_unsubscribe(2, "a/#") == b"\xa2\x07\x00\x02\x00\x03a/#"
    assert packet.PINGREQ == b"\xc0\x00" and packet.DISCONNECT == b"\xe0\x00"


def test_parse_round_trip():
    data = packet.encode_publish("t/x", bytes(300), 1, False, packet_id=7)
    first, body = data[0], data[1 + len(packet.encode_length(len(data) - 3)):]
    assert packet.parse_publish(first, body) == ("t/x", bytes(300), 1, False, 7)
    assert packet.parse_connack(b"\x01\x00") == (True, 0)
    assert packet.parse_packet_id(b"\x12\x34\x01") == 0x1234


@pytest.mark.parametrize(("topic_filter", "topic", "expected"), MATCHES)
def test_topic_matches(topic_filter, topic, expected):
    assert packet.topic_matches(topic_filter, topic) is expected


@given(st.integers(0, 255), st.binary(max_size=64))
def test_parse_publish_raises_only_protocol_error(first, body):
    try:
        topic, payload, qos, _retain, packet_id = packet.parse_publish(first, body)
    except ProtocolError:
        return
    assert qos in (0, 1) and isinstance(topic, str) and isinstance(payload, bytes)
    assert packet_id == 0 if qos == 0 else 0 <= packet_id <= 0xFFFF


@pytest.mark.micropython
def test_same_bytes_under_micropython(micropython):
    code = """
import json
from mqtt import packet
out = {
  "lengths": [packet.encode_length(n).hex() for n in %s],
  "connect": packet.encode_connect("dev", 30, clean_session=False,
      will=("gk/g/presence/dev", b"off", 1, True), username="dev", password="pw").hex(),
  "publish": packet.encode_publish("a/b", b"hi", 1, True, packet_id=10).hex(),
  "matches": [packet.topic_matches(f, t) for f, t, _ in %s],
}
print(json.dumps(out))
""" % ([n for n, _ in LENGTHS], json.dumps(MATCHES).replace("true", "True").replace(
        "false", "False"))
    result = micropython(code=code, extra_path=(str(FIRMWARE),))
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["lengths"] == [encoded for _, encoded in LENGTHS]
    assert got["connect"] == packet.encode_connect(
        "dev", 30, clean_session=False, will=("gk/g/presence/dev", b"off", 1, True),
        username="dev", password="pw").hex()
    assert got["publish"] == "33090003612f62000a6869"
    assert got["matches"] == [expected for _, _, expected in MATCHES]


@pytest.mark.parametrize("topic_filter", ["a/#/b", "a#", "a/b+", "", "+a", "#/a"])
def test_invalid_filters_are_refused_before_sending(topic_filter):
    with pytest.raises(ProtocolError):
        packet.encode_subscribe(1, topic_filter, 1)


@pytest.mark.parametrize("topic_filter", ["#", "+", "a/+/b", "a/#", "/", "+/+/#"])
def test_valid_filters_pass(topic_filter):
    assert packet.check_filter(topic_filter) == topic_filter


@pytest.mark.parametrize("topic", ["", "a/+", "a/#", "#"])
def test_wildcards_in_topic_names_are_refused(topic):
    with pytest.raises(ProtocolError):
        packet.encode_publish(topic, b"x")
    with pytest.raises(ProtocolError):
        packet.encode_connect("c", 10, will=(topic, b"x", 0, False))
