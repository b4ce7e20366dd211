"""The firmware MQTT client on the wire: pytest plays the broker on loopback and asserts
whole packets (the style of paho.mqtt.python's tests). Covers what a real broker cannot be
made to do on demand: a missing PUBACK (retransmission with DUP), a broker that stops
answering PINGREQ (half-open connection), a packet MQTT does not allow (protocol error),
and the session-present flag deciding whether subscriptions are replayed."""

from __future__ import annotations

import socket
import sys
import time
import uuid

import pytest

from tests.device_process import FIRMWARE, DeviceProcess
from tests.micropython_runner import TESTS

sys.path.insert(0, str(FIRMWARE))
from mqtt import packet  # noqa: E402

SCENARIOS = TESTS / "mpy" / "mqtt_scenarios.py"
CONNACK = b"\x20\x02\x00\x00"
CONNACK_SESSION_PRESENT = b"\x20\x02\x01\x00"

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(60)]


class Connection:
    """One accepted client connection, read packet by packet."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.pings = 0

    def _exactly(self, count: int, deadline: float) -> bytes:
        data = b""
        while len(data) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no packet in time")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise EOFError("client closed the connection")
            data += chunk
        return data

    def read(self, timeout: float = 5.0) -> bytes:
        """One whole packet (fixed header included)."""
        deadline = time.monotonic() + timeout
        first = self._exactly(1, deadline)
        length_bytes = b""
        while True:
            digit = self._exactly(1, deadline)
            length_bytes += digit
            if not digit[0] & 0x80:
                break
        length = 0
        for index, byte in enumerate(length_bytes):
            length |= (byte & 0x7F) << (7 * index)
        return first + length_bytes + self._exactly(length, deadline)

    def next(self, timeout: float = 5.0, answer_pings: bool = True) -> bytes:
        """The next packet that is not a PINGREQ (PINGREQs are counted, and answered)."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.read(max(0.0, deadline - time.monotonic()))
            if data == packet.PINGREQ:
                self.pings += 1
                if answer_pings:
                    self.send(b"\xd0\x00")
                continue
            return data

    def pump(self, seconds: float) -> None:
        """Answer PINGREQs for ``seconds``; any other packet or a close fails the test."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data = self.next(timeout=deadline - time.monotonic())
            except TimeoutError:
                return
            raise AssertionError("unexpected packet %r" % data)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(15)
    yield server
    server.close()


def accept(server: socket.socket) -> Connection:
    sock, _ = server.accept()
    return Connection(sock)


def test_packets_retransmission_half_open_and_protocol_error(listener, tmp_path):
    client_id = "dev-" + uuid.uuid4().hex[:6]
    port = listener.getsockname()[1]
    device = DeviceProcess(SCENARIOS, ("wire", port, client_id),
                           stderr_path=tmp_path / "stderr")
    try:
        first = accept(listener)
        # CONNECT exactly as MQTT 3.1.1 lays it out: keepalive 1, will QoS 1, no clean session
        assert first.read() == packet.encode_connect(
            client_id, 1, clean_session=False, will=("t/will/" + client_id, b"offline", 1, False))
        first.send(CONNACK)
        subscribe = first.next()
        assert subscribe[0] == 0x82 and subscribe[2:] == subscribe[2:4] + b"\x00\x04t/in\x01"
        first.send(b"\x90\x03" + subscribe[2:4] + b"\x01")
        device.wait_for("subscribed")
        publish = first.next()
        packet_id = publish[7:9]
        assert publish == b"\x32\x0b\x00\x03t/r" + packet_id + b"data"
        # no PUBACK: the same message comes again, with DUP set
        started = time.monotonic()
        again = first.next(timeout=3)
        assert again == b"\x3a" + publish[1:]
        assert 0.3 < time.monotonic() - started < 2.0
        first.send(b"\x40\x02" + packet_id)
        device.wait_for("delivered")
        # the device blocks its loop for 2.5 s right after a PINGREQ; the PINGRESP waits in
        # its socket, and it must not take the broker for silent afterwards
        pings = first.pings
        first.pump(4.0)
        device.wait_for("paused")
        assert first.pings > pings
        # a broker that stops answering PINGREQ: the client gives up on this connection
        started = time.monotonic()
        with pytest.raises(EOFError):
            first.next(timeout=6, answer_pings=False)
        assert time.monotonic() - started < 4
        assert first.pings >= 1
        first.close()

        second = accept(listener)
        assert second.read()[0] == 0x10
        second.send(CONNACK)  # session not present: the subscription is replayed
        replayed = second.next()
        assert replayed[0] == 0x82 and replayed[4:] == b"\x00\x04t/in\x01"
        second.send(b"\x90\x03" + replayed[2:4] + b"\x01")
        second.send(packet.encode_publish("t/in", b"hello", 1, packet_id=77))
        assert second.next() == b"\x40\x02\x00\x4d"  # PUBACK for 77
        assert device.wait_for("received")["payload"] == "hello"
        # a packet type a client never receives (SUBSCRIBE): protocol error, reconnect
        second.send(b"\x82\x00")
        with pytest.raises(EOFError):
            second.next(timeout=5)
        second.close()

        third = accept(listener)
        assert third.read()[0] == 0x10
        third.send(CONNACK_SESSION_PRESENT)  # session kept: no SUBSCRIBE this time
        third.send(packet.encode_publish("t/in", b"bye", 0))
        assert third.next() == packet.DISCONNECT
        stats = device.wait_for("stats")
        assert device.wait_exit() == 0, device.transcript()
        third.close()
    finally:
        device.stop()
        print(device.transcript())
    assert stats["connects"] == 3 and stats["losses"] == 2
    assert stats["retransmits"] == 1 and stats["received"] == 2
