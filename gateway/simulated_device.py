"""A device simulated in CPython with the shared protocol code, for gateway tests and tools.

It speaks to the gateway exactly as the firmware does (docs/e2e.md): the same relay messages
(groupkey.relay), the same TGDH member (groupkey.tgdh.Member, light), the same ledger
receipt checks (groupkey.ledger.receipt.verify_bundle) over a real MQTT connection (paho)
with the device's own credentials and last will. It is not a mock: every byte the gateway
sees is produced by the code a device runs, only the interpreter differs.

    device = SimulatedDevice("dev-01", "g1", password, port, ledger_keys, threshold)
    device.connect(); device.register(); device.found()      # or device.join() once invited
    device.wait_epoch(3); device.member.epoch_secret
"""

from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt

from groupkey import relay
from groupkey.crypto import ed25519, rng
from groupkey.ledger import entry as entries
from groupkey.ledger import events as ledger_events
from groupkey.ledger.receipt import decode_bundle, verify_bundle
from groupkey.tgdh import keys, sponsor
from groupkey.tgdh.member import Member
from groupkey.tgdh.messages import SponsorRequest


class DeviceError(Exception):
    """The device did not reach the expected state in time (message has its last errors)."""


class SimulatedDevice:
    """One device: identity, light TGDH member, MQTT session."""

    def __init__(self, device_id: str, group: str, password: str, port: int,
                 ledger_keys, threshold: int, host: str = "127.0.0.1", seed: bytes | None = None):
        self.device_id = device_id
        self.group = group
        self.group_id = group.encode()
        self.password = password
        self.host, self.port = host, port
        self.ledger_keys = list(ledger_keys)
        self.threshold = threshold
        self.seed = seed or rng.random_bytes(32)
        self.identity = ed25519.public_key(self.seed)
        self.member: Member | None = None
        self.pending_secret: bytes | None = None
        self.head = entries.ZERO_HASH
        self.registered = False
        self.errors: list[tuple[int, str]] = []
        self.leaf_proofs: list = []
        self.log: list[str] = []
        self.condition = threading.Condition()
        self.client: mqtt.Client | None = None
        self.answer_sponsor = True
        self.final_epoch = -1
        self.ignore_updates = False  # tests: miss EPOCH messages (then catch up)
        self.ignore_welcome = False  # tests: lose the WELCOME of the join

    # ------------------------------------------------------------------ MQTT
    def topic(self, kind: str) -> str:
        return "gk/%s/%s/%s" % (self.group, kind, self.device_id)

    def connect(self, timeout: float = 10.0) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.device_id,
                             clean_session=True)
        client.username_pw_set(self.device_id, self.password)
        client.will_set(self.topic("presence"), b'{"online":false}', qos=1, retain=True)
        connected = threading.Event()

        def on_connect(client, userdata, flags, reason_code, properties=None):
            if reason_code.is_failure:
                return
            client.subscribe(self.topic("resp"), qos=1)
            client.subscribe("gk/%s/epoch" % self.group, qos=1)
            client.publish(self.topic("presence"), json.dumps(
                {"online": True, "identity": self.identity.hex()}), qos=1, retain=True)
            connected.set()

        client.on_connect = on_connect
        client.on_message = self._on_message
        client.connect(self.host, self.port, 30)
        client.loop_start()
        self.client = client
        if not connected.wait(timeout):
            raise DeviceError("%s: no connection" % self.device_id)

    def power_off(self) -> None:
        """Drop the TCP connection without DISCONNECT: the broker publishes the last will."""
        if self.client is not None:
            self.client._sock_close()  # noqa: SLF001 (simulates a power loss)
            self.client.loop_stop()
            self.client = None

    def disconnect(self) -> None:
        if self.client is not None:
            self.client.publish(self.topic("presence"), b'{"online":false}', qos=1,
                                retain=True).wait_for_publish(5)
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def send(self, payload: bytes) -> None:
        self.client.publish(self.topic("req"), payload, qos=1)

    def _on_message(self, client, userdata, message):
        payload = bytes(message.payload)
        try:
            self.handle(payload)
        except Exception as exc:  # a device logs, keeps its state, and resynchronizes
            self.note("error %s: %s" % (type(exc).__name__, exc))
            if payload[1:2] == bytes((relay.EPOCH,)) and self.member is not None:
                self.catchup()

    def note(self, text: str) -> None:
        with self.condition:
            self.log.append(text)
            self.condition.notify_all()

    # -------------------------------------------------------------- requests
    def register(self, timeout: float = 20.0) -> None:
        """REGISTER the inception entry; wait for t verified receipts."""
        next_key = ed25519.public_key(rng.random_bytes(32))
        self.send(relay.register(ledger_events.inception(self.seed, next_key)))
        self.wait(lambda: self.registered, timeout, "registered")

    def signed(self, kind: int, blinded_key: bytes = b"") -> bytes:
        signature = ed25519.sign(self.seed, relay.request_message(kind, self.group_id,
                                                                  self.identity, blinded_key))
        return relay.signed_request(kind, self.group_id, self.identity, signature, blinded_key)

    def found(self) -> None:
        """FOUND: offer epoch 0 with this device alone (the operator makes the genesis)."""
        self.pending_member = Member.found(self.group_id, self.identity, self.seed, full=False)
        self.send(self.signed(relay.FOUND, self.pending_member.blinded_key()))

    def join(self) -> None:
        """JOIN with a fresh leaf secret (kept as pending until the welcome)."""
        self.pending_secret = rng.random_bytes(32)
        self.send(self.signed(relay.JOIN, keys.blinded_key(self.pending_secret)))

    def leave(self) -> None:
        self.send(self.signed(relay.LEAVE))

    def refresh(self) -> None:
        self.send(self.signed(relay.REFRESH))

    def catchup(self) -> None:
        self.send(relay.catchup(self.member.epoch if self.member else 0))

    # ---------------------------------------------------------------- inbound
    def _bundle(self, entry: bytes, bundle: bytes):
        decoded = entries.decode(entry)
        verify_bundle(decoded.entry_hash(), decode_bundle(bundle), self.ledger_keys,
                      self.threshold)
        return decoded

    def handle(self, payload: bytes) -> None:
        message = relay.decode(payload)
        kind = message.kind
        if kind == relay.RECEIPTS:
            verify_bundle(message.entry_hash, decode_bundle(message.bundle), self.ledger_keys,
                          self.threshold)
            self.registered = True
            self.note("registered")
        elif kind == relay.GENESIS:
            decoded = self._bundle(message.entry, message.bundle)
            from groupkey.ledger import bodies
            from groupkey.tgdh.state import PublicGroupState

            state = PublicGroupState.decode(bodies.Genesis.decode(decoded.body).public_tree)
            if state.tree_hash() != self.pending_member.tree_hash:
                raise DeviceError("genesis is not my epoch 0")
            self.member, self.head = self.pending_member, decoded.entry_hash()
            self.note("epoch 0")
        elif kind == relay.SPONSOR:
            self._sponsor(message)
        elif kind == relay.SIGN_ENTRY:
            unsigned = entries.decode(message.data + b"\x00" * 64)
            if unsigned.signer != self.identity or unsigned.previous_hash != self.head or (
                    self.member is None or unsigned.sequence != self.member.epoch + 1):
                raise DeviceError("refusing to sign an unexpected entry")
            self.send(relay.signed_entry(message.request_id, entries.sign(unsigned, self.seed)))
        elif kind == relay.EPOCH and self.ignore_updates:
            self.note("ignored an epoch update")
        elif kind == relay.EPOCH:
            decoded = self._bundle(message.entry, message.bundle)
            self._check_entry(decoded)
            self.member.handle(message.data)
            self._committed(decoded)
        elif kind == relay.WELCOME and self.ignore_welcome:
            self.note("ignored a welcome")
        elif kind == relay.WELCOME:
            decoded = self._bundle(message.entry, message.bundle)
            if self.member is not None:  # catch-up: same leaf secret, fresh co-path
                secret = self.member._secret  # noqa: SLF001
            else:
                secret = self.pending_secret
            self.member = Member.from_welcome(message.data, self.identity, secret, self.seed)
            self.pending_secret = None
            self._committed(decoded)
        elif kind == relay.FINAL:
            decoded = entries.decode(message.entry)
            with self.condition:
                self.final_epoch = decoded.sequence
                self.condition.notify_all()
        elif kind == relay.ERROR:
            with self.condition:
                self.errors.append((message.code, message.text.decode(errors="replace")))
                self.condition.notify_all()
        elif kind == relay.LEAF_PROOF:
            with self.condition:
                self.leaf_proofs.append(message)
                self.condition.notify_all()

    def _sponsor(self, message) -> None:
        if not self.answer_sponsor:
            return
        secret = rng.random_bytes(32)
        if self.member is not None:
            data = self.member.contribute_from_parts(message.data, secret)
        else:  # a joiner the rule names: it holds its pending leaf secret only
            request = SponsorRequest.decode(message.data)
            data, _ = sponsor.run_steps(sponsor.contribute_steps(request, self.identity,
                                                                 self.seed, secret))
            self.pending_secret = secret
        self.send(relay.contribution(message.request_id, data))

    def _check_entry(self, decoded) -> None:
        if decoded.log_id != self.group_id or decoded.previous_hash != self.head or (
                decoded.sequence != self.member.epoch + 1):
            raise DeviceError("entry does not follow my last one")

    def _committed(self, decoded) -> None:
        self.head = decoded.entry_hash()
        self.note("epoch %d" % self.member.epoch)

    # ---------------------------------------------------------------- waiting
    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.condition:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DeviceError("%s: not %s within %.0f s; errors %s; log %s" % (
                        self.device_id, what, timeout, self.errors[-3:], self.log[-5:]))
                self.condition.wait(min(remaining, 0.2))

    def wait_epoch(self, epoch: int, timeout: float = 20.0) -> None:
        self.wait(lambda: self.member is not None and self.member.epoch >= epoch, timeout,
                  "at epoch %d" % epoch)

    def wait_error(self, text: str, timeout: float = 10.0) -> None:
        self.wait(lambda: any(text in message for _, message in self.errors), timeout,
                  "refused with %r" % text)
