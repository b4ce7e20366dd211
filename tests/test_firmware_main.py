"""The firmware as a whole (firmware/main.py with the unix board) under
`micropython -X heapsize=96K` against a real Mosquitto: boot, entropy only after the network,
presence with last will, inbound dispatch, power cut and resume from durable state, factory
reset by the reset button, a clean stop, and the same from the mpy-cross image of
hardware/build_image.py. Free heap after the imports is printed (run with -s to see it)."""

from __future__ import annotations

import json
import uuid

import pytest

from hardware.build_image import build
from tests.device_process import FIRMWARE, DeviceProcess
from tests.mosquitto import mosquitto  # noqa: F401  (fixture)
from tests.test_mqtt_client import Peer

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(60)]


def write_config(tmp_path, port, **overrides):
    device_id = "dev-" + uuid.uuid4().hex[:6]
    config = {"group_id": "g1", "device_id": device_id, "broker_port": port,
              "flash_dir": str(tmp_path / "flash"), "keepalive_s": 5, "heartbeat_s": 1,
              "watchdog_ms": 2000, "backoff_min_ms": 100, "backoff_max_ms": 1000,
              "member": "placeholder"}  # runtime only; the group member: tests/hil
    config.update(overrides)
    path = tmp_path / ("config-%s.json" % device_id)
    path.write_text(json.dumps(config))
    return path, device_id


def start(tmp_path, config_path, main=FIRMWARE / "main.py", image=None):
    env = {}
    if image is not None:  # the image alone: proves it carries every module it needs
        env["MICROPYPATH"] = ":".join([str(image), ".frozen"])
    return DeviceProcess(main, (config_path,), env=env,
                         stderr_path=tmp_path / ("stderr-%s" % uuid.uuid4().hex[:4]))


def presence(peer, device_id, timeout=10.0):
    topic, payload, qos, retain = peer.expect("gk/g1/presence/" + device_id, timeout=timeout)
    return json.loads(payload)


def detail(device, name):
    return device.wait_for(name)["detail"]


def test_boot_presence_will_resume_and_factory_reset(mosquitto, tmp_path):  # noqa: F811
    peer = Peer(mosquitto.port, "gk/g1/presence/+")
    config_path, device_id = write_config(tmp_path, mosquitto.port)

    first = start(tmp_path, config_path)
    try:
        first.wait_for("online")
        heap = detail(first, "heap")
        names = [event["event"] for event in first.events]
        # keys only after the radio is up
        assert names.index("network_up") < names.index("identity_created")
        identity = detail(first, "identity_created")["fingerprint"]
        assert detail(first, "state_loaded") == {"boots": 1, "epoch": 0, "sequence": 1,
                                                 "identity": identity}
        online = presence(peer, device_id)
        assert online["online"] is True and online["boots"] == 1
        # inbound messages reach the member, in order
        for index in range(3):
            peer.publish("gk/g1/resp/" + device_id, b"x" * (index + 1))
        lengths = []
        for _ in range(3):
            lengths.append(first.wait_for("message")["detail"]["length"])
            first.events.remove(first.named("message")[0])
        assert lengths == [1, 2, 3]
        # the heartbeat keeps coming
        assert presence(peer, device_id, timeout=3)["online"] is True
    finally:
        first.kill()
        first.stop()
    # power cut: the broker publishes the will (after any heartbeats still queued)
    payloads = [presence(peer, device_id)]
    while payloads[-1].get("online"):
        payloads.append(presence(peer, device_id))
    assert payloads[-1] == {"online": False}

    second = start(tmp_path, config_path)
    try:
        second.wait_for("online")
        assert "identity_created" not in [event["event"] for event in second.events]
        assert detail(second, "state_loaded") == {"boots": 2, "epoch": 0, "sequence": 2,
                                                  "identity": identity}
    finally:
        second.stop()

    (tmp_path / "flash" / "reset_button").write_text("")
    third = start(tmp_path, config_path)
    try:
        third.wait_for("online")
        third.wait_for("factory_reset")
        new_identity = detail(third, "identity_created")["fingerprint"]
        assert new_identity != identity
        assert detail(third, "state_loaded")["boots"] == 1
    finally:
        third.stop()
    print("heap from source: %s" % heap)
    peer.close()


def test_precompiled_image_runs_and_stops_cleanly(mosquitto, tmp_path):  # noqa: F811
    image = tmp_path / "image"
    summary = build(image)
    assert (image / "main.py").exists() and (image / "mqtt" / "client.mpy").exists()
    assert not list((image / "mqtt").glob("*.py"))
    peer = Peer(mosquitto.port, "gk/g1/presence/+")
    config_path, device_id = write_config(tmp_path, mosquitto.port, run_seconds=2)
    device = start(tmp_path, config_path, main=image / "main.py", image=image)
    try:
        code = device.wait_exit(timeout=30)
    finally:
        device.stop()
    assert code == 0, device.transcript()
    stopped = detail(device, "stopped")
    assert stopped["stats"]["connects"] == 1 and stopped["stats"]["losses"] == 0
    payloads = []
    while not payloads or payloads[-1].get("online"):
        payloads.append(presence(peer, device_id))
    assert payloads[0]["online"] is True and payloads[-1] == {"online": False}
    heap = detail(device, "heap")
    running = detail(device, "running")
    print("image %s; heap from .mpy: %s; free while running: %d"
          % (summary, heap, running["mem_free"]))
    assert heap["free_after_imports"] > 32 * 1024
    peer.close()


def test_presence_announced_again_after_broker_restart(mosquitto, tmp_path):  # noqa: F811
    config_path, device_id = write_config(tmp_path, mosquitto.port, heartbeat_s=30)
    device = start(tmp_path, config_path)
    try:
        device.wait_for("online")
        mosquitto.restart(pause=0.5)  # same port; the broker forgets everything
        peer = Peer(mosquitto.port, "gk/g1/presence/+")
        # retained presence is back (delivered at subscribe time, or live once reconnected)
        assert presence(peer, device_id, timeout=15)["online"] is True
        device.wait_for("mqtt_lost")
        device.wait_count("online", 2)  # announced on the new connection
        assert len(device.named("mqtt_up")) == 2
        peer.close()
    finally:
        device.stop()
        print(device.transcript())


def test_wrong_broker_password_is_fatal_and_reboots(tmp_path):
    from tests.mosquitto import Broker

    broker = Broker(tmp_path / "secured", users={"someone": "secret"})
    broker.start()
    try:
        config_path, _ = write_config(tmp_path, broker.port, mqtt_password="wrong")
        device = start(tmp_path, config_path)
        try:
            code = device.wait_exit(timeout=20)
        finally:
            device.stop()
    finally:
        broker.stop()
    assert code == 77, device.transcript()  # unix board: reboot
    assert "ConnectRefused" in device.wait_for("fatal")["detail"]
    assert device.named("status")[-1]["detail"] == "error"
