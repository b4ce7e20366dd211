"""The gateway against a real Mosquitto, three real ledger nodes (t = 2) and devices
simulated in CPython with the shared protocol code (gateway/simulated_device.py).

One system per module; the tests run in order and build on each other: genesis, batched
joins, leave, refresh, catch-up, gateway restart (rebuild from the ledger), one ledger node
down, presence timeout. After each step every member holds the same epoch secret.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from gateway.localsystem import LocalSystem
from gateway.operator import Operator
from gateway.simulated_device import SimulatedDevice
from groupkey import relay
from groupkey.crypto import rng
from groupkey.did import did_from_public_key

GRACE_S = 2.0


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    directory = tmp_path_factory.mktemp("gateway_flows")
    local = LocalSystem(directory, devices=8, group="flows", start_devices=False,
                        gateway_options={"presence_grace_s": GRACE_S, "batch_window_ms": 300,
                                         "sponsor_timeout_s": 4.0, "retry_delay_s": 0.5,
                                         "stuck_catchups": 3, "stuck_after_s": 1.0})
    with local:
        yield local


@pytest.fixture(scope="module")
def operator(system):
    settings = system.operator_settings()
    admin = Operator(rng.random_bytes(32), system.group, settings["ledger_keys"],
                     settings["threshold"])
    key_file = system.directory / "admin.key"
    key_file.write_text(admin.admin_seed.hex())
    key_file.chmod(0o600)
    (system.directory / "operator.toml").write_text(
        '[mqtt]\nhost = "127.0.0.1"\nport = %d\nusername = "%s"\npassword = "%s"\n'
        '[group]\nname = "%s"\n[admin]\nkey_file = "%s"\n[ledger]\nkeys = [%s]\n'
        'threshold = %d\n' % (settings["port"], settings["username"], settings["password"],
                               system.group, key_file,
                               ", ".join('"%s"' % key.hex() for key in settings["ledger_keys"]),
                               settings["threshold"]))
    admin.connect(settings["host"], settings["port"], settings["username"],
                  settings["password"])
    yield admin
    admin.close()


@pytest.fixture(scope="module")
def fleet(system):
    devices = {}
    for device_id in system.device_ids:
        devices[device_id] = SimulatedDevice(device_id, system.group,
                                             system.passwords[device_id], system.broker_port,
                                             system.ledger_keys(), system.threshold)
    yield devices
    for device in devices.values():
        try:
            device.disconnect()
        except Exception:
            pass


def members(fleet):
    return [device for device in fleet.values() if device.member is not None]


def assert_agree(fleet, epoch, expected_members):
    current = [device for device in members(fleet) if device.member.epoch == epoch]
    assert sorted(device.device_id for device in current) == sorted(expected_members)
    secrets = {device.member.epoch_secret for device in current}
    assert len(secrets) == 1
    hashes = {device.member.tree_hash for device in current}
    assert len(hashes) == 1


def gateway_event(system, name, predicate=None, timeout=20.0, after=0):
    return system.gateway.wait_for(name, timeout=timeout, predicate=predicate, after=after)


def test_genesis(system, operator, fleet):
    founder = fleet["dev-01"]
    founder.connect()
    founder.register()
    founder.found()
    offer = operator.wait_offer(timeout=20)
    assert offer.device_id == "dev-01" and offer.identity == founder.identity
    operator.publish_genesis(operator.genesis_entry(offer))
    founder.wait_epoch(0)
    founder.wait(lambda: founder.member is not None, 20, "founded")
    assert founder.member.epoch == 0


def test_join_without_invitation_is_refused(system, fleet):
    device = fleet["dev-02"]
    device.connect()
    device.register()
    device.join()
    device.wait_error("not invited")
    assert device.member is None


def test_batched_joins(system, operator, fleet):
    joiners = [fleet["dev-%02d" % index] for index in range(2, 8)]
    for device in joiners:
        if device.client is None:
            device.connect()
            device.register()
        operator.invite(device.identity)
    time.sleep(0.5)  # invitations are processed before the joins
    for device in joiners:
        device.join()
    for device in joiners:
        device.wait_epoch(1, timeout=30)
    top = max(device.member.epoch for device in members(fleet))
    for device in members(fleet):
        device.wait_epoch(top)
    assert_agree(fleet, top, ["dev-%02d" % index for index in range(1, 8)])
    # 6 joins within the batch window: far fewer transitions than joins
    assert top <= 3


def test_leave(system, fleet):
    leaver = fleet["dev-03"]
    epoch = leaver.member.epoch
    leaver.leave()
    event = gateway_event(system, "epoch", lambda e: "dev-03" in e["removed"])
    stayers = [d for d in members(fleet) if d.device_id != "dev-03"]
    for device in stayers:
        device.wait_epoch(event["epoch"])
    assert_agree(fleet, event["epoch"], [d.device_id for d in stayers])
    assert leaver.member.epoch == epoch  # the removed device got nothing new
    assert leaver.member.epoch_secret != stayers[0].member.epoch_secret
    # a removed device that asks to catch up gets proof, not the gateway's word: the
    # receipted transition that removed it (FINAL), never a bare "not a member" error
    errors = len(leaver.errors)
    leaver.catchup()
    leaver.wait(lambda: leaver.final_epoch == event["epoch"], 10, "removal proof")
    assert leaver.errors[errors:] == []
    leaver.member = None


def test_refresh(system, fleet):
    device = fleet["dev-05"]
    before = device.member.epoch_secret
    mark = len(system.gateway.events)  # dev-05 may have sponsored earlier epochs too
    device.refresh()
    event = gateway_event(system, "epoch", lambda e: e["sponsors"] == ["dev-05"], after=mark)
    for member in members(fleet):
        member.wait_epoch(event["epoch"])
    assert_agree(fleet, event["epoch"], [d.device_id for d in members(fleet)])
    assert device.member.epoch_secret != before
    # a lone request starts its round after the quiet gap (batch_quiet_ms, 20 ms by default),
    # not after the whole 300 ms batch window (gateway.rounds.gather_batch)
    request = gateway_event(system, "request", lambda e: e["device"] == "dev-05"
                            and e["kind"] == "refresh", after=mark)
    started = gateway_event(system, "round", lambda e: e["epoch"] == event["epoch"],
                            after=mark)
    assert 0.015 <= started["t"] - request["t"] < 0.25, (request, started)



def test_catchup_after_missed_epochs_is_one_welcome(system, fleet):
    late = fleet["dev-06"]
    start = late.member.epoch
    late.ignore_updates = True
    for _ in range(2):  # two epochs the late member misses
        fleet["dev-05"].refresh()
        event = gateway_event(system, "epoch", lambda e: e["epoch"] > start)
        start = event["epoch"]
        fleet["dev-05"].wait_epoch(event["epoch"])
    assert late.member.epoch == event["epoch"] - 2
    late.ignore_updates = False
    seen = len(late.log)
    late.catchup()
    late.wait_epoch(event["epoch"])
    # one proof: the member jumped straight to the latest epoch, no missed epoch replayed
    assert late.log[seen:] == ["epoch %d" % event["epoch"]]
    for device in members(fleet):
        device.wait_epoch(event["epoch"])
    assert_agree(fleet, event["epoch"], [d.device_id for d in members(fleet)])


def test_lost_welcome_is_recovered_by_catchup(system, operator, fleet):
    joiner = fleet["dev-08"]
    joiner.connect()
    joiner.register()
    # the operator CLI this time, with the device's DID
    did = did_from_public_key(joiner.identity)
    result = subprocess.run([sys.executable, "-m", "gateway.operator", "--config",
                             str(system.directory / "operator.toml"), "invite", did],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["invited"] == joiner.identity.hex()
    system.gateway.wait_for("invited", predicate=lambda e: (
        e["identity"] == joiner.identity[:6].hex()))
    joiner.ignore_welcome = True
    joiner.join()
    joined = gateway_event(system, "epoch", lambda e: "dev-08" in e["joined"])
    fleet["dev-01"].refresh()  # one more epoch the joiner misses too
    event = gateway_event(system, "epoch", lambda e: e["epoch"] == joined["epoch"] + 1)
    assert joiner.member is None
    joiner.ignore_welcome = False
    joiner.catchup()  # CATCHUP(0): one WELCOME of the latest epoch, with its pending secret
    joiner.wait_epoch(event["epoch"])
    for device in members(fleet):
        device.wait_epoch(event["epoch"])
    assert_agree(fleet, event["epoch"], [d.device_id for d in members(fleet)])


def test_gateway_restart_rebuilds_from_the_ledger(system, fleet):
    epoch = fleet["dev-01"].member.epoch
    system.kill_gateway()
    system.start_gateway()
    rebuilt = gateway_event(system, "rebuilt")
    assert rebuilt["epoch"] == epoch and rebuilt["members"] == len(members(fleet))
    time.sleep(0.5)  # retained presence (identity map) arrives after the subscription
    fleet["dev-04"].refresh()
    for device in members(fleet):
        device.wait_epoch(epoch + 1)
    assert_agree(fleet, epoch + 1, [d.device_id for d in members(fleet)])


def test_one_ledger_node_down(system, fleet):
    epoch = fleet["dev-01"].member.epoch
    system.kill_node(2)
    try:
        fleet["dev-02"].refresh()
        event = gateway_event(system, "epoch", lambda e: e["epoch"] == epoch + 1)
        assert event["receipts"] == 2
        for device in members(fleet):
            device.wait_epoch(epoch + 1)
        assert_agree(fleet, epoch + 1, [d.device_id for d in members(fleet)])
    finally:
        system.start_node(2)
    # the next transition brings the node that was down up to date (the gateway heals it)
    fleet["dev-02"].refresh()
    event = gateway_event(system, "epoch", lambda e: e["epoch"] == epoch + 2)
    assert event["receipts"] == 3
    healed = system.gateway.named("ledger_healed")
    assert healed and healed[-1]["from_epoch"] == epoch + 1
    for device in members(fleet):
        device.wait_epoch(epoch + 2)


def test_bad_inputs_get_an_error_and_never_crash(system, operator, fleet):
    device = fleet["dev-02"]
    device.send(b"\x07\x07garbage")
    device.wait_error("malformed")
    forged = bytearray(device.signed(relay.LEAVE))  # a broken signature
    forged[-1] ^= 1
    device.send(bytes(forged))
    device.wait_error("bad signature")
    outsider = fleet["dev-03"]  # left earlier
    outsider.refresh()
    outsider.wait_error("not a member")
    device.send(bytes((1, 0x09)) + (999).to_bytes(4, "big"))  # WHO of an empty leaf
    device.wait_error("no member at leaf")
    device.send(bytes((1, 0x05)) + (12345).to_bytes(4, "big") + b"junk")  # stray answer
    operator.publish("entry", b"\x01\xa1not an entry")
    operator.publish("invite", b"\x01\xa2short")
    # still serving: WHO of a real leaf gives a proof of that member
    leaf = device.member.leaf
    device.send(bytes((1, 0x09)) + leaf.to_bytes(4, "big"))
    device.wait(lambda: device.leaf_proofs, 10, "given a leaf proof")
    proof = device.leaf_proofs[-1]
    assert proof.identity == device.identity and proof.epoch == device.member.epoch
    assert system.gateway.running()


def test_stuck_member_is_removed_and_joins_again(system, fleet):
    stuck = fleet["dev-06"]
    epoch = stuck.member.epoch
    stuck.ignore_updates = True  # it cannot use what the gateway sends
    stuck.ignore_welcome = True  # (the catch-up answer is one WELCOME)
    fleet["dev-05"].refresh()
    gateway_event(system, "epoch", lambda e: e["epoch"] == epoch + 1)
    for _ in range(4):
        stuck.catchup()
        time.sleep(0.5)
    event = gateway_event(system, "epoch", lambda e: "dev-06" in e["removed"])
    assert system.gateway.named("stuck_member")[-1]["device"] == "dev-06"
    assert stuck.member.epoch == epoch
    stuck.ignore_updates = False
    stuck.ignore_welcome = False
    stuck.member = None
    stuck.join()  # its invitation is still known: it comes back with a fresh leaf
    back = gateway_event(system, "epoch", lambda e: "dev-06" in e["joined"])
    assert back["epoch"] > event["epoch"]
    for device in members(fleet):
        device.wait_epoch(back["epoch"])
    assert_agree(fleet, back["epoch"], [d.device_id for d in members(fleet)])


def test_offline_past_grace_is_removed(system, fleet):
    gone = fleet["dev-07"]
    epoch = fleet["dev-01"].member.epoch
    gone.power_off()
    event = gateway_event(system, "epoch", lambda e: "dev-07" in e["removed"],
                          timeout=GRACE_S + 20)
    assert event["epoch"] == epoch + 1
    gone.member = None
    for device in members(fleet):
        device.wait_epoch(epoch + 1)
    assert_agree(fleet, epoch + 1, [d.device_id for d in members(fleet)])
    timeout = system.gateway.named("presence_timeout")
    assert timeout and timeout[-1]["device"] == "dev-07" and timeout[-1]["seconds"] >= GRACE_S
