"""The MQTT client's receive side on a tight heap (firmware/mqtt/receive.py), inside the real
MicroPython interpreter: a body read in place into the kept buffer, the buffer grown for a
larger packet, and the drop path when no heap can be had (the packet is read and discarded,
its QoS 1 packet id still acknowledged, the drop counted, a MemoryError after too many drops
in a row). The socket is a test double: a reader that hands out the packet in small chunks,
as a TCP socket does."""

from __future__ import annotations

import json

import pytest

from tests.device_process import FIRMWARE

SCRIPT = """
import asyncio, json
from mqtt import packet, receive

class Inbox:
    dropped = 0

class Client:
    def __init__(self, receive_buffer):
        self.receive_buffer = receive_buffer
        self._buffer = None
        self._skipped_id = None
        self.inbox = Inbox()
        self.memory_drops = 0
        self.stats = {"memory_drops": 0}
        self.events = []
    def log(self, event, detail=None):
        self.events.append((event, detail))

class Reader:
    # Hands out ``data`` (then zeros up to ``total`` bytes) 7 bytes at a time, as a socket
    # returns what it has.
    def __init__(self, data, total=None):
        self.data = data
        self.total = len(data) if total is None else total
        self.position = 0
    async def readinto(self, view):
        count = min(7, len(view), self.total - self.position)
        for index in range(count):
            at = self.position + index
            view[index] = self.data[at] if at < len(self.data) else 0
        self.position += count
        return count

def body_of(encoded):
    # Strip the fixed header (first byte + remaining length) of an encoded packet.
    index = 1
    while encoded[index] & 0x80:
        index += 1
    return encoded[0], encoded[index + 1:]

out = {}
async def main():
    first, body = body_of(packet.encode_publish("gk/g/epoch", bytes(range(256)) * 3, 1,
                                                packet_id=0x1234))
    client = Client(4096)
    got = await receive.read_body(client, Reader(body), first, len(body))
    out["in_place"] = bytes(got) == body and len(client._buffer) == 4096
    big_first, big = body_of(packet.encode_publish("gk/g/welcome", b"w" * 5000, 1,
                                                   packet_id=7))
    got = await receive.read_body(client, Reader(big), big_first, len(big))
    out["grown"] = bytes(got) == big and len(client._buffer) == len(big)
    # No heap: a body larger than the whole heap is never allocatable.
    receive.MEMORY_WAIT_MS = 60
    huge = 400000
    reader = Reader(body, huge)
    starving = Client(0)
    got = await receive.read_body(starving, reader, first, huge)
    out["dropped"] = [got is None, starving._skipped_id, starving.inbox.dropped,
                      reader.position == huge, starving.events[-1][0],
                      starving.stats["memory_drops"]]
    qos0_first, qos0 = body_of(packet.encode_publish("gk/g/x", b"abc", 0))
    out["drop_publish_qos0"] = receive.drop_publish(starving, qos0_first, qos0)
    out["drop_publish_qos1"] = receive.drop_publish(starving, first, body)
    try:
        await receive.read_body(starving, Reader(body, huge), first, huge)
        out["fourth"] = "no error"
    except MemoryError as exc:
        out["fourth"] = "MemoryError"
    try:
        await receive.read_body(Client(0), Reader(body[:10]), first, len(body))
        out["eof"] = "no error"
    except EOFError:
        out["eof"] = "EOFError"

asyncio.run(main())
print(json.dumps(out))
"""


@pytest.mark.micropython
def test_receive_buffer_and_drop_path_in_micropython(micropython):
    result = micropython(code=SCRIPT, extra_path=(str(FIRMWARE),), heap="96K")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["in_place"] is True
    assert out["grown"] is True
    # Dropped, the whole packet consumed from the socket, its packet id kept for the PUBACK.
    # (stats["memory_drops"] is what the member counts toward heap_reboot: app/member.py)
    assert out["dropped"] == [True, 0x1234, 1, True, "mqtt_memory_drop", 1]
    assert out["drop_publish_qos0"] == 0
    assert out["drop_publish_qos1"] == 0x1234
    # Drops 1-3 are waited out; the fourth in a row raises (the runtime reboots the board).
    assert out["fourth"] == "MemoryError"
    assert out["eof"] == "EOFError"
