"""Vector check: did:key for Ed25519 (groupkey.did) both ways."""

from binascii import hexlify, unhexlify

BACKENDS = ("pure",)


def compute(inputs):
    from groupkey import did

    if "public_key" in inputs:
        return {"did": did.did_from_public_key(unhexlify(inputs["public_key"]))}
    try:
        return {"public_key": hexlify(did.public_key_from_did(inputs["did"])).decode()}
    except did.DIDError:
        return {"error": "DIDError"}
