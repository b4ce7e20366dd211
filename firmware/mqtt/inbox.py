"""A bounded queue of inbound messages with a drop counter.

The network reader must never block on a slow consumer (a device busy with a multi-second
rekey), and a device must never grow its heap without bound. So the inbox holds at most
``capacity`` messages in a fixed ring; a message arriving when it is full is dropped and
counted (tail drop: what is held keeps its order). Dropped protocol messages are recovered
by the application from the ledger, not by MQTT.
"""

import asyncio


class Inbox:
    """Fixed-capacity FIFO of (topic, payload) tuples; ``dropped`` counts refused puts."""

    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("inbox capacity must be at least 1")
        self.capacity = capacity
        self.dropped = 0
        self._slots = [None] * capacity
        self._head = 0
        self._count = 0
        self._ready = asyncio.Event()

    def __len__(self):
        return self._count

    def put(self, item):
        """Append ``item``; return False (and count a drop) when the inbox is full."""
        if self._count == self.capacity:
            self.dropped += 1
            return False
        self._slots[(self._head + self._count) % self.capacity] = item
        self._count += 1
        self._ready.set()
        return True

    def get_nowait(self):
        """Remove and return the oldest item, or None when empty."""
        if not self._count:
            return None
        item = self._slots[self._head]
        self._slots[self._head] = None
        self._head = (self._head + 1) % self.capacity
        self._count -= 1
        if not self._count:
            self._ready.clear()
        return item

    async def get(self):
        """Wait for and return the oldest item."""
        while not self._count:
            await self._ready.wait()
        return self.get_nowait()
