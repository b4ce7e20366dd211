"""`make demo`: the whole system on this machine, with human-readable progress.

Starts Mosquitto, three ledger nodes (t = 2), the gateway and 8 emulated devices (the real
firmware in the MicroPython unix port, gateway/localsystem.py); the operator (in this
process) founds the group from the first device's offer and invites the others by the DIDs
they log; then one more device, which booted without configuration, is provisioned by the
gateway over the BLE stand-in (docs/provisioning.md) and joins; one leaves, one refreshes
its key; the members exchange encrypted sensor readings. Ends with one JSON line

    {"devices", "epochs", "all_agree", "ledger_verified", "seconds", ...}

and stops every process it started, also on Ctrl-C (exit 130) or an error (exit 1).

    python scripts/demo.py [--devices 8] [--heap 192K] [--keep DIR] [--timeout 240]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.localsystem import DEFAULT_DEVICE_HEAP, LocalSystem  # noqa: E402
from gateway.operator import Operator  # noqa: E402
from groupkey.crypto import rng  # noqa: E402

STARTED = time.monotonic()


def say(text: str) -> None:
    print("[%6.1fs] %s" % (time.monotonic() - STARTED, text), flush=True)


class Demo:
    """The scripted scenario on a running LocalSystem."""

    def __init__(self, system: LocalSystem, timeout: float):
        self.system = system
        self.timeout = timeout
        self.epoch_events_seen = 0
        self.operator: Operator | None = None

    # ---------------------------------------------------------------- helpers
    def did_of(self, device_id: str) -> str:
        device = self.system.device(device_id)
        event = device.wait_for("identity_created", timeout=self.timeout, predicate=lambda e: (
            isinstance(e.get("detail"), dict) and e["detail"].get("did")))
        return event["detail"]["did"]

    def next_epoch_event(self, predicate, what: str) -> dict:
        """The next gateway ``epoch`` event (printed with its sponsors, height, time)."""
        gateway = self.system.gateway
        while True:
            event = gateway.wait_for("epoch", timeout=self.timeout,
                                     after=self._index_after_seen())
            self.epoch_events_seen += 1
            self.show_epoch(event)
            if predicate(event):
                return event

    def _index_after_seen(self) -> int:
        count = 0
        for index, event in enumerate(self.system.gateway.events):
            if event.get("event") == "epoch":
                count += 1
                if count > self.epoch_events_seen:
                    return index
        return len(self.system.gateway.events)

    def show_epoch(self, event: dict) -> None:
        changes = []
        if event["joined"]:
            changes.append("joined: " + ", ".join(event["joined"]))
        if event["removed"]:
            changes.append("removed: " + ", ".join(event["removed"]))
        if not changes:
            changes.append("key refresh")
        say("epoch %d  %s | sponsors %s (entry signed by %s) | %d members, tree height %d | "
            "%.2f s from request to ledger quorum (%d receipts)" % (
                event["epoch"], "; ".join(changes), ", ".join(event["sponsors"]),
                event["signer"], event["members"], event["height"], event["seconds"],
                event["receipts"]))

    def wait_members_at(self, members: list[str], epoch: int) -> float:
        """Wait until every device in ``members`` logged ``epoch``; return when the last
        one did (seconds since the gateway's event)."""
        for device_id in members:
            self.system.wait_device(
                device_id, "epoch", timeout=self.timeout,
                predicate=lambda e: e["detail"]["epoch"] >= epoch)
        return time.monotonic()

    def command(self, device_id: str, name: str) -> None:
        """The firmware's command file (firmware/app/member.py): ``leave`` / ``refresh``."""
        flash = Path(self.system.device_config(device_id)["flash_dir"])
        (flash / "command").write_text(name)

    # ---------------------------------------------------------------- scenario
    def run(self) -> dict:
        system = self.system
        settings = system.operator_settings()
        self.operator = Operator(rng.random_bytes(32), system.group, settings["ledger_keys"],
                                 settings["threshold"])
        self.operator.connect(settings["host"], settings["port"], settings["username"],
                              settings["password"])
        ids = system.device_ids
        initial, late = ids[:-1], ids[-1]
        say("waiting for %s (founder) to register its identity and offer epoch 0" % ids[0])
        offer = self.operator.wait_offer(timeout=self.timeout)
        say("operator: offer from %s, identity %s...; publishing the genesis entry" % (
            offer.device_id, offer.identity.hex()[:12]))
        self.operator.publish_genesis(self.operator.genesis_entry(offer))
        self.wait_members_at([ids[0]], 0)
        say("group %r founded (epoch 0, 1 member)" % system.group)
        for device_id in initial[1:]:
            did = self.did_of(device_id)
            self.operator.invite(did)
            say("operator: invited %s (%s...)" % (device_id, did[:24]))
        members = list(initial)
        event = self.next_epoch_event(
            lambda e: e["members"] == len(members), "all initial members")
        self.wait_members_at(members, event["epoch"])
        say("group formed: %d members agree on epoch %d" % (len(members), event["epoch"]))

        say("-- provision: %s booted without configuration; the gateway sends it over the "
            "BLE stand-in (docs/provisioning.md)" % late)
        provisioned = self.system.provision_device(late, timeout=self.timeout)
        say("%s provisioned: identity %s (fingerprint and pairing code from its console), "
            "configuration sealed to its session key and acknowledged; it reboots" % (
                late, provisioned["did"][:24]))
        say("-- join: operator invites %s" % late)
        self.operator.invite(provisioned["did"])
        event = self.next_epoch_event(lambda e: late in e["joined"], "join")
        members.append(late)
        self.wait_members_at(members, event["epoch"])

        leaver = ids[2]
        say("-- leave: %s asks to leave" % leaver)
        self.command(leaver, "leave")
        event = self.next_epoch_event(lambda e: leaver in e["removed"], "leave")
        members.remove(leaver)
        self.wait_members_at(members, event["epoch"])

        refresher = ids[4]
        say("-- refresh: %s rotates its leaf secret" % refresher)
        self.command(refresher, "refresh")
        event = self.next_epoch_event(lambda e: not e["joined"] and not e["removed"],
                                      "refresh")
        self.wait_members_at(members, event["epoch"])
        final_epoch = event["epoch"]

        say("-- encrypted readings in epoch %d" % final_epoch)
        readings = self.wait_readings(members, final_epoch)
        return self.summary(members, final_epoch, readings, leaver)

    def wait_readings(self, members: list[str], epoch: int) -> dict:
        """Every member reads a reading of at least one other member in ``epoch``."""
        counts = {}
        for device_id in members:
            def from_another(event, me=device_id):
                detail = event.get("detail")
                return isinstance(detail, dict) and detail.get("epoch", epoch) >= epoch and (
                    detail.get("from") != me)

            event = self.system.wait_device(device_id, "reading", timeout=self.timeout,
                                            predicate=from_another)
            counts[device_id] = len(self.system.device(device_id).named("reading"))
            detail = event["detail"]
            if device_id == members[0]:
                say("%s read %s" % (device_id, json.dumps(detail)))
        say("every member decrypted readings of the others (%d readings in total)"
            % sum(counts.values()))
        return counts

    def summary(self, members, epoch, readings, leaver) -> dict:
        keys = {}
        for device_id in members:
            last = self.system.device(device_id).named("epoch")[-1]["detail"]
            keys[device_id] = (last["epoch"], last.get("key"), last.get("tree"))
        all_agree = len(set(keys.values())) == 1 and next(iter(keys.values()))[0] == epoch
        say("members' epoch key fingerprints: %s" % ", ".join(
            "%s=%s" % (device_id, value[1]) for device_id, value in keys.items()))
        leaver_events = self.system.device(leaver).named("epoch")
        leaver_epoch = leaver_events[-1]["detail"]["epoch"] if leaver_events else None
        say("%s (left) stays at epoch %s: it cannot read epoch %d" % (leaver, leaver_epoch,
                                                                      epoch))
        ledger_verified = verify_ledgers(self.system)
        return {"devices": len(self.system.device_ids), "epochs": epoch + 1,
                "all_agree": all_agree and (leaver_epoch is None or leaver_epoch < epoch),
                "ledger_verified": ledger_verified,
                "seconds": round(time.monotonic() - STARTED, 1),
                "members": len(members), "readings": sum(readings.values())}


def verify_ledgers(system: LocalSystem) -> bool:
    """Every node holds the same group log head, and ``python -m ledger_node verify``
    passes on every node's database."""
    heads = set()
    for url in system.ledger_urls():
        address = url + "/v1/groups/" + system.group.encode().hex()
        with urllib.request.urlopen(address, timeout=10) as response:  # noqa: S310
            state = json.loads(response.read())
        heads.add((state.get("epoch"), state.get("head") or state.get("head_hash")))
    say("ledger nodes' group heads: %s" % sorted("epoch %s %s..." % (e, str(h)[:12])
                                                 for e, h in heads))
    ok = len(heads) == 1
    for node in system.nodes:
        result = subprocess.run([sys.executable, "-m", "ledger_node", "verify", "--config",
                                 str(node.config)], check=False, capture_output=True,
                                text=True,
                                cwd=str(REPO), timeout=120)
        say("ledger_node verify %s: %s" % (node.name, "ok" if result.returncode == 0
                                            else "FAILED " + result.stderr[-200:]))
        ok = ok and result.returncode == 0
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--heap", default=DEFAULT_DEVICE_HEAP)
    parser.add_argument("--keep", help="directory for logs and state (default: a tmp dir)")
    parser.add_argument("--timeout", type=float, default=240.0, help="per step, seconds")
    arguments = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda number, frame: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    directory = Path(arguments.keep) if arguments.keep else Path(
        tempfile.mkdtemp(prefix="groupkey-demo-"))
    say("starting Mosquitto, 3 ledger nodes (t=2), the gateway and %d emulated devices "
        "(MicroPython, heap %s) under %s" % (arguments.devices, arguments.heap, directory))
    system = LocalSystem(directory, devices=arguments.devices, group="demo",
                         heap=arguments.heap,
                         device_options={"retry_s": 2, "reading_s": 2},
                         gateway_options={"batch_window_ms": 300, "presence_grace_s": 60},
                         provision=("dev-%02d" % arguments.devices,))
    try:
        with system:
            say("all processes up (broker port %d, ledger %s)" % (
                system.broker_port, ", ".join(system.ledger_urls())))
            demo = Demo(system, arguments.timeout)
            try:
                result = demo.run()
            finally:
                if demo.operator is not None:
                    demo.operator.close()
        say("every process stopped")
    except KeyboardInterrupt:
        say("interrupted: every process stopped")
        return 130
    except Exception as exc:
        say("demo failed: %s: %s (logs under %s)" % (type(exc).__name__, exc, directory))
        return 1
    print(json.dumps(result), flush=True)
    return 0 if result["all_agree"] and result["ledger_verified"] else 1


if __name__ == "__main__":
    sys.exit(main())
