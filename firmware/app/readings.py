"""The demo application: encrypted sensor readings for every current member.

Every ``reading_s`` seconds a member encrypts ``{"device": id, "temperature": t}`` with
``groupkey.group_message.EpochMessaging`` (the epoch's traffic secret, its own leaf, signed by
its identity) and publishes it on ``gk/<group>/msg/<device>``. Received messages are
decrypted and logged as ``reading``. A light member does not know who sits at other leaves:
it asks the gateway ``WHO(leaf)`` and believes the LEAF_PROOF only when the recomputed tree
hash matches its own (app.accept.check_leaf_proof); verified identities are cached for the
epoch, and up to HELD messages wait for their sender's proof.
"""

import json

from app.logger import fingerprint

HELD = 4
# WHO requests per epoch at most (only authenticated group traffic triggers one; the cap
# bounds the memory and traffic a misbehaving member can cause)
MAX_ASKED = 64


class Readings:
    """Per-epoch messaging state; ``reset`` on every committed epoch."""

    def __init__(self, group_id, device_id, log):
        self.group_id = group_id.encode()
        self.device_id = device_id
        self.log = log
        self.messaging = None
        self.known = {}
        self.asked = {}
        self.held = []
        self.sent = 0
        self.received = 0
        self.failed = 0

    def reset(self, member, signing_seed):
        """A new epoch: new keys, empty sender cache (the old keys are dropped)."""
        from groupkey.group_message import EpochMessaging

        self.known = {member.leaf: member.identity}
        self.asked = {}
        self.held = []
        self.messaging = EpochMessaging(self.group_id, member.epoch, member.traffic_secret,
                                        member.leaf, signing_seed, self.known.get)

    def clear(self):
        """No longer a member: forget the epoch keys."""
        self.messaging = None
        self.known = {}
        self.held = []

    def encrypt(self, temperature):
        """The next reading as group message bytes (None when not a member)."""
        if self.messaging is None:
            return None
        payload = json.dumps({"device": self.device_id, "temperature": temperature})
        message = self.messaging.encrypt(payload.encode())
        self.sent += 1
        return message

    def receive(self, sender_device, message):
        """Decrypt one message; returns a leaf to ask WHO about, or None."""
        from groupkey import group_message

        if self.messaging is None:
            self.failed += 1
            self.log("unreadable", {"from": sender_device, "reason": "not a member"})
            return None
        try:
            leaf, sequence, payload = self.messaging.decrypt(message)
        except group_message.UnknownSender:
            _, leaf, _ = group_message.parse_header(message)
            if len(self.held) < HELD and (sender_device, message) not in self.held:
                self.held.append((sender_device, message))
            if leaf in self.asked or len(self.asked) >= MAX_ASKED:
                return None  # asked already, or enough WHOs this epoch (cleared each epoch)
            self.asked[leaf] = True
            return leaf
        except group_message.GroupMessageError as exc:
            self.failed += 1
            self.log("unreadable", {"from": sender_device, "reason": _reason(exc),
                                    "epoch": self.messaging.epoch})
            return None
        except Exception as exc:  # AuthenticationFailed and other crypto errors
            self.failed += 1
            self.log("unreadable", {"from": sender_device, "reason": repr(exc)})
            return None
        self.received += 1
        try:
            reading = json.loads(payload)
        except ValueError:
            reading = {}
        if not isinstance(reading, dict):  # a member's odd payload must not crash others
            reading = {}
        self.log("reading", {"from": reading.get("device"), "topic_device": sender_device,
                             "leaf": leaf, "sequence": sequence,
                             "epoch": self.messaging.epoch,
                             "temperature": reading.get("temperature"),
                             "sender": fingerprint(self.known[leaf])})
        return None

    def learned(self, leaf, identity):
        """A verified LEAF_PROOF: cache the identity and retry the held messages."""
        self.known[leaf] = identity
        held, self.held = self.held, []
        for sender_device, message in held:
            self.receive(sender_device, message)


def _reason(exc):
    return type(exc).__name__
