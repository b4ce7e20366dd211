"""The operator tool: the admin key holder creates the group and admits devices.

Library (the demo and tests call it; docs/e2e.md flows 2 and 3)::

    operator = Operator(admin_seed, group, ledger_keys, threshold)
    operator.connect(host, port, username, password)
    offer = operator.wait_offer(timeout=60)          # a founder's FOUND, signature checked
    operator.publish_genesis(operator.genesis_entry(offer))
    operator.invite(public_key_or_did)              # admin-signed invitation
    operator.close()

CLI::

    python -m gateway.operator keygen --out admin.key
    python -m gateway.operator --config operator.toml genesis [--timeout 120]
    python -m gateway.operator --config operator.toml invite did:key:z6Mk... [...]

operator.toml: ``[mqtt] host, port, username, password``; ``[group] name``; ``[admin]
key_file`` (32-byte Ed25519 seed in hex, mode 0600); ``[ledger] keys`` (hex), ``threshold``.
The admin seed never leaves this process; logs carry fingerprints only.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import tomllib
from pathlib import Path

from groupkey import relay
from groupkey.crypto import ed25519
from groupkey.ledger import entry as entries
from groupkey.ledger import events as ledger_events
from groupkey.tgdh.state import PublicGroupState


class OperatorError(Exception):
    """An offer that does not verify, a bad key or DID, or no offer in time."""


class Offer:
    """A founder's verified offer: device id, identity key, leaf blinded key."""

    def __init__(self, device_id: str, identity: bytes, blinded_key: bytes):
        self.device_id = device_id
        self.identity = identity
        self.blinded_key = blinded_key


def parse_offer(payload: bytes, group_id: bytes) -> Offer:
    """Decode an OFFER and check the founder's FOUND signature (OperatorError if bad)."""
    try:
        message = relay.decode(payload)
        if message.kind != relay.OFFER:
            raise OperatorError("not an offer")
        found = relay.RelayMessage(relay.FOUND, identity=message.identity,
                                   blinded_key=message.blinded_key,
                                   signature=message.signature)
        relay.verify_request(found, group_id)
    except OperatorError:
        raise
    except Exception as exc:
        raise OperatorError("offer rejected: %s" % exc) from None
    return Offer(message.device_id.decode(), message.identity, message.blinded_key)


def genesis_entry(group_id: bytes, admin_seed: bytes, ledger_keys, threshold: int,
                  offer: Offer) -> bytes:
    """Epoch 0: the founder alone; policy: admin-signed invitations; admins: this key."""
    state = PublicGroupState.genesis(group_id, offer.identity, offer.blinded_key)
    admin = ed25519.public_key(admin_seed)
    return ledger_events.genesis(group_id, admin_seed, [admin], list(ledger_keys), threshold,
                                 state.encode(), policy=entries.POLICY_INVITATION)


def member_key(text_or_key) -> bytes:
    """A member's Ed25519 public key from bytes, 64 hex characters or a did:key."""
    if isinstance(text_or_key, (bytes, bytearray)):
        key = bytes(text_or_key)
    elif text_or_key.startswith("did:key:"):
        from groupkey.did import public_key_from_did

        key = public_key_from_did(text_or_key)
    else:
        try:
            key = bytes.fromhex(text_or_key)
        except ValueError:
            raise OperatorError("not a did:key or hex key: %r" % text_or_key) from None
    if len(key) != 32:
        raise OperatorError("a member key is 32 bytes")
    return key


def invitation_bytes(group_id: bytes, admin_seed: bytes, member) -> bytes:
    """The INVITATION body: member 32 | admin 32 | signature 64."""
    invite = ledger_events.invitation(group_id, admin_seed, member_key(member))
    return invite.member + invite.admin + invite.signature


class Operator:
    """An MQTT client on the admin topics of one group (paho, its own thread)."""

    def __init__(self, admin_seed: bytes, group: str, ledger_keys, threshold: int):
        if len(admin_seed) != 32:
            raise OperatorError("the admin seed is 32 bytes")
        self.admin_seed = admin_seed
        self.group = group
        self.group_id = group.encode()
        self.ledger_keys = [bytes(key) for key in ledger_keys]
        self.threshold = threshold
        self.offers: queue.Queue = queue.Queue()
        self.finals: queue.Queue = queue.Queue()
        self.client = None

    def connect(self, host: str, port: int, username: str, password: str,
                timeout: float = 10.0) -> None:
        import threading

        import paho.mqtt.client as mqtt

        connected = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=username or "operator")

        def on_connect(client, userdata, flags, reason_code, properties=None):
            if not reason_code.is_failure:
                client.subscribe("gk/%s/admin/offer" % self.group, qos=1)
                client.subscribe("gk/%s/epoch" % self.group, qos=1)
                connected.set()

        def on_message(client, userdata, message):
            target = self.offers if message.topic.endswith("/offer") else self.finals
            target.put(bytes(message.payload))

        client.on_connect = on_connect
        client.on_message = on_message
        if username:
            client.username_pw_set(username, password)
        client.connect(host, port, 30)
        client.loop_start()
        self.client = client
        if not connected.wait(timeout):
            self.close()
            raise OperatorError("could not connect to the broker at %s:%d" % (host, port))

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def wait_offer(self, timeout: float = 60.0) -> Offer:
        """The next founder offer whose signature verifies."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OperatorError("no valid offer within %.0f s" % timeout)
            try:
                payload = self.offers.get(timeout=remaining)
            except queue.Empty:
                continue
            try:
                return parse_offer(payload, self.group_id)
            except OperatorError as exc:
                print("operator: ignoring offer: %s" % exc, file=sys.stderr)

    def genesis_entry(self, offer: Offer) -> bytes:
        return genesis_entry(self.group_id, self.admin_seed, self.ledger_keys, self.threshold,
                             offer)

    def publish(self, name: str, payload: bytes) -> None:
        info = self.client.publish("gk/%s/admin/%s" % (self.group, name), payload, qos=1)
        info.wait_for_publish(10)

    def publish_genesis(self, entry: bytes) -> None:
        self.publish("entry", relay.admin_entry(entry))

    def invite(self, member) -> bytes:
        """Publish an invitation for ``member`` (key bytes, hex or did:key); returns it."""
        data = invitation_bytes(self.group_id, self.admin_seed, member)
        self.publish("invite", relay.invitation(data))
        return data


def _load(path: str) -> dict:
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.operator",
                                     description="group genesis and invitations")
    parser.add_argument("--config", help="operator TOML file")
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="new admin seed (hex, mode 0600)")
    keygen.add_argument("--out", required=True)
    genesis = commands.add_parser("genesis", help="wait for a founder's offer, found the group")
    genesis.add_argument("--timeout", type=float, default=120.0)
    invite = commands.add_parser("invite", help="invite devices (did:key or hex keys)")
    invite.add_argument("members", nargs="+")
    arguments = parser.parse_args(argv)
    if arguments.command == "keygen":
        from groupkey.crypto import rng

        seed = rng.random_bytes(32)
        path = Path(arguments.out)
        path.write_text(seed.hex() + "\n")
        path.chmod(0o600)
        print(json.dumps({"admin_key": ed25519.public_key(seed).hex()}))
        return 0
    if not arguments.config:
        parser.error("--config is required for %s" % arguments.command)
    config = _load(arguments.config)
    seed = bytes.fromhex(Path(config["admin"]["key_file"]).read_text().strip())
    operator = Operator(seed, config["group"]["name"],
                        [bytes.fromhex(key) for key in config["ledger"]["keys"]],
                        int(config["ledger"]["threshold"]))
    mqtt = config["mqtt"]
    try:
        operator.connect(mqtt.get("host", "127.0.0.1"), int(mqtt.get("port", 1883)),
                         mqtt.get("username", "operator"), mqtt.get("password", ""))
        if arguments.command == "genesis":
            offer = operator.wait_offer(arguments.timeout)
            operator.publish_genesis(operator.genesis_entry(offer))
            print(json.dumps({"genesis": operator.group, "founder": offer.device_id,
                              "identity": offer.identity.hex()}))
        else:
            for member in arguments.members:
                operator.invite(member)
                print(json.dumps({"invited": member_key(member).hex()}))
    except OperatorError as exc:
        print("operator: %s" % exc, file=sys.stderr)
        return 1
    finally:
        operator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
