"""CPython: data for tests/hil/accept_count.py (docs/firmware.md, "Member instruction counts").

A group of 8 (groupkey.tgdh.simulation), one refresh, the MemberUpdate for a member that did
not sponsor, its signed ledger entry and a 2-of-3 receipt bundle (real Merkle trees and node
signatures), written as JSON: ``python tests/hil/accept_count_data.py accept_count.json``.
"""

import hashlib
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from groupkey.crypto import ed25519  # noqa: E402
from groupkey.ledger import bodies, receipt  # noqa: E402
from groupkey.ledger import entry as entries  # noqa: E402
from groupkey.tgdh import events  # noqa: E402
from groupkey.tgdh.simulation import Simulation  # noqa: E402
from ledger_node.merkle_tree import MerkleTree  # noqa: E402


def main(path):
    generator = random.Random(5)

    def rand(length):
        return bytes(generator.getrandbits(8) for _ in range(length))

    simulation = Simulation(b"g1", rand)
    for _ in range(7):
        simulation.run([simulation.join_operation(simulation.new_identity())])
    state = simulation.state
    sponsor_seed = simulation.members[state.members()[0]].signing_seed
    target_identity = state.members()[5]
    target = simulation.members[target_identity]
    saved = target.export_state()
    data = simulation.build([events.refresh(state.leaf_of(state.members()[0]))])
    new_state = state.apply(data)
    update = new_state.member_update(state, data, target_identity)
    head = b"\x11" * 32
    body = bodies.Transition(3, new_state.tree_hash(), [], [], [], data).encode()
    item = entries.Entry(entries.TRANSITION, b"g1", new_state.epoch, head, body,
                         ed25519.public_key(sponsor_seed))
    raw = entries.sign(item, sponsor_seed)
    node_seeds = [hashlib.sha256(b"node %d" % index).digest() for index in range(3)]
    receipts = []
    for index, seed in enumerate(node_seeds[:2]):
        tree = MerkleTree()
        for filler in range(50 + 10 * index):
            tree.append_entry(b"f%d" % filler)
        leaf = tree.append_entry(raw)
        checkpoint = receipt.Checkpoint(ed25519.public_key(seed), tree.size, tree.root(), 1)
        checkpoint.signature = ed25519.sign(seed, checkpoint.signed_message())
        receipts.append(receipt.Receipt(checkpoint, leaf, tree.inclusion_proof(leaf,
                                                                               tree.size)))
    out = {"state": saved.hex(), "seed": target.signing_seed.hex(), "entry": raw.hex(),
           "bundle": receipt.encode_bundle(receipts).hex(), "update": update.hex(),
           "head": head.hex(), "keys": [ed25519.public_key(s).hex() for s in node_seeds]}
    with open(path, "w") as handle:
        json.dump(out, handle)
    print("epoch", state.epoch, "members", len(state.members()), "update bytes", len(update))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "accept_count.json")
