"""Vector check: every TGDH wire structure decodes to the expected fields and re-encodes to
the same bytes. Runs under CPython and MicroPython."""

BACKENDS = ("pure",)


def _entries(entries):
    return [[node, entries[node][0] is not None, entries[node][1] is not None]
            for node in sorted(entries)]


def compute(inputs):
    """Decode inputs["hex"] as inputs["kind"] and summarise it."""
    from hashlib import sha256

    from groupkey.tgdh import messages, transition
    from groupkey.tgdh.errors import TGDHError
    from groupkey.tgdh.member import Member
    from groupkey.tgdh.public_tree import PublicTree
    from groupkey.tgdh.state import PublicGroupState

    data = bytes.fromhex(inputs["hex"])
    kind = inputs["kind"]
    try:
        if kind == "transition":
            parsed = transition.decode(data)
            return {
                "epoch": parsed.epoch,
                "group_id": parsed.group_id.hex(),
                "operations": [[op.kind, op.node] for op in parsed.operations],
                "contributions": [[c.sponsor, len(c.blinded_keys), c.final]
                                  for c in parsed.contributions],
                "tree_hash": parsed.final().tree_hash.hex(),
            }
        if kind == "welcome":
            welcome = messages.Welcome.decode(data)
            return {"leaf": welcome.leaf, "identities": len(welcome.identities),
                    "entries": _entries(welcome.entries),
                    "same": welcome.encode() == data}
        if kind == "member_update":
            update = messages.MemberUpdate.decode(data)
            return {"transition": sha256(update.transition).digest().hex(),
                    "identities": len(update.identities), "entries": _entries(update.entries),
                    "same": update.encode() == data}
        if kind == "sponsor_request":
            request = messages.SponsorRequest.decode(data)
            return {"leaf": request.leaf, "final": request.final,
                    "entries": _entries(request.entries), "same": request.encode() == data}
        if kind == "node_list":
            entries = messages.decode_node_list(data)
            return {"entries": _entries(entries),
                    "same": messages.encode_node_list(entries) == data}
        if kind == "public_tree":
            public_tree = PublicTree.decode(data)
            return {"leaves": public_tree.leaves(), "tree_hash": public_tree.tree_hash().hex(),
                    "same": public_tree.encode() == data}
        if kind == "public_state":
            state = PublicGroupState.decode(data)
            return {"epoch": state.epoch, "tree_hash": state.tree_hash().hex(),
                    "same": state.encode() == data}
        member = Member.import_state(data)
        return {"epoch": member.epoch, "leaf": member.leaf, "tree_hash": member.tree_hash.hex(),
                "full": member.public is not None, "same": member.export_state() == data}
    except TGDHError as exc:
        return {"error": type(exc).__name__}
