"""Vector check: receipts and the t-of-n bundle verifier a device runs (groupkey.ledger)."""

from binascii import hexlify, unhexlify


def compute(inputs):
    from groupkey.ledger import entry, receipt
    from groupkey.ledger.errors import LedgerError

    try:
        decoded = entry.decode(unhexlify(inputs["entry"]))
        bundle = receipt.decode_bundle(unhexlify(inputs["bundle"]))
        nodes = receipt.verify_bundle(decoded.entry_hash(), bundle,
                                      [unhexlify(key) for key in inputs["node_keys"]],
                                      inputs["threshold"])
        return {"nodes": [hexlify(key).decode() for key in nodes],
                "log_id": hexlify(decoded.log_id).decode(), "sequence": decoded.sequence}
    except LedgerError as exc:
        return {"error": type(exc).__name__}
