"""paho-mqtt (its own network thread) handed to asyncio: messages arrive on an asyncio queue.

paho calls ``on_message``/``on_connect`` from its thread; each callback only schedules work
on the event loop with ``loop.call_soon_threadsafe``. ``publish`` is thread-safe in paho and
never blocks (QoS 1 messages are queued by paho while disconnected). Subscriptions are
replayed on every (re)connect; paho reconnects by itself with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import paho.mqtt.client as mqtt

log = logging.getLogger("gateway.mqtt")


class Bridge:
    """One MQTT connection; ``messages`` is an asyncio.Queue of (topic, payload, retained)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client_id: str, subscriptions,
                 on_connected=None):
        self.loop = loop
        self.subscriptions = list(subscriptions)
        self.messages: asyncio.Queue = asyncio.Queue()
        self.connected = asyncio.Event()
        self.on_connected = on_connected
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=8)
        self.client.max_queued_messages_set(10000)

    def start(self, host: str, port: int, username: str, password: str,
              keepalive: int = 30) -> None:
        """Connect in the background (paho's thread); returns at once."""
        if username:
            self.client.username_pw_set(username, password or None)
        self.client.connect_async(host, port, keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # paho thread -----------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        sock = client.socket()
        if sock is not None:
            try:  # no Nagle: a PUBLISH right after a PUBACK must not wait for a delayed ACK
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as exc:
                log.warning("TCP_NODELAY refused: %s", exc)
        for topic_filter in self.subscriptions:
            client.subscribe(topic_filter, qos=1)
        self.loop.call_soon_threadsafe(self._set_connected, True)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self.loop.call_soon_threadsafe(self._set_connected, False)

    def _on_message(self, client, userdata, message):
        self.loop.call_soon_threadsafe(self.messages.put_nowait,
                                       (message.topic, bytes(message.payload), message.retain))

    # event loop ------------------------------------------------------------------
    def _set_connected(self, up: bool) -> None:
        if up:
            log.info("connected to the broker")
            self.connected.set()
            if self.on_connected is not None:
                self.on_connected()
        else:
            log.warning("disconnected from the broker")
            self.connected.clear()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue one message (thread-safe, non-blocking)."""
        result = self.client.publish(topic, payload, qos=qos, retain=retain)
        if result.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish to %s failed: rc=%s", topic, result.rc)
