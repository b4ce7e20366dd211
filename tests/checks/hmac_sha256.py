"""HMAC-SHA256 vector check (tests/vectors/hmac_sha256_rfc4231.json).

Input: {"key": <hex>, "data": <hex>, "truncate": optional byte count}. Output: {"mac": <hex>}.
One implementation serves every interpreter (built on hashlib.sha256), hence BACKENDS.
"""

BACKENDS = ("pure",)


def compute(inputs):
    from groupkey.crypto.hkdf import hmac_sha256

    mac = hmac_sha256(bytes.fromhex(inputs["key"]), bytes.fromhex(inputs["data"]))
    if "truncate" in inputs:
        mac = mac[:inputs["truncate"]]
    return {"mac": mac.hex()}
