# MicroPython side of tests/test_firmware_state.py.
# usage: micropython durable_writer.py write DIR   commit states 1, 2, 3, ... until killed
#        micropython durable_writer.py read DIR    report the state a reboot would load
# The payload of sequence s is a pure function of s, so a torn or mixed state is visible.
import json
import sys

from durable import DurableState


def payload_for(sequence):
    """Between 1 and 8 KB, its length and content both depend on the sequence number."""
    return (b"%08d" % sequence) * (128 + (sequence * 37) % 896)


mode = sys.argv[1]
store = DurableState(sys.argv[2])
payload = store.load()
if mode == "read":
    print(json.dumps({"event": "state", "sequence": store.sequence,
                      "valid": payload is None or payload == payload_for(store.sequence),
                      "empty": payload is None, "rejected": store.rejected}))
else:
    if payload is not None and payload != payload_for(store.sequence):
        raise SystemExit("loaded a wrong payload")
    while True:
        sequence = store.save(payload_for(store.sequence + 1))
        print(json.dumps({"event": "committed", "sequence": sequence}))
