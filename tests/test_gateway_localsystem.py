"""gateway.localsystem: every process starts, the helpers kill and restart each of them, and
everything is gone after stop(). Uses two emulated MicroPython devices (the real firmware)."""

from __future__ import annotations

import json
import urllib.request

from gateway.localsystem import LocalSystem


def ledger_info(url):
    with urllib.request.urlopen(url + "/v1/info", timeout=5) as response:  # noqa: S310
        return json.loads(response.read())


def test_localsystem_processes_and_helpers(tmp_path):
    system = LocalSystem(tmp_path, devices=2, group="local")
    with system:
        gateway = system.gateway
        for device_id in system.device_ids:
            system.device(device_id).wait_for("online", timeout=60)
            gateway.wait_for("presence", timeout=30, predicate=lambda e, d=device_id: (
                e["device"] == d and e["online"]))
        config = system.device_config("dev-01")
        assert config["founder"] is True and system.device_config("dev-02")["founder"] is False
        assert config["ledger_keys"] == [key.hex() for key in system.ledger_keys()]
        assert config["ledger_threshold"] == 2 and len(system.nodes) == 3
        # power loss: the broker publishes the last will, the gateway sees it
        mark = len(gateway.events)
        system.kill_device("dev-02")
        gateway.wait_for("presence", timeout=30, after=mark, predicate=lambda e: (
            e["device"] == "dev-02" and not e["online"]))
        restarted = system.start_device("dev-02")
        restarted.wait_for("online", timeout=60)
        # broker restart: devices reconnect
        device = system.device("dev-01")
        mark = len(device.events)
        system.restart_broker()
        device.wait_for("online", timeout=30, after=mark)
        # a ledger node down and back (same key, same database)
        key = system.nodes[1].node_key
        system.kill_node(1)
        system.start_node(1)
        assert bytes.fromhex(ledger_info(system.nodes[1].url)["node_key"]) == key
        # gateway killed and restarted
        system.kill_gateway()
        system.start_gateway().wait_for("rebuilt", timeout=30)
        processes = [system.broker_process, system.gateway.process]
        processes += [node.process for node in system.nodes]
        processes += [device.process for device in system.devices.values()]
        assert all(process.poll() is None for process in processes)
    assert all(process.poll() is not None for process in processes)


def test_localsystem_provisions_a_device_that_boots_without_configuration(tmp_path):
    """A device listed in ``provision`` boots in provisioning mode (the firmware's, through
    the unix board's loopback stand-in for BLE); provision_device sends it its configuration,
    it reboots (restarted by the supervisor with the stored file, not a new stub) and comes
    online with the identity it was provisioned with."""
    system = LocalSystem(tmp_path, devices=2, group="local", provision=("dev-02",))
    with system:
        stub = json.loads((tmp_path / "devices" / "dev-02" / "config.json").read_text())
        assert stub["provision"] is True and "mqtt_password" not in stub
        result = system.provision_device("dev-02", timeout=60)
        online = system.wait_device("dev-02", "online", timeout=60)
        assert online is not None and system.reboots.get("dev-02") == 1
        stored = json.loads((tmp_path / "devices" / "dev-02" / "config.json").read_text())
        assert stored == json.loads(json.dumps(system.device_config("dev-02")))
        loaded = system.wait_device("dev-02", "state_loaded", timeout=30)["detail"]
        assert loaded["did"] == result["did"] and loaded["boots"] == 2
