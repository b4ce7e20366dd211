"""The MQTT client's receive side on a tight heap: where a packet's body goes.

A packet's body is read in place (``readinto``) into one buffer of its size: the stream's
``readexactly()`` concatenates the socket's chunks, two or three copies at once. Packets
above SMALL_PACKET bytes share one kept buffer (at least ``client.receive_buffer`` bytes,
grown to the largest such packet; 0 turns it off), so a device whose heap is fragmented by
long-lived objects does not need a fresh 2-4 KB block for every EPOCH or WELCOME. When no
buffer can be had even after waiting MEMORY_WAIT_MS (the member's crypto frees its
temporaries as it goes; the packet waits in the socket), the packet is read in 64-byte
pieces and dropped, counted in ``inbox.dropped`` like a full inbox's drop and still
acknowledged (QoS 1); the member catches up from the ledger (docs/firmware.md, "Heap").
After MAX_MEMORY_DROPS drops in a row the MemoryError is raised (the runtime logs it as
fatal and the board reboots: a fragmented heap that never frees a block is not waited out).
"""

import asyncio

from mqtt import packet

# How long a packet waits in the socket for its buffer before it is dropped.
MEMORY_WAIT_MS = 2000
# Packets up to this size get a buffer of their own; larger ones use the kept one.
SMALL_PACKET = 256
# Drops for lack of heap in a row before the MemoryError ends the connection task.
MAX_MEMORY_DROPS = 3


async def read_body(client, reader, first, length):
    """The ``length``-byte body of the packet starting with ``first``: a bytearray or a
    memoryview of the kept buffer (valid until the next packet), or None when it was
    dropped for lack of heap (``client._skipped_id`` then holds the id to acknowledge)."""
    body = None
    if client.receive_buffer and length > SMALL_PACKET:
        if client._buffer is None or len(client._buffer) < length:
            client._buffer = None
            try:
                client._buffer = bytearray(max(length, client.receive_buffer))
            except MemoryError:
                pass
        if client._buffer is not None:
            body = memoryview(client._buffer)[:length]
    if body is None:
        body = await allocate(length)
    if body is None:
        await skip(client, reader, first, length)
        return None
    view = memoryview(body)
    filled = 0
    while filled < length:
        count = await reader.readinto(view[filled:])
        if not count:
            raise EOFError("connection closed inside a packet")
        filled += count
    return body


async def allocate(length):
    """A bytearray(length), waiting up to MEMORY_WAIT_MS while the heap is short; None if
    it never fits."""
    waited = 0
    while True:
        try:
            return bytearray(length)
        except MemoryError:
            if waited >= MEMORY_WAIT_MS:
                return None
        await asyncio.sleep_ms(20)
        waited += 20


async def skip(client, reader, first, length):
    """Read and drop a packet that found no heap; sets ``client._skipped_id`` to the packet
    id a QoS 1 PUBLISH still gets a PUBACK for (0 for none)."""
    scratch = bytearray(64)
    view = memoryview(scratch)
    marks = bytearray(4)  # topic length (2 bytes), packet id (2 bytes)
    id_at = None
    position = 0
    while position < length:
        count = await reader.readinto(view[:min(length - position, 64)])
        if not count:
            raise EOFError("connection closed inside a packet")
        end = position + count
        for at in (0, 1):
            if position <= at < end:
                marks[at] = scratch[at - position]
        if id_at is None and end >= 2:
            id_at = 2 + (marks[0] << 8 | marks[1])
        if id_at is not None:
            for at in (id_at, id_at + 1):
                if position <= at < end:
                    marks[2 + at - id_at] = scratch[at - position]
        position = end
    qos_one = first & 0xF0 == packet.PUBLISH and (first >> 1) & 3 == 1
    client._skipped_id = (marks[2] << 8 | marks[3]) if qos_one else 0
    _count_drop(client, length)


def drop_publish(client, first, body):
    """A PUBLISH whose payload found no heap after it was read: count the drop and return
    the packet id to acknowledge (0 at QoS 0)."""
    _count_drop(client, len(body))
    if (first >> 1) & 3 != 1 or len(body) < 2:
        return 0
    offset = 2 + int.from_bytes(body[0:2], "big")
    return int.from_bytes(body[offset:offset + 2], "big")


def _count_drop(client, length):
    client.inbox.dropped += 1
    client.memory_drops += 1
    client.stats["memory_drops"] += 1
    client.log("mqtt_memory_drop", {"bytes": length, "dropped": client.inbox.dropped,
                                    "in_a_row": client.memory_drops})
    if client.memory_drops > MAX_MEMORY_DROPS:
        raise MemoryError("no heap for %d received bytes" % length)
