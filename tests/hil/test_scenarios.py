"""Hardware-in-the-loop scenarios on one running system (issue 5, docs/e2e.md).

One system per module (starting 8 emulated devices costs most of the time), the scenarios
run in file order and each one ends with every current member on the same epoch - the same
epoch-key, tree-hash and ledger-entry fingerprints in their ``epoch`` log lines - and the
ledger nodes consistent (every logged group entry identical on each node that has it, at
least t nodes per entry, the devices' entry fingerprint = the ledger's last entry).
A scenario that fails leaves the later ones to fail too: read the first failure.
"""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from tests.hil.conftest import DEVICES, GROUP, fetch_group_entry, make_system

pytestmark = pytest.mark.timeout(900)
GRACE_S = 12.0
EPOCH_TIMEOUT = 60.0


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).digest()[:8].hex()


class Harness:
    """The running system, the operator, and the current member list."""

    def __init__(self, system, operator):
        self.system = system
        self.operator = operator
        self.members = []
        self.epoch = None

    def gateway_mark(self) -> int:
        return len(self.system.gateway.events)

    def wait_gateway_epoch(self, mark: int, predicate=None, timeout=EPOCH_TIMEOUT) -> dict:
        return self.system.gateway.wait_for("epoch", timeout=timeout, after=mark,
                                            predicate=predicate)

    def member_epoch(self, device_id: str, epoch: int, timeout=EPOCH_TIMEOUT) -> dict:
        event = self.system.wait_device(
            device_id, "epoch", timeout=timeout, predicate=lambda e: e["detail"]["epoch"] == epoch)
        return event["detail"]

    def agree(self, epoch: int) -> dict:
        """Every member logged ``epoch`` with the same key, tree and entry fingerprints;
        the ledgers hold that entry consistently. Returns one member's detail."""
        details = {device: self.member_epoch(device, epoch) for device in self.members}
        keys = {(d["key"], d["tree"], d["entry"]) for d in details.values()}
        assert len(keys) == 1, details
        self.epoch = epoch
        self.ledger_consistent(epoch, next(iter(details.values()))["entry"])
        return next(iter(details.values()))

    def ledger_consistent(self, epoch: int, entry_fp: str) -> None:
        from groupkey.ledger import entry as entries

        urls = self.system.ledger_urls()
        last = None
        for sequence in range(epoch + 1):
            found = [fetch_group_entry(url, GROUP, sequence) for url in urls]
            present = [data for data in found if data is not None]
            assert len(present) >= self.system.threshold, (sequence, len(present))
            assert len(set(present)) == 1, "nodes disagree at sequence %d" % sequence
            last = present[0]
        assert fingerprint(entries.decode(last).entry_hash()) == entry_fp
        for url in urls:  # nothing beyond the epoch the members hold
            assert fetch_group_entry(url, GROUP, epoch + 1) is None

    def command(self, device_id: str, name: str) -> None:
        path = self.system.directory / "devices" / device_id / "flash" / "command"
        path.write_text(name)

    def invite(self, device_id: str) -> None:
        event = self.system.device(device_id).wait_for("identity_created", timeout=30)
        self.operator.invite(event["detail"]["did"])


@pytest.fixture(scope="module")
def harness(request, tmp_path_factory):
    from gateway.operator import Operator

    system = make_system(request, tmp_path_factory, devices=DEVICES, group=GROUP,
                         gateway_options={"presence_grace_s": GRACE_S,
                                          "sponsor_timeout_s": 8.0},
                         device_options={"retry_s": 2, "reading_s": 3, "keepalive_s": 10,
                                         "heartbeat_s": 5, "watchdog_ms": 15000})
    with system:
        operator = Operator(os.urandom(32), GROUP, system.ledger_keys(), system.threshold)
        settings = system.operator_settings()
        operator.connect(settings["host"], settings["port"], settings["username"],
                         settings["password"])
        try:
            yield Harness(system, operator)
        finally:
            operator.close()


def test_group_of_eight_forms(harness):
    system = harness.system
    started = time.monotonic()
    offer = harness.operator.wait_offer(timeout=60)
    assert offer.device_id == system.founder_id
    harness.operator.publish_genesis(harness.operator.genesis_entry(offer))
    harness.members = [system.founder_id]
    harness.agree(0)
    # one invitation at a time: the gateway aborts a batch whose only sponsor is a joiner
    # ("no continuing member sponsored the transition"), see the report / docs/firmware.md
    for device_id in system.device_ids[1:]:
        mark = harness.gateway_mark()
        harness.invite(device_id)
        event = harness.wait_gateway_epoch(
            mark, lambda e, d=device_id: d in e.get("joined", []))
        harness.members.append(device_id)
    detail = harness.agree(event["epoch"])
    print("group of %d formed at epoch %d in %.1f s" % (
        len(harness.members), detail["epoch"], time.monotonic() - started))
    # readings flow between members
    reader = system.device(harness.members[-1])
    reading = reader.wait_for("reading", timeout=20, predicate=lambda e: e["detail"]["epoch"]
                              == detail["epoch"] and e["detail"]["from"] != harness.members[-1])
    assert 20.0 <= reading["detail"]["temperature"] <= 25.0  # the unix board's fake sensor


def test_device_joins(harness):
    system = harness.system
    device_id = system.add_device("dev-%02d" % (len(system.device_ids) + 1))
    mark = harness.gateway_mark()
    system.start_device(device_id)
    harness.invite(device_id)
    event = harness.wait_gateway_epoch(mark, lambda e: device_id in e.get("joined", []))
    harness.members.append(device_id)
    detail = harness.agree(event["epoch"])
    assert system.device(device_id).named("epoch")[-1]["detail"]["how"] == "welcome"
    assert detail["epoch"] == event["epoch"]


def test_member_refreshes(harness):
    mark = harness.gateway_mark()
    harness.command(harness.members[1], "refresh")
    event = harness.wait_gateway_epoch(mark)
    assert event["joined"] == [] and event["removed"] == []
    harness.agree(event["epoch"])


def test_member_leaves_and_cannot_read_new_messages(harness):
    system = harness.system
    leaver = harness.members[-1]
    mark = harness.gateway_mark()
    harness.command(leaver, "leave")
    event = harness.wait_gateway_epoch(mark, lambda e: leaver in e.get("removed", []))
    harness.members.remove(leaver)
    harness.agree(event["epoch"])
    device = system.device(leaver)
    device.wait_for("left", timeout=30)
    # the remaining members read each other's readings of the new epoch; the leaver not
    reader = system.device(harness.members[0])
    reader.wait_for("reading", timeout=20, predicate=lambda e: e["detail"]["epoch"]
                    == event["epoch"])
    device.wait_for("unreadable", timeout=20)
    assert not [e for e in device.named("reading") if e["detail"]["epoch"] >= event["epoch"]]


def test_device_reboots_and_catches_up(harness):
    system = harness.system
    rebooted = harness.members[2]
    system.kill_device(rebooted)
    for refresher in (harness.members[1], harness.members[3]):  # it misses two epochs
        mark = harness.gateway_mark()
        harness.command(refresher, "refresh")
        event = harness.wait_gateway_epoch(mark)
    device = system.start_device(rebooted)
    loaded = device.wait_for("state_loaded", timeout=30)["detail"]
    assert loaded["epoch"] == event["epoch"] - 2
    harness.agree(event["epoch"])
    # one proof: a single catch-up straight to the latest epoch, nothing replayed
    after_boot = [e["detail"] for e in device.named("epoch")
                  if e["detail"]["epoch"] > loaded["epoch"]]
    assert [(d["epoch"], d["how"]) for d in after_boot] == [(event["epoch"], "catchup")]


def test_gateway_killed_mid_rekey_and_restarted(harness):
    system = harness.system
    mark = harness.gateway_mark()
    harness.command(harness.members[3], "refresh")
    system.gateway.wait_for("sponsor", timeout=30, after=mark)
    system.kill_gateway()
    system.start_gateway()
    time.sleep(2)
    # whatever the interrupted round left, the next transition brings everyone together
    mark = harness.gateway_mark()
    harness.command(harness.members[4], "refresh")
    event = harness.wait_gateway_epoch(mark)
    harness.agree(event["epoch"])


def test_broker_restarted(harness):
    system = harness.system
    marks = {device_id: len(system.device(device_id).events) for device_id in harness.members}
    system.restart_broker(pause=1.0)
    for device_id in harness.members:
        system.device(device_id).wait_for("online", timeout=30, after=marks[device_id])
    time.sleep(2)
    mark = harness.gateway_mark()
    harness.command(harness.members[0], "refresh")
    event = harness.wait_gateway_epoch(mark)
    harness.agree(event["epoch"])


def test_one_ledger_node_down(harness):
    system = harness.system
    system.kill_node(2)
    try:
        mark = harness.gateway_mark()
        harness.command(harness.members[1], "refresh")
        event = harness.wait_gateway_epoch(mark)
        assert event["receipts"] >= system.threshold
        harness.agree(event["epoch"])
    finally:
        system.start_node(2)


def test_offline_past_grace_is_removed(harness):
    system = harness.system
    gone = harness.members[-1]
    mark = harness.gateway_mark()
    system.kill_device(gone)
    event = harness.wait_gateway_epoch(mark, lambda e: gone in e.get("removed", []),
                                       timeout=GRACE_S + EPOCH_TIMEOUT)
    harness.members.remove(gone)
    harness.agree(event["epoch"])
