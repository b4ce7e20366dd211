"""MQTT 3.1.1 packets as bytes: encoders and parsers, no I/O.

Layout follows OASIS MQTT Version 3.1.1 (2014), section 2 (fixed header, remaining length
varint) and section 3 (control packets). Only what a device needs: CONNECT with last will,
CONNACK, PUBLISH at QoS 0 and 1, PUBACK, SUBSCRIBE/SUBACK, UNSUBSCRIBE/UNSUBACK,
PINGREQ/PINGRESP, DISCONNECT. QoS 2 is never requested, so a broker never sends it.

Fixed header (section 2.2)::

    byte 0     packet type << 4 | flags
    byte 1..4  remaining length, 7 bits per byte, low group first, bit 7 = more
"""

from mqtt.errors import ProtocolError

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82
SUBACK = 0x90
UNSUBSCRIBE = 0xA2
UNSUBACK = 0xB0
PINGREQ = b"\xc0\x00"
PINGRESP = 0xD0
DISCONNECT = b"\xe0\x00"

MAX_REMAINING_LENGTH = 268435455
DUP_FLAG = 0x08


def encode_length(length):
    """The remaining-length varint of section 2.2.3."""
    if length < 0 or length > MAX_REMAINING_LENGTH:
        raise ProtocolError("remaining length out of range")
    out = bytearray()
    while True:
        digit = length & 0x7F
        length >>= 7
        if length:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def encode_string(value):
    """A UTF-8 string (or bytes) prefixed by its 16-bit big-endian length (section 1.5.3)."""
    if isinstance(value, str):
        value = value.encode()
    if len(value) > 0xFFFF:
        raise ProtocolError("string longer than 65535 bytes")
    return len(value).to_bytes(2, "big") + value


def _packet(first_byte, body):
    return bytes((first_byte,)) + encode_length(len(body)) + body


def encode_connect(client_id, keepalive, *, clean_session=True, will=None, username=None,
                   password=None):
    """CONNECT (section 3.1).

    ``will`` is None or (topic, payload, qos, retain). Variable header: "MQTT", level 4,
    connect flags, keepalive seconds; payload: client id, will topic, will message,
    user name, password, each present only when its flag is set.
    """
    if keepalive < 0 or keepalive > 0xFFFF:
        raise ProtocolError("keepalive out of range")
    flags = 0x02 if clean_session else 0
    payload = encode_string(client_id)
    if will is not None:
        will_topic, will_payload, will_qos, will_retain = will
        if will_qos not in (0, 1):
            raise ProtocolError("will qos must be 0 or 1")
        check_topic(will_topic)
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        payload += encode_string(will_topic) + encode_string(will_payload)
    if username is not None:
        flags |= 0x80
        payload += encode_string(username)
        if password is not None:
            flags |= 0x40
            payload += encode_string(password)
    header = encode_string("MQTT") + bytes((4, flags)) + keepalive.to_bytes(2, "big")
    return _packet(CONNECT, header + payload)


def check_filter(topic_filter):
    """Raise ProtocolError unless ``topic_filter`` is a valid filter (section 4.7.1): "#"
    only as the whole last level, "+" only as a whole level. A broker disconnects a client
    that sends an invalid one."""
    levels = topic_filter.split("/")
    if not topic_filter:
        raise ProtocolError("empty topic filter")
    for index in range(len(levels)):
        level = levels[index]
        if ("#" in level and (level != "#" or index != len(levels) - 1)) or (
                "+" in level and level != "+"):
            raise ProtocolError("invalid topic filter %r" % topic_filter)
    return topic_filter


def check_topic(topic):
    """Raise ProtocolError unless ``topic`` is a valid topic name: non-empty, no wildcards
    (section 4.7.1)."""
    if not topic or "+" in topic or "#" in topic:
        raise ProtocolError("invalid topic name %r" % topic)
    return topic


def encode_publish(topic, payload, qos=0, retain=False, *, packet_id=0, dup=False):
    """PUBLISH (section 3.3): topic, packet id when qos > 0, then the raw payload."""
    if qos not in (0, 1):
        raise ProtocolError("publish qos must be 0 or 1")
    check_topic(topic)
    if isinstance(payload, str):
        payload = payload.encode()
    first = PUBLISH | (qos << 1) | (1 if retain else 0) | (DUP_FLAG if dup else 0)
    body = encode_string(topic)
    if qos:
        if not 0 < packet_id <= 0xFFFF:
            raise ProtocolError("qos 1 needs a packet id in 1..65535")
        body += packet_id.to_bytes(2, "big")
    return _packet(first, body + payload)


def mark_duplicate(packet):
    """The same PUBLISH with the DUP flag set, for a retransmission (section 3.3.1.1)."""
    return bytes((packet[0] | DUP_FLAG,)) + packet[1:]


def encode_puback(packet_id):
    """PUBACK (section 3.4)."""
    return bytes((PUBACK, 2)) + packet_id.to_bytes(2, "big")


def encode_subscribe(packet_id, topic_filter, qos):
    """SUBSCRIBE with one topic filter (section 3.8)."""
    if qos not in (0, 1):
        raise ProtocolError("subscribe qos must be 0 or 1")
    check_filter(topic_filter)
    body = packet_id.to_bytes(2, "big") + encode_string(topic_filter) + bytes((qos,))
    return _packet(SUBSCRIBE, body)


def encode_unsubscribe(packet_id, topic_filter):
    """UNSUBSCRIBE with one topic filter (section 3.10)."""
    check_filter(topic_filter)
    return _packet(UNSUBSCRIBE, packet_id.to_bytes(2, "big") + encode_string(topic_filter))


def parse_connack(body):
    """CONNACK body (section 3.2) -> (session_present, return_code)."""
    if len(body) != 2:
        raise ProtocolError("CONNACK must carry 2 bytes")
    return bool(body[0] & 1), body[1]


def parse_packet_id(body):
    """The leading 16-bit packet id of PUBACK, SUBACK and UNSUBACK bodies."""
    if len(body) < 2:
        raise ProtocolError("acknowledgement too short")
    return int.from_bytes(body[0:2], "big")


def parse_publish(first_byte, body):
    """PUBLISH body -> (topic, payload, qos, retain, packet_id); packet_id is 0 at qos 0."""
    qos = (first_byte >> 1) & 3
    if qos > 1:
        raise ProtocolError("qos 2 was never requested")
    if len(body) < 2:
        raise ProtocolError("PUBLISH too short")
    topic_length = int.from_bytes(body[0:2], "big")
    offset = 2 + topic_length
    if len(body) < offset + (2 if qos else 0):
        raise ProtocolError("PUBLISH topic overruns the packet")
    try:
        topic = str(body[2:offset], "utf-8")
    except UnicodeError:
        raise ProtocolError("PUBLISH topic is not UTF-8")
    packet_id = 0
    if qos:
        packet_id = int.from_bytes(body[offset:offset + 2], "big")
        offset += 2
    # one copy of the payload (slicing a bytearray first would make two)
    return topic, bytes(memoryview(body)[offset:]), qos, bool(first_byte & 1), packet_id


def topic_matches(topic_filter, topic):
    """True when ``topic`` matches ``topic_filter`` with + and # wildcards (section 4.7)."""
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index in range(len(filter_levels)):
        level = filter_levels[index]
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)
