"""Placeholder member: runtime-only tests (config ``"member": "placeholder"``).

Kept so the runtime (boot, presence, will, resume, factory reset) can be tested at
``-X heapsize=96K`` from source without the group member's modules; app/member.py is the
real member. It holds no key at all: its "identity" is a random label, so nothing secret
is ever fingerprinted.

The runtime calls, in this order:

    member = PlaceholderMember(config, device_id, store, log)
    member.start(random_bytes)          # after network_up(): the entropy gate is open
    member.subscriptions()              # [(topic_filter, qos)], subscribed on every connect
    await member.on_connected(client)   # each (re)connect: e.g. ask the gateway to catch up
    await member.handle(client, topic, payload)   # every inbound message, in order
    member.summary()                    # small dict for the heartbeat (epoch, ...)

The real member (issue 5 integration) keeps this shape: it loads or creates the Ed25519
identity, registers it through the gateway, joins the group, verifies and applies each epoch
and commits its state through ``store`` (firmware/durable.py) before acknowledging it.
This placeholder keeps a random label and a boot counter in durable state, so the
boot, reset and resume paths are exercised now.
"""

import json

from app import topics
from app.logger import fingerprint


class PlaceholderMember:
    """Stands in for the TGDH member; see the module docstring."""

    def __init__(self, config, device_id, store, log):
        self.group_id = config["group_id"]
        self.device_id = device_id
        self.store = store
        self.log = log
        self.state = None
        self.received = 0

    def start(self, random_bytes):
        """Load the durable state, or create an identity on first boot."""
        payload = self.store.load()
        if self.store.rejected:
            self.log("state_rejected", {"slots": self.store.rejected})
        if payload is None:
            label = random_bytes(16)  # a name, not a key
            self.state = {"label": _hex(label), "epoch": 0, "boots": 0}
            self.log("identity_created", {"fingerprint": fingerprint(label)})
        else:
            self.state = json.loads(payload)
        self.state["boots"] += 1
        sequence = self.store.save(json.dumps(self.state).encode())
        self.log("state_loaded", {"boots": self.state["boots"], "epoch": self.state["epoch"],
                                  "sequence": sequence, "identity": self.identity_fingerprint()})

    def identity_fingerprint(self):
        """Fingerprint of the random label (the placeholder has no key)."""
        return fingerprint(_unhex(self.state["label"]))

    def subscriptions(self):
        """Topic filters this member needs."""
        return [(topics.response(self.group_id, self.device_id), 1),
                (topics.epoch(self.group_id), 1),
                (topics.all_messages(self.group_id), 0)]

    async def on_connected(self, client):
        """Called after every (re)connect; the real member asks for missed epochs here."""

    async def handle(self, client, topic, payload):
        """One inbound message; the placeholder only counts and logs it."""
        self.received += 1
        self.log("message", {"topic": topic, "length": len(payload)})

    def summary(self):
        """What the heartbeat reports."""
        return {"epoch": self.state["epoch"], "boots": self.state["boots"]}


def _hex(data):
    import binascii

    return binascii.hexlify(data).decode()


def _unhex(text):
    import binascii

    return binascii.unhexlify(text)
