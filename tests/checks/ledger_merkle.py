"""Vector check: RFC 9162 Merkle hashing and proof verification (groupkey.ledger.merkle)."""

from binascii import hexlify, unhexlify

BACKENDS = ("pure",)


def _hex(value):
    return hexlify(value).decode()


def compute(inputs):
    from groupkey.ledger import merkle
    from groupkey.ledger.errors import LedgerError

    operation = inputs["op"]
    try:
        if operation == "root":
            hashes = [merkle.leaf_hash(unhexlify(leaf)) for leaf in inputs["leaves"]]
            while len(hashes) > 1:
                # Reference fold: RFC 9162 MTH over a list via repeated largest-power split.
                hashes = [_mth(hashes)]
            root = hashes[0] if hashes else merkle.empty_root()
            return {"root": _hex(root)}
        path = [unhexlify(value) for value in inputs["path"]]
        if operation == "inclusion":
            root = merkle.root_from_inclusion(unhexlify(inputs["leaf_hash"]), inputs["index"],
                                              inputs["size"], path)
            merkle.verify_inclusion(unhexlify(inputs["leaf_hash"]), inputs["index"],
                                    inputs["size"], path, unhexlify(inputs["root"]))
            return {"root": _hex(root)}
        if operation == "consistency":
            merkle.verify_consistency(inputs["old_size"], inputs["new_size"],
                                      unhexlify(inputs["old_root"]),
                                      unhexlify(inputs["new_root"]), path)
            return {"ok": True}
    except LedgerError as exc:
        return {"error": type(exc).__name__}
    raise ValueError("unknown op")


def _mth(hashes):
    from groupkey.ledger.merkle import node_hash

    if len(hashes) == 1:
        return hashes[0]
    split = 1
    while split * 2 < len(hashes):
        split *= 2
    return node_hash(_mth(hashes[:split]), _mth(hashes[split:]))
