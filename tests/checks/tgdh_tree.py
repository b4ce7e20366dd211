"""Vector check: TGDH tree arithmetic, tree shapes (height, insertion point, tree hash) and
event staging with the sponsor rule. Runs under CPython and MicroPython."""

BACKENDS = ("pure",)


def _arith(index, other):
    from groupkey.tgdh import tree

    result = {
        "level": tree.level(index),
        "position": tree.position(index),
        "path": tree.path(index),
        "copath": tree.copath(index),
        "left": tree.left(index),
        "right": tree.right(index),
        "common_ancestor": tree.common_ancestor(index, other),
        "in_subtree": tree.is_in_subtree(index, other),
        "after_insert": tree.index_after_insert(other, index),
    }
    if index > 1:
        result["parent"] = tree.parent(index)
        result["sibling"] = tree.sibling(index)
    if other > 1:
        result["after_remove"] = tree.index_after_remove(other, index)
    return result


def _shape(tree_hex, subtree_height):
    from groupkey.tgdh.public_tree import PublicTree

    public_tree = PublicTree.decode(bytes.fromhex(tree_hex))
    return {
        "leaves": public_tree.leaves(),
        "height": public_tree.height(),
        "insertion_point": public_tree.insertion_point(subtree_height),
        "rightmost_leaf": public_tree.rightmost_leaf(1),
        "tree_hash": public_tree.tree_hash().hex(),
    }


def _stage(tree_hex, operations_hex):
    from groupkey.tgdh import codec, events
    from groupkey.tgdh.errors import TGDHError
    from groupkey.tgdh.public_tree import PublicTree

    public_tree = PublicTree.decode(bytes.fromhex(tree_hex))
    reader = codec.Reader(bytes.fromhex(operations_hex))
    operations = []
    while reader.remaining():
        operations.append(events.Operation.decode(reader))
    try:
        staged = events.stage(public_tree, operations)
    except TGDHError as exc:
        return {"error": type(exc).__name__}
    sponsors = []
    while True:
        sponsor = events.next_sponsor(staged)
        if sponsor is None:
            break
        count = events.span(staged, sponsor)
        sponsors.append([sponsor, count])
        fake = bytes([len(sponsors)]) * 32
        events.apply_contribution(staged, sponsor, [fake] * count)
    return {"leaves": staged.leaves(), "sponsors": sponsors}


def compute(inputs):
    """Dispatch on inputs["op"]: arith, shape or stage."""
    if inputs["op"] == "arith":
        return _arith(inputs["index"], inputs["other"])
    if inputs["op"] == "shape":
        return _shape(inputs["tree"], inputs["subtree_height"])
    return _stage(inputs["tree"], inputs["operations"])
