"""MicroPython: check one receipt bundle N times, for the difference method
(docs/firmware.md, "Ledger node verifiers")::

    MICROPYPATH=build/mpy:.frozen micropython -X heapsize=384K tests/hil/receipt_count.py \
        N [one_off|cached] accept_count.json

``one_off``: each checkpoint signature through ``ed25519.verify`` (a new VerifyingKey every
time, as before the cache); ``cached``: through ``receipt.TrustedNodes`` warmed before the
loop (decoded point and 2^128 table built), as a device after its first epochs. The inclusion
proofs are checked in both. Data: tests/hil/accept_count_data.py.
"""

import binascii
import json
import sys

from groupkey.ledger import entry as entries
from groupkey.ledger import receipt


def main():
    count = int(sys.argv[1])
    mode = sys.argv[2]
    with open(sys.argv[3]) as handle:
        data = json.load(handle)
    keys = [binascii.unhexlify(key) for key in data["keys"]]
    entry_hash = entries.decode(binascii.unhexlify(data["entry"])).entry_hash()
    receipts = receipt.decode_bundle(binascii.unhexlify(data["bundle"]))
    nodes = receipt.TrustedNodes(keys)
    if mode == "cached":
        for _ in range(2):
            receipt.verify_bundle(entry_hash, receipts, nodes, 2)
    for _ in range(count):
        receipt.verify_bundle(entry_hash, receipts, nodes if mode == "cached" else keys, 2)
    print("checked", count, mode)


main()
