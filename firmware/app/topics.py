"""The MQTT topic layout (docs/firmware.md, "Topic layout"); the gateway follows it.

Every topic of a group lives under ``gk/<group_id>/``. A device publishes only on topics
ending in its own device id; the broker's ACL (``%u`` patterns) enforces that.
"""

PREFIX = "gk"


def presence(group_id, device_id):
    """Retained online/offline state of a device; its last will sets offline."""
    return "%s/%s/presence/%s" % (PREFIX, group_id, device_id)


def request(group_id, device_id):
    """Device -> gateway: registration, join, leave, sponsor updates, catch-up queries."""
    return "%s/%s/req/%s" % (PREFIX, group_id, device_id)


def response(group_id, device_id):
    """Gateway -> one device: answers, co-path entries and proofs."""
    return "%s/%s/resp/%s" % (PREFIX, group_id, device_id)


def epoch(group_id):
    """Gateway -> all members: each final transition with its ledger receipts (retained)."""
    return "%s/%s/epoch" % (PREFIX, group_id)


def message(group_id, device_id):
    """Group-encrypted application data sent by ``device_id``."""
    return "%s/%s/msg/%s" % (PREFIX, group_id, device_id)


def all_messages(group_id):
    """Filter for every member's application data."""
    return "%s/%s/msg/+" % (PREFIX, group_id)


def all_presence(group_id):
    """Filter for every device's presence (the gateway's subscription)."""
    return "%s/%s/presence/+" % (PREFIX, group_id)


def admin(group_id, name):
    """Operator <-> gateway (docs/e2e.md): ``offer`` (gateway -> operator), ``entry`` and
    ``invite`` (operator -> gateway). Devices can neither read nor write these."""
    return "%s/%s/admin/%s" % (PREFIX, group_id, name)


def device_of(topic):
    """The device id at the end of a per-device topic (presence, req, resp, msg)."""
    return topic.rsplit("/", 1)[-1]
