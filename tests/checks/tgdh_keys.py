"""Vector check: TGDH node keys (both directions of the DH), blinded keys and the epoch key
schedule. Runs under CPython (each backend) and MicroPython."""


def compute(inputs):
    """Derive every key of the schedule from two leaf secrets and a public context."""
    from groupkey.tgdh import keys

    left = bytes.fromhex(inputs["left_secret"])
    right = bytes.fromhex(inputs["right_secret"])
    left_blinded = keys.blinded_key(left)
    right_blinded = keys.blinded_key(right)
    parent = keys.combine(left, right_blinded)
    other_way = keys.combine(right, left_blinded)
    group_id = bytes.fromhex(inputs["group_id"])
    tree_hash = bytes.fromhex(inputs["tree_hash"])
    previous = bytes.fromhex(inputs["previous_epoch_hash"])
    schedule = keys.epoch_keys(parent, group_id, inputs["epoch"], tree_hash, previous)
    transcript = bytes.fromhex(inputs["transcript_digest"])
    return {
        "left_blinded_key": left_blinded.hex(),
        "right_blinded_key": right_blinded.hex(),
        "parent_key": parent.hex(),
        "parent_key_other_way": other_way.hex(),
        "parent_blinded_key": keys.blinded_key(parent).hex(),
        "epoch_secret": schedule.epoch_secret.hex(),
        "traffic_secret": schedule.traffic_secret.hex(),
        "exporter_secret": schedule.exporter_secret.hex(),
        "confirmation": schedule.confirmation(transcript).hex(),
        "export": schedule.export(b"test", b"context", 16).hex(),
        "epoch_hash": keys.epoch_hash(previous, transcript).hex(),
        "genesis_epoch_hash": keys.genesis_epoch_hash(group_id, tree_hash).hex(),
    }
