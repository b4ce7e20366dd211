"""The generated Mosquitto configuration (gateway/mosquitto_config.py) on a real broker: a
device publishes only as itself, reads only its own responses, cannot take over another
device's session, and a wrong password is a permanent refusal for the firmware client."""

from __future__ import annotations

import queue
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from gateway.mosquitto_config import ConfigError, acl_text, check_device_id, write_broker_files
from tests.device_process import DeviceProcess
from tests.mosquitto import Broker, free_port, run_as_me

pytestmark = pytest.mark.timeout(60)

DEVICES = {"dev-a": "secret-a", "dev-b": "secret-b"}
GATEWAY = ("gateway", "secret-gateway")
OPERATOR = ("operator", "secret-operator")


@pytest.fixture
def secured(tmp_path):
    port = free_port()
    paths = write_broker_files(tmp_path / "broker", port, DEVICES, GATEWAY,
                               extra_lines=(run_as_me(),), operator=OPERATOR)
    broker = Broker(tmp_path / "broker", port=port, config_path=paths["config"])
    broker.start()
    yield broker
    broker.stop()


class Session:
    """A paho client logged in as ``user``; records messages and disconnections."""

    def __init__(self, port: int, user: str, password: str, client_id: str | None = None,
                 subscribe: tuple[str, ...] = ()):
        self.messages: queue.Queue = queue.Queue()
        self.connect_codes: queue.Queue = queue.Queue()
        self.disconnects = 0
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or user)
        self.client.username_pw_set(user, password)
        self.client.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload))
        self.client.on_connect = lambda _c, _u, _f, code, _p: self.connect_codes.put(code)
        self.client.on_disconnect = self._on_disconnect
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.code = self.connect_codes.get(timeout=5)
        for topic in subscribe:
            self.client.subscribe(topic, qos=1)

    def _on_disconnect(self, *_args):
        self.disconnects += 1

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(timeout=5)

    def received(self, settle: float = 0.5) -> list:
        time.sleep(settle)
        out = []
        while not self.messages.empty():
            out.append(self.messages.get())
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_device_id_rules():
    assert check_device_id("did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH")
    for bad in ("", "a/b", "+", "dev#", "x" * 129, "dev a", "dév"):
        with pytest.raises(ConfigError):
            check_device_id(bad)
    assert "user gateway\ntopic readwrite gk/#" in acl_text("gateway")
    assert "user op\ntopic readwrite gk/+/admin/#" in acl_text("gateway", "op")
    with pytest.raises(ConfigError):
        write_broker_files(Path("/nonexistent-groupkey"), 1, {"gateway": "x"}, GATEWAY)


def test_device_publishes_only_as_itself(secured):
    gateway = Session(secured.port, *GATEWAY, subscribe=("gk/#",))
    device_a = Session(secured.port, "dev-a", "secret-a")
    time.sleep(0.3)
    allowed = ["gk/g1/presence/dev-a", "gk/g1/req/dev-a", "gk/g1/msg/dev-a"]
    forbidden = ["gk/g1/presence/dev-b", "gk/g1/req/dev-b", "gk/g1/msg/dev-b",
                 "gk/g1/epoch", "gk/g1/resp/dev-a", "gk/g1/req/dev-a/extra"]
    for topic in allowed + forbidden:
        device_a.publish(topic, b"from a")
    assert sorted(topic for topic, _ in gateway.received()) == sorted(allowed)
    gateway.close()
    device_a.close()


def test_admin_topics_belong_to_operator_and_gateway(secured):
    gateway = Session(secured.port, *GATEWAY, subscribe=("gk/#",))
    operator = Session(secured.port, *OPERATOR, subscribe=("gk/#",))
    device_a = Session(secured.port, "dev-a", "secret-a", subscribe=("gk/#",))
    time.sleep(0.3)
    operator.publish("gk/g1/admin/invite", b"invitation")
    operator.publish("gk/g1/epoch", b"forged epoch")  # read-only for the operator
    device_a.publish("gk/g1/admin/entry", b"forged entry")
    gateway.publish("gk/g1/admin/offer", b"offer")
    gateway.publish("gk/g1/epoch", b"final")
    assert sorted(t for t, _ in gateway.received()) == [
        "gk/g1/admin/invite", "gk/g1/admin/offer", "gk/g1/epoch"]
    assert sorted(t for t, _ in operator.received()) == [
        "gk/g1/admin/invite", "gk/g1/admin/offer", "gk/g1/epoch"]
    assert [m for m in device_a.received()] == [("gk/g1/epoch", b"final")]
    for session in (gateway, operator, device_a):
        session.close()


def test_device_reads_only_its_own_responses(secured):
    device_a = Session(secured.port, "dev-a", "secret-a", subscribe=("gk/#",))
    gateway = Session(secured.port, *GATEWAY)
    time.sleep(0.3)
    for topic in ("gk/g1/resp/dev-a", "gk/g1/resp/dev-b", "gk/g1/epoch", "gk/g1/msg/dev-b",
                  "gk/g1/presence/dev-b", "gk/g1/req/dev-b"):
        gateway.publish(topic, b"x")
    assert sorted(topic for topic, _ in device_a.received()) == [
        "gk/g1/epoch", "gk/g1/msg/dev-b", "gk/g1/resp/dev-a"]
    gateway.close()
    device_a.close()


def test_client_id_of_another_device_cannot_take_over_its_session(secured):
    device_a = Session(secured.port, "dev-a", "secret-a")
    intruder = Session(secured.port, "dev-b", "secret-b", client_id="dev-a")
    assert intruder.code == 0  # accepted, but as client id "dev-b"
    time.sleep(0.5)
    assert device_a.disconnects == 0 and device_a.client.is_connected()
    intruder.close()
    device_a.close()


@pytest.mark.parametrize("user, password", [("dev-a", "wrong"), ("nobody", "x")])
def test_wrong_credentials_are_refused(secured, user, password):
    session = Session(secured.port, user, password)
    assert session.code != 0
    session.close()


CONNECT_SCRIPT = """
import asyncio, json, sys
from mqtt.client import Client
from mqtt.errors import ConnectRefused
async def main():
    client = Client(sys.argv[2], "127.0.0.1", int(sys.argv[1]), username=sys.argv[2],
                    password=sys.argv[3], will=("gk/g1/presence/" + sys.argv[2], b"off", 1,
                    True), backoff_min_ms=50)
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for_ms(client.up.wait(), 3000)
        await client.publish("gk/g1/presence/" + sys.argv[2], b"on", qos=1, timeout_ms=3000)
        print(json.dumps({"event": "connected"}))
        await client.disconnect()
        await task
    except ConnectRefused as exc:
        print(json.dumps({"event": "refused", "code": exc.code}))
    except asyncio.TimeoutError:
        try:
            await task
        except ConnectRefused as exc:
            print(json.dumps({"event": "refused", "code": exc.code}))
asyncio.run(main())
"""


@pytest.mark.micropython
@pytest.mark.parametrize("password, outcome", [("secret-a", "connected"), ("wrong", "refused")])
def test_firmware_client_with_credentials(secured, tmp_path, password, outcome):
    script = tmp_path / "connect.py"
    script.write_text(CONNECT_SCRIPT)
    device = DeviceProcess(script, (secured.port, "dev-a", password),
                           stderr_path=tmp_path / "stderr")
    try:
        event = device.wait_for(outcome, timeout=15)
        assert device.wait_exit(timeout=10) == 0, device.transcript()
    finally:
        device.stop()
    if outcome == "refused":
        assert event["code"] in (4, 5)  # bad credentials / not authorized: permanent
        assert len(device.events) == 1  # no retry loop after a permanent refusal


def test_generated_files_are_private_and_hashed(tmp_path):
    # a password that cannot occur in a base64 hash by chance ("-" is not in its alphabet;
    # a 2-letter one did, once in ~30 runs)
    password = "plain-text-password"
    paths = write_broker_files(tmp_path, 1883, {"dev-" + uuid.uuid4().hex[:4]: password},
                               GATEWAY)
    text = paths["passwords"].read_text()
    assert password not in text and "$7$" in text
    assert oct(paths["passwords"].stat().st_mode & 0o777) == "0o600"
    assert "use_username_as_clientid true" in paths["config"].read_text()
