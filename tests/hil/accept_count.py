"""MicroPython: accept N EPOCH messages (app.accept's checks + Member.handle) for the
difference method (docs/firmware.md, "Member instruction counts")::

    MICROPYPATH=build/mpy:.frozen micropython -X heapsize=320K tests/hil/accept_count.py \
        N [all|receipts] [accept_count.json]

The data comes from tests/hil/accept_count_data.py (CPython).
"""

import binascii
import json
import sys

from app import accept

from groupkey.tgdh.member import Member
from groupkey.tgdh.messages import MemberUpdate


def main():
    count = int(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "all"
    with open(sys.argv[3] if len(sys.argv) > 3 else "accept_count.json") as handle:
        data = json.load(handle)
    unhex = binascii.unhexlify
    config = {"group_id": "g1", "ledger_keys": data["keys"], "ledger_threshold": 2}
    state, seed = unhex(data["state"]), unhex(data["seed"])
    raw, bundle = unhex(data["entry"]), unhex(data["bundle"])
    update, head = unhex(data["update"]), unhex(data["head"])
    for _ in range(count):
        member = Member.import_state(state, seed)
        entry = accept.decode_entry(raw)
        accept.check_receipts(entry.entry_hash(), bundle, config)
        if mode == "receipts":
            continue
        body = accept.check_transition(entry, config, member.epoch, head)
        accept.check_tgdh_matches(body, MemberUpdate.decode(update).transition)
        member.handle(update)
    print("accepted", count)


main()
