"""The firmware MQTT client (firmware/mqtt/) under `micropython -X heapsize=96K` against a real
Mosquitto broker; pytest plays the peer with paho-mqtt.

Each test starts tests/mpy/mqtt_scenarios.py as an emulated device and checks what the broker
and the peer observe: whole messages, the last will, reconnection on the same port, keepalive
during 6 s of X25519 ladders that yield (groupkey.crypto.x25519.x25519_steps) and its
failure when they do not yield, and drops
counted by the bounded inbox.
"""

from __future__ import annotations

import queue
import uuid

import paho.mqtt.client as paho
import pytest

from tests.device_process import DeviceProcess
from tests.micropython_runner import TESTS
from tests.mosquitto import mosquitto  # noqa: F401  (fixture)

SCENARIOS = TESTS / "mpy" / "mqtt_scenarios.py"

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(60)]


class Peer:
    """A paho-mqtt client on the test side that records every message it receives."""

    def __init__(self, port: int, *topics: str):
        self.messages: queue.Queue = queue.Queue()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                  client_id="peer-" + uuid.uuid4().hex[:8])
        self.client.on_message = lambda _c, _u, message: self.messages.put(
            (message.topic, message.payload, message.qos, message.retain))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        for topic in topics:
            result, mid = self.client.subscribe(topic, qos=1)
            assert result == paho.MQTT_ERR_SUCCESS
        self._wait_subscribed(len(topics))

    def _wait_subscribed(self, count: int) -> None:
        # a round trip through the broker: once our own probe comes back, SUBSCRIBEs are done
        probe = "probe/" + uuid.uuid4().hex
        self.client.subscribe(probe, qos=1)
        self.client.publish(probe, b"probe", qos=1)
        self.expect(probe, timeout=5)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(timeout=5)

    def expect(self, topic: str, timeout: float = 10.0):
        """The next message on ``topic`` (others are kept for later)."""
        kept = []
        try:
            while True:
                item = self.messages.get(timeout=timeout)
                if item[0] == topic:
                    return item
                kept.append(item)
        except queue.Empty:
            raise AssertionError("no message on %s within %.0f s; other messages: %r"
                                 % (topic, timeout, kept)) from None
        finally:
            for item in kept:
                self.messages.put(item)

    def drain(self) -> list:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def device(mosquitto, tmp_path):  # noqa: F811
    """Factory: start the scenario ``name`` as an emulated device on the test broker."""
    started = []

    def start(name: str, heap: str = "96K") -> DeviceProcess:
        client_id = "dev-" + uuid.uuid4().hex[:6]
        process = DeviceProcess(SCENARIOS, (name, mosquitto.port, client_id), heap=heap,
                                stderr_path=tmp_path / ("%s.stderr" % name))
        process.client_id = client_id
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
        print("device %s:\n%s" % (process.client_id, process.transcript()))  # shown on failure


def test_publish_subscribe_qos0_and_qos1(mosquitto, device):  # noqa: F811
    peer = Peer(mosquitto.port, "t/out/#", "t/will/#")
    dev = device("pubsub")
    dev.wait_for("ready")
    assert peer.expect("t/out/hello")[1:3] == (b"qos0", 0)
    assert peer.expect("t/out/hello")[1:3] == (b"qos1", 1)
    for qos, payload in ((0, b"zero"), (1, b"one"), (1, bytes(range(256)) * 4)):
        peer.publish("t/in/x", payload, qos=qos)
        echoed = peer.expect("t/out/echo")
        assert echoed[1] == payload and echoed[2] == 1
    peer.publish("t/in/x", b"bye")
    stats = dev.wait_for("stats")
    assert dev.wait_exit() == 0, dev.transcript()
    assert stats["connects"] == 1 and stats["losses"] == 0 and stats["received"] == 4
    # a clean DISCONNECT discards the will
    assert [m for m in peer.drain() if m[0].startswith("t/will/")] == []
    peer.close()


def test_last_will_delivered_when_killed(mosquitto, device):  # noqa: F811
    peer = Peer(mosquitto.port, "t/will/#", "t/out/#")
    dev = device("will")
    dev.wait_for("ready")
    peer.expect("t/out/alive")
    dev.kill()
    topic, payload, qos, _ = peer.expect("t/will/" + dev.client_id, timeout=5)
    assert (payload, qos) == (b"offline", 1)
    peer.close()


def test_reconnect_after_broker_restart(mosquitto, device):  # noqa: F811
    dev = device("reconnect")
    dev.wait_for("ready")
    mosquitto.stop()
    dev.wait_for("down")
    assert dev.wait_for("qos0_while_down")["outcome"] == "NotConnected"
    mosquitto.start()  # same port
    peer = Peer(mosquitto.port, "t/out/#")
    # the QoS 1 message published while down may reach the broker before the peer subscribed;
    # the device reports delivery (PUBACK) and the echo proves the replayed subscription
    dev.wait_for("qos1_delivered", timeout=15)
    peer.publish("t/in/x", b"after restart")
    assert peer.expect("t/out/echo")[1] == b"after restart"
    peer.publish("t/in/x", b"bye")
    stats = dev.wait_for("stats")
    assert dev.wait_exit() == 0, dev.transcript()
    assert stats["connects"] >= 2 and stats["losses"] >= 1
    assert "mqtt_backoff" in dev.log_names()
    peer.close()


def test_keepalive_holds_during_yielding_computation(mosquitto, device):  # noqa: F811
    peer = Peer(mosquitto.port, "t/will/#")
    dev = device("keepalive")
    dev.wait_for("ready")
    computed = dev.wait_for("computed", timeout=20)
    stats = dev.wait_for("stats")
    assert dev.wait_exit() == 0, dev.transcript()
    print("computation:", computed)
    assert computed["ms"] >= 6000 and computed["x25519"] >= 10
    assert computed["slices"] >= computed["x25519"] * 30  # 255 steps / 8 per slice
    assert computed["longest_slice_ms"] < 500, computed
    # keepalive is 1 s: 6 s of work needs PINGREQs during the work and no lost connection
    assert computed["pings"] >= 6, computed
    assert stats["connects"] == 1 and stats["losses"] == 0, dev.transcript()
    assert [m for m in peer.drain() if m[0].startswith("t/will/")] == []
    assert "exceeded timeout" not in mosquitto.log()
    peer.close()


def test_keepalive_fails_when_computation_does_not_yield(mosquitto, device):  # noqa: F811
    """Control for the test above: the same work without yielding starves the keepalive, so
    the broker drops the device and publishes its will."""
    peer = Peer(mosquitto.port, "t/will/#")
    dev = device("keepalive_blocking")
    dev.wait_for("ready")
    topic, payload, _, _ = peer.expect("t/will/" + dev.client_id, timeout=10)
    assert payload == b"offline"
    assert dev.wait_for("computed", timeout=20)["pings"] == 0
    stats = dev.wait_for("stats", timeout=20)
    assert stats["losses"] == 1, dev.transcript()
    assert "exceeded timeout" in mosquitto.log()
    peer.close()


def test_bounded_inbox_counts_drops(mosquitto, device):  # noqa: F811
    dev = device("inbox_drop")
    dev.wait_for("ready")
    peer = Peer(mosquitto.port)
    for index in range(20):
        peer.publish("t/in/x", b"m%d" % index, qos=1)
    report = dev.wait_for("inbox")
    assert dev.wait_exit() == 0, dev.transcript()
    assert report["received"] == 20
    assert report["held"] == ["m0", "m1", "m2", "m3"]
    assert report["dropped"] == 16
    peer.close()
