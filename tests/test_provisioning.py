"""BLE provisioning (docs/provisioning.md): the shared messages (groupkey/provisioning.py) in
CPython, and the whole exchange between the gateway (gateway/provision.py) and the real
firmware in provisioning mode under MicroPython (firmware/main.py -> app/provision.py).

No BLE radio exists here: the device serves its GATT service through the unix board's
loopback stand-in (board/unix_provisioning.py) and the gateway talks to it with
SocketLink, the test double of its bleak link. Everything else (keys made on the device,
sealing, framing, the atomic configuration write, the acknowledgement, the reboot) is real.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import provision as gateway_provision
from gateway.localsystem import free_port
from groupkey import provisioning
from groupkey.crypto import ed25519
from tests.device_process import FIRMWARE, DeviceProcess

SEED = bytes(range(32))
BOX = bytes(range(32, 64))
CODE = b"01234567"
CONFIG = json.dumps({"group_id": "g1", "device_id": "dev-p", "wifi_ssid": "lab",
                     "wifi_password": "hunter22", "mqtt_password": "s3cret",
                     "ledger_keys": ["ab" * 32], "ledger_threshold": 1},
                    sort_keys=True).encode()


def flip(data, index):
    return data[:index] + bytes((data[index] ^ 1,)) + data[index + 1:]


def test_offer_seal_open_and_ack_round_trip():
    offer = provisioning.offer_from_parts(SEED, BOX)
    identity, box_public = provisioning.decode_offer(offer)
    assert identity == ed25519.public_key(SEED)
    sealed = provisioning.seal(identity, box_public, CONFIG, CODE)
    assert CONFIG not in sealed and b"hunter22" not in sealed
    assert provisioning.open_sealed(sealed, identity, BOX, CODE) == CONFIG
    with pytest.raises(provisioning.ProvisioningError):  # the device shows another code
        provisioning.open_sealed(sealed, identity, BOX, b"01234568")
    codes = {provisioning.pairing_code(os.urandom) for _ in range(20)}
    assert len(codes) > 15 and all(len(code) == 8 and code.isdigit() for code in codes)
    ack = provisioning.ack_from_parts(SEED, sealed)
    provisioning.check_ack(ack, identity, sealed)
    # two seals of one configuration differ (fresh ephemeral key each time), and so do their
    # ACKs: an ACK says nothing testable about the configuration itself
    again = provisioning.seal(identity, box_public, CONFIG, CODE)
    assert again != sealed
    with pytest.raises(provisioning.ProvisioningError):
        provisioning.check_ack(ack, identity, again)


def test_every_tampered_byte_is_refused():
    offer = provisioning.offer_from_parts(SEED, BOX)
    identity, box_public = provisioning.decode_offer(offer)
    sealed = provisioning.seal_from_parts(identity, box_public, CONFIG, bytes(range(64, 96)),
                                          CODE)
    ack = provisioning.ack_from_parts(SEED, sealed)
    for index in range(len(offer)):
        with pytest.raises(provisioning.ProvisioningError):
            provisioning.decode_offer(flip(offer, index))
    for index in range(len(sealed)):
        with pytest.raises(provisioning.ProvisioningError):
            provisioning.open_sealed(flip(sealed, index), identity, BOX, CODE)
    for index in range(len(ack)):
        with pytest.raises(provisioning.ProvisioningError):
            provisioning.check_ack(flip(ack, index), identity, sealed)
    other = ed25519.public_key(bytes(32))
    with pytest.raises(provisioning.ProvisioningError):  # sealed for another identity
        provisioning.open_sealed(sealed, other, BOX, CODE)
    with pytest.raises(provisioning.ProvisioningError):  # ack of another sealed message
        provisioning.check_ack(ack, identity, sealed + b" ")
    for bad in (b"", offer[:-1], offer + b"\x00", sealed[:40]):
        with pytest.raises(provisioning.ProvisioningError):
            provisioning.decode_offer(bad) if bad[:2] != sealed[:2] else \
                provisioning.open_sealed(bad, identity, BOX, CODE)


def test_frames_reassemble_only_in_order_and_within_the_limit():
    data = bytes(range(256)) * 3
    parts = provisioning.frames(data, 20)
    assert all(len(part) <= 20 for part in parts) and len(parts) == 43
    assembler = provisioning.Assembler(len(data))
    assert [assembler.add(part) for part in parts][-1] == data
    assert all(assembler.add(part) is None for part in parts[:-1])  # works again after
    assert assembler.add(parts[-1]) == data
    # a frame 0 starts over: a retry after a broken attempt goes through
    assembler = provisioning.Assembler(len(data))
    assert [assembler.add(part) for part in parts[:5] + parts][-1] == data
    for broken in ([parts[1]], [parts[0], parts[2]], [parts[0], parts[1], parts[1]],
                   [parts[0], bytes((1, 7)) + b"x"], [b"\x00\x01"]):
        assembler = provisioning.Assembler(len(data))
        with pytest.raises(provisioning.ProvisioningError):
            for part in broken:
                assembler.add(part)
        assert assembler.parts == []  # started over: nothing partial kept
    with pytest.raises(provisioning.ProvisioningError):
        small = provisioning.Assembler(100)
        for part in parts:
            small.add(part)
    with pytest.raises(provisioning.ProvisioningError):
        provisioning.frames(data, 2)


def start_device(tmp_path, port):
    """The real firmware (source, unix board) booting with a provisioning stub."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({"provision": True, "provision_port": port,
                                       "device_id": "dev-p", "provision_linger_ms": 300}))
    return boot(tmp_path, config_path), config_path


def boot(tmp_path, config_path, port=None):
    # the flash is the environment's, as gateway/localsystem.py gives it (an ESP32's is fixed)
    env = {"GROUPKEY_FLASH": str(tmp_path / "flash")}
    if port is not None:  # the link's port when the configuration cannot say it
        env["GROUPKEY_PROVISION_PORT"] = str(port)
    return DeviceProcess(FIRMWARE / "main.py", (config_path,), heap="256K", env=env,
                         stderr_path=tmp_path / "stderr")


async def session(port, config, code, fingerprint=None, tamper=False, broken_after=None):
    link = gateway_provision.SocketLink("127.0.0.1", port)
    await link.connect(30)
    try:
        if broken_after is not None:  # send the first frames only; the STATUS they leave
            identity, box_public = provisioning.decode_offer(
                await link.read(provisioning.OFFER_UUID))
            sealed = provisioning.seal(identity, box_public, config, code.encode())
            for frame in provisioning.frames(sealed, link.frame_size)[:broken_after]:
                await link.write(provisioning.CONFIG_UUID, frame)
            return await link.read(provisioning.STATUS_UUID)
        if tamper:  # a sealed blob for another session key: the device must refuse it
            identity, _ = provisioning.decode_offer(await link.read(provisioning.OFFER_UUID))
            wrong = provisioning.seal(identity, provisioning.decode_offer(
                provisioning.offer_from_parts(SEED, BOX))[1], config, code.encode())
            for frame in provisioning.frames(wrong, link.frame_size):
                await link.write(provisioning.CONFIG_UUID, frame)
            return await link.read(provisioning.STATUS_UUID)
        return await gateway_provision.provision(link, config, code, fingerprint, timeout=20)
    finally:
        await link.close()


@pytest.mark.micropython
@pytest.mark.timeout(120)
def test_gateway_provisions_the_real_firmware(tmp_path):
    port = free_port()
    device, config_path = start_device(tmp_path, port)
    try:
        offered = device.wait_for("provisioning", timeout=30)["detail"]
        code = offered["pairing_code"]
        # a wrong expected fingerprint: the gateway stops before sending anything
        with pytest.raises(gateway_provision.ProvisionFailed, match="not the expected"):
            asyncio.run(session(port, CONFIG, code, fingerprint="00" * 8))
        # a configuration sealed to another key: opaque error back, precise log, no write
        assert asyncio.run(session(port, CONFIG, code, tamper=True)) == b"error"
        failed = device.wait_for("provisioning_failed", timeout=10)["detail"]
        assert "does not open" in failed["reason"]
        # a gateway that does not know the code the device shows: refused the same way
        wrong_code = "%08d" % ((int(code) + 1) % 100000000)
        with pytest.raises(gateway_provision.ProvisionFailed, match="refused"):
            asyncio.run(session(port, CONFIG, wrong_code))
        assert len(device.wait_count("provisioning_failed", 2, timeout=10)) == 2
        assert json.loads(config_path.read_text())["provision"] is True
        # an attempt broken off after two frames (a dropped link), then a whole retry: the
        # retry's frame 0 starts over and clears the earlier error
        assert asyncio.run(session(port, CONFIG, code, broken_after=2)) == b""
        result = asyncio.run(session(port, CONFIG, code, fingerprint=offered["fingerprint"]))
        code = device.wait_exit(timeout=20)
    finally:
        device.stop()
    assert code == 77, device.transcript()  # rebooted into normal operation
    assert result["did"] == offered["did"] and result["fingerprint"] == offered["fingerprint"]
    assert config_path.read_bytes() == CONFIG  # exactly what was sent, stored atomically
    assert not os.path.exists(str(config_path) + ".tmp")
    done = device.wait_for("provisioned")["detail"]
    assert done["keys"] == sorted(json.loads(CONFIG))
    # no configuration value reached the log (passwords), only keys and a fingerprint
    assert "hunter22" not in device.transcript() and "s3cret" not in device.transcript()
    # the identity provisioned is the one the member uses after the reboot (durable state)
    assert device.wait_for("identity_created")["detail"]["did"] == result["did"]
    rebooted = boot(tmp_path, config_path)
    try:
        loaded = rebooted.wait_for("state_loaded", timeout=30)["detail"]
        assert rebooted.named("provisioning") == []  # configured: normal operation
    finally:
        rebooted.stop()
    assert loaded["did"] == result["did"] and loaded["boots"] == 2


@pytest.mark.micropython
@pytest.mark.timeout(120)
def test_device_refuses_a_configuration_it_cannot_run(tmp_path):
    port = free_port()
    device, config_path = start_device(tmp_path, port)
    try:
        code = device.wait_for("provisioning", timeout=30)["detail"]["pairing_code"]
        for bad in (b"[1, 2]", b"not json", json.dumps({"device_id": "x"}).encode(),
                    json.dumps({"group_id": "g1"}).encode()):  # no ledger keys
            with pytest.raises(gateway_provision.ProvisionFailed, match="refused"):
                asyncio.run(session(port, bad, code))
        assert device.process.poll() is None  # still in provisioning mode
    finally:
        device.stop()
    reasons = [event["detail"]["reason"] for event in device.named("provisioning_failed")]
    assert len(reasons) == 4, reasons
    assert json.loads(config_path.read_text())["provision"] is True


@pytest.mark.micropython
@pytest.mark.timeout(60)
def test_unreadable_or_half_written_configuration_boots_into_provisioning(tmp_path):
    """A corrupt config.json makes the device provision again (its identity stays) instead
    of crash-looping; a config.json.tmp left alone by a power cut is taken as the file."""
    config_path = tmp_path / "config.json"
    config_path.write_text('{"group_id": "g1", "ledger')  # cut short
    device = boot(tmp_path, config_path)
    try:  # the unix board then has no link port: a clear fatal error and a reboot
        assert device.wait_for("bad_config", timeout=30)["detail"]["path"] == str(config_path)
        assert "provision_port" in device.wait_for("fatal", timeout=30)["detail"]
        assert device.wait_exit(timeout=30) == 77
    finally:
        device.stop()
    device = boot(tmp_path, config_path, port=free_port())  # with the port: provisioning
    try:
        device.wait_for("bad_config", timeout=30)
        device.wait_for("provisioning", timeout=30)
    finally:
        device.stop()
    config_path.unlink()
    (tmp_path / "config.json.tmp").write_text(json.dumps(
        {"provision": True, "provision_port": free_port(), "device_id": "dev-p"}))
    device = boot(tmp_path, config_path)
    try:
        device.wait_for("config_recovered", timeout=30)
        device.wait_for("provisioning", timeout=30)
    finally:
        device.stop()
    assert config_path.exists() and not (tmp_path / "config.json.tmp").exists()


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=0, max_size=1500), size=st.integers(min_value=3, max_value=260),
       broken=st.integers(min_value=0, max_value=6))
def test_any_message_survives_framing_and_a_broken_first_attempt(data, size, broken):
    """Whatever the frame size, frames reassemble to the message; a first attempt broken
    off after a few frames never leaks into the retry (frame 0 starts over)."""
    parts = provisioning.frames(data, size)
    assert all(3 <= len(part) <= size or (not data and len(part) == 2) for part in parts)
    assembler = provisioning.Assembler(len(data) + 1)
    if not data:
        with pytest.raises(provisioning.ProvisioningError):  # an empty frame carries nothing
            assembler.add(parts[0])
        return
    for part in parts[:min(broken, len(parts) - 1)]:
        assert assembler.add(part) is None
    assert [assembler.add(part) for part in parts][-1] == data
