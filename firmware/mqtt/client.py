"""A small asyncio MQTT 3.1.1 client for the device firmware (see docs/decisions.md, D-FW1).

One task, ``run()``, owns the connection: connect, replay subscriptions, then read packets
until the connection is lost, then reconnect with exponential backoff (with jitter) forever.
A second task per connection sends PINGREQ when nothing was sent for half the keepalive and
drops the connection when a PINGREQ stays unanswered for a keepalive, so a half-open TCP
connection is noticed. Application tasks call:

    await client.publish(topic, payload, qos=1)  # QoS 1: retransmitted (DUP) until PUBACK
    await client.subscribe(topic_filter, qos=1)  # remembered and replayed on reconnect
    topic, payload = await client.inbox.get()   # bounded queue, drops counted

Every error the caller must handle is an ``mqtt.errors.MQTTError``; socket errors never
escape ``run()``. Long computations must yield (``await asyncio.sleep(0)``) often enough for
the keepalive task to run.
"""

import asyncio
import time

from mqtt import packet, receive
from mqtt.errors import (
    ConnectRefused,
    DeliveryTimeout,
    NotConnected,
    ProtocolError,
    SubscribeRefused,
)
from mqtt.inbox import Inbox

# CONNACK codes a retry cannot fix (section 3.2.2.3): protocol, identifier, credentials,
# authorization. Code 3 (server unavailable) is transient.
PERMANENT_REFUSALS = (1, 2, 4, 5)
# a connection that lasted this long resets the backoff; one the broker drops at once
# (e.g. after an invalid packet) keeps backing off
STABLE_MS = 10000


# IPPROTO_TCP, TCP_NODELAY: the same numbers on Linux and lwIP (ESP32); MicroPython's socket
# module does not name them.
_IPPROTO_TCP = 6
_TCP_NODELAY = 1


def _no_delay(stream):
    """Turn Nagle's algorithm off: otherwise a PUBLISH written right after a PUBACK waits
    for the broker's delayed ACK of the PUBACK (up to 40 ms on Linux) before it leaves.
    Best effort: a port whose socket refuses the option keeps working, only slower."""
    try:
        stream.s.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
    except (AttributeError, OSError):
        pass


def _no_log(event, detail=None):
    pass


class Client:
    """MQTT client state; see the module docstring for the life cycle."""

    def __init__(self, client_id, host, port=1883, *, keepalive=30, will=None, username=None,
                 password=None, clean_session=False, inbox_capacity=8, ack_timeout_ms=2000,
                 backoff_min_ms=250, backoff_max_ms=30000, connect_timeout_ms=5000,
                 receive_buffer=0, log=None):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.keepalive = keepalive
        self.will = will
        self.username = username
        self.password = password
        self.clean_session = clean_session
        self.ack_timeout_ms = ack_timeout_ms
        self.backoff_min_ms = backoff_min_ms
        self.backoff_max_ms = backoff_max_ms
        self.connect_timeout_ms = connect_timeout_ms
        self.log = log or _no_log
        self.inbox = Inbox(inbox_capacity)
        self.up = asyncio.Event()
        self.stats = {"connects": 0, "losses": 0, "pings": 0, "retransmits": 0,
                      "received": 0, "memory_drops": 0}
        self._subscriptions = {}
        self._acks = {}
        self._refused = {}
        self._next_id = 0
        self._reader = None
        self._skipped_id = 0
        self.receive_buffer = receive_buffer  # mqtt/receive.py
        self.memory_drops = 0
        self._buffer = None
        if receive_buffer:
            try:  # made now, at boot, while the heap is not yet fragmented
                self._buffer = bytearray(receive_buffer)
            except MemoryError:
                pass
        self._writer = None
        self._write_lock = asyncio.Lock()
        self._ping_sent = None
        self._last_tx = 0
        self._stopping = False
        self._silent = False
        self._serving = None

    # ---- public API -------------------------------------------------------------------

    def connected(self):
        """True while a CONNACK-accepted connection is open."""
        return self.up.is_set()

    async def run(self):
        """Keep a connection up until ``disconnect()``; raise only ConnectRefused for a
        permanent refusal (wrong credentials or ACL)."""
        delay = self.backoff_min_ms
        while not self._stopping:
            try:
                session_present = await self._open()
            except ConnectRefused as exc:
                if exc.code in PERMANENT_REFUSALS:
                    raise
                self.log("mqtt_refused", exc.code)
            except (OSError, EOFError, ProtocolError, asyncio.TimeoutError) as exc:
                self.log("mqtt_connect_failed", repr(exc))
            else:
                connected_at = time.ticks_ms()
                await self._serve(session_present)
                if time.ticks_diff(time.ticks_ms(), connected_at) >= STABLE_MS:
                    delay = self.backoff_min_ms  # only a connection that lasted resets it
            await self._close()
            if self._stopping:
                break
            jitter = time.ticks_us() % (delay // 4 + 1)
            self.log("mqtt_backoff", delay + jitter)
            await asyncio.sleep_ms(delay + jitter)
            delay = min(delay * 2, self.backoff_max_ms)

    async def publish(self, topic, payload, qos=0, retain=False, timeout_ms=60000):
        """Send a message. QoS 0 raises NotConnected when the connection is down. QoS 1
        waits for the connection, sends, and retransmits with DUP every ``ack_timeout_ms``
        (also after a reconnect) until a PUBACK arrives or ``timeout_ms`` passes
        (DeliveryTimeout)."""
        if qos == 0:
            await self._send_or_raise(packet.encode_publish(topic, payload, 0, retain))
            return
        packet_id = self._allocate_id()
        data = packet.encode_publish(topic, payload, 1, retain, packet_id=packet_id)
        try:
            await self._exchange(packet_id, data, timeout_ms, True)
        finally:
            self._acks.pop(packet_id, None)

    async def subscribe(self, topic_filter, qos=1, timeout_ms=10000):
        """Subscribe and remember the filter so it is replayed after a reconnect. While the
        connection is down the filter is only remembered (subscribed on connect). Raises
        ProtocolError for an invalid filter, SubscribeRefused when the broker answers 0x80."""
        packet.check_filter(topic_filter)
        self._subscriptions[topic_filter] = qos
        if not self.connected():
            return
        packet_id = self._allocate_id()
        data = packet.encode_subscribe(packet_id, topic_filter, qos)
        try:
            await self._exchange(packet_id, data, timeout_ms, False)
        finally:
            self._acks.pop(packet_id, None)
        if self._refused.pop(packet_id, False):
            self._subscriptions.pop(topic_filter, None)
            raise SubscribeRefused("broker refused subscription to %s" % topic_filter)

    async def unsubscribe(self, topic_filter, timeout_ms=10000):
        """Stop receiving ``topic_filter`` (also after later reconnects)."""
        self._subscriptions.pop(topic_filter, None)
        packet_id = self._allocate_id()
        data = packet.encode_unsubscribe(packet_id, topic_filter)
        try:
            await self._exchange(packet_id, data, timeout_ms, False)
        finally:
            self._acks.pop(packet_id, None)

    async def disconnect(self):
        """Send DISCONNECT (the broker then discards the will) and stop ``run()``."""
        self._stopping = True
        if self.connected():
            try:
                await self._send(packet.DISCONNECT)
            except OSError:
                pass
        await self._close()

    # ---- connection -------------------------------------------------------------------

    async def _open(self):
        self.log("mqtt_connecting", "%s:%d" % (self.host, self.port))
        self._reader, self._writer = await asyncio.wait_for_ms(
            asyncio.open_connection(self.host, self.port), self.connect_timeout_ms)
        _no_delay(self._writer)
        await self._send(packet.encode_connect(
            self.client_id, self.keepalive, clean_session=self.clean_session, will=self.will,
            username=self.username, password=self.password))
        first, body = await asyncio.wait_for_ms(self._read_packet(), self.connect_timeout_ms)
        if first != packet.CONNACK:
            raise ProtocolError("expected CONNACK")
        session_present, code = packet.parse_connack(body)
        if code:
            raise ConnectRefused(code)
        self.stats["connects"] += 1
        return session_present

    async def _serve(self, session_present):
        """Run one accepted connection until it is lost."""
        self.up.set()
        self.log("mqtt_up", {"session_present": session_present})
        self._silent = False
        self._ping_sent = None
        self._serving = asyncio.current_task()
        pinger = asyncio.create_task(self._keepalive())
        try:
            if not session_present:
                for topic_filter in self._subscriptions:
                    packet_id = self._allocate_id()
                    self._acks.pop(packet_id)  # nobody waits for this SUBACK
                    await self._send(packet.encode_subscribe(
                        packet_id, topic_filter, self._subscriptions[topic_filter]))
            while True:
                first, body = await self._read_packet()
                if body is None:  # no heap for it: dropped (see _skip)
                    packet_id = self._skipped_id
                else:
                    packet_id = self._dispatch(first, body)
                body = None  # the payload was copied out: free the packet before the await
                if packet_id:
                    await self._send(packet.encode_puback(packet_id))
        except (OSError, EOFError, ProtocolError) as exc:
            self._lost(exc)
        except asyncio.CancelledError:
            if not self._silent:
                raise
            self._lost("PINGREQ unanswered")
        finally:
            self._serving = None
            self.up.clear()
            pinger.cancel()
            await self._close()

    def _lost(self, reason):
        if not self._stopping:
            self.stats["losses"] += 1
            self.log("mqtt_lost", repr(reason))

    async def _keepalive(self):
        """PINGREQ when nothing was sent for half the keepalive; if a PINGREQ stays
        unanswered for a whole keepalive (at least 1 s), the connection is half-open: drop
        it. Judged from our own ping, so a long pause of this device is not blamed on the
        broker."""
        interval = self.keepalive * 1000
        if not interval:
            return
        while True:
            await asyncio.sleep_ms(interval // 4)
            now = time.ticks_ms()
            if self._ping_sent is not None and time.ticks_diff(now, self._ping_sent) > max(
                    interval, 1000):
                # after a long pause of this device the PINGRESP may sit unread in the
                # socket: let the reader run once before judging
                await asyncio.sleep_ms(50)
                if self._ping_sent is None:
                    continue
                self._silent = True
                if self._serving is not None:
                    self._serving.cancel()
                return
            if time.ticks_diff(now, self._last_tx) >= interval // 2:
                self.stats["pings"] += 1
                try:
                    await self._send(packet.PINGREQ)
                except OSError:
                    return
                if self._ping_sent is None:
                    self._ping_sent = now

    async def _close(self):
        writer = self._writer
        self._writer = None
        self._reader = None
        if writer is not None:
            try:
                writer.close()
                await writer.wait_closed()
            except OSError:
                pass

    # ---- packets ----------------------------------------------------------------------

    async def _send(self, data):
        async with self._write_lock:
            writer = self._writer
            if writer is None:
                raise OSError("not connected")
            writer.write(data)
            await writer.drain()
            self._last_tx = time.ticks_ms()

    async def _send_or_raise(self, data):
        if not self.connected():
            raise NotConnected("broker connection is down")
        try:
            await self._send(data)
        except OSError:
            raise NotConnected("broker connection lost while sending")

    async def _read_packet(self):
        reader = self._reader
        if reader is None:
            raise OSError("not connected")
        first = (await reader.readexactly(1))[0]
        length = 0
        shift = 0
        while True:
            digit = (await reader.readexactly(1))[0]
            length |= (digit & 0x7F) << shift
            if not digit & 0x80:
                break
            shift += 7
            if shift > 21:
                raise ProtocolError("remaining length longer than 4 bytes")
        body = b""
        if length:
            body = await receive.read_body(self, reader, first, length)
        self._ping_sent = None
        return first, body

    def _dispatch(self, first, body):
        """Handle one inbound packet; return the packet id a PUBACK must answer, or 0."""
        kind = first & 0xF0
        if kind == packet.PUBLISH:
            try:
                topic, payload, _, _, packet_id = packet.parse_publish(first, body)
            except MemoryError:  # no heap for the payload's copy: drop it
                return receive.drop_publish(self, first, body)
            self.memory_drops = 0  # drops for lack of heap in a row (mqtt/receive.py)
            self.stats["received"] += 1
            if not self.inbox.put((topic, payload)):
                self.log("mqtt_inbox_drop", self.inbox.dropped)
            return packet_id
        elif kind in (packet.PUBACK, packet.SUBACK, packet.UNSUBACK):
            packet_id = packet.parse_packet_id(body)
            event = self._acks.get(packet_id)
            if event is not None:
                if kind == packet.SUBACK and len(body) > 2 and body[2] == 0x80:
                    self._refused[packet_id] = True
                event.set()
        elif kind != packet.PINGRESP:
            raise ProtocolError("unexpected packet type 0x%02x" % first)
        return 0

    def _allocate_id(self):
        while True:
            self._next_id = self._next_id % 0xFFFF + 1
            if self._next_id not in self._acks:
                self._acks[self._next_id] = asyncio.Event()
                return self._next_id

    async def _exchange(self, packet_id, data, timeout_ms, retransmit):
        """Send ``data`` until the acknowledgement for ``packet_id`` arrives."""
        event = self._acks[packet_id]
        started = time.ticks_ms()
        sent = False
        while True:
            remaining = timeout_ms - time.ticks_diff(time.ticks_ms(), started)
            if remaining <= 0:
                raise DeliveryTimeout("no acknowledgement for packet %d" % packet_id)
            if not self.connected():
                if not retransmit:
                    raise NotConnected("broker connection is down")
                try:
                    await asyncio.wait_for_ms(self.up.wait(), remaining)
                except asyncio.TimeoutError:
                    continue
            if sent and retransmit:
                self.stats["retransmits"] += 1
                data = packet.mark_duplicate(data)
            try:
                await self._send(data)
                sent = True
            except OSError:
                if not retransmit:
                    raise NotConnected("broker connection lost while sending")
                await asyncio.sleep_ms(10)
                continue
            try:
                await asyncio.wait_for_ms(event.wait(), min(self.ack_timeout_ms, remaining))
                return
            except asyncio.TimeoutError:
                if not retransmit and not self.connected():
                    raise NotConnected("broker connection lost before acknowledgement")
