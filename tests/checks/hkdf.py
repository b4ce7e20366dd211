"""HKDF-SHA256 vector check (tests/vectors/hkdf_rfc5869.json).

Input: {"ikm", "salt", "info": <hex>, "length": L} or {"prk", "info": <hex>, "length": L}.
Output: {"prk": <hex>} when extracting, and {"okm": <hex>} from hkdf_expand, or
{"okm_error": <error class name>} when expand refuses. With ikm given, the one-call
``hkdf()`` must agree with extract-then-expand (a disagreement adds a key, failing the check).
"""

BACKENDS = ("pure",)


def compute(inputs):
    from groupkey.crypto.hkdf import hkdf, hkdf_expand, hkdf_extract

    from . import error_name

    result = {}
    info = bytes.fromhex(inputs["info"])
    length = inputs["length"]
    if "ikm" in inputs:
        ikm = bytes.fromhex(inputs["ikm"])
        salt = bytes.fromhex(inputs["salt"])
        prk = hkdf_extract(salt, ikm)
        result["prk"] = prk.hex()
        combined = error_name(hkdf, ikm, salt, info, length)
    else:
        prk = bytes.fromhex(inputs["prk"])
        combined = None
    expanded = error_name(hkdf_expand, prk, info, length)
    if "value" in expanded:
        result["okm"] = expanded["value"].hex()
    else:
        result["okm_error"] = expanded["error"]
    if combined is not None and combined != expanded:
        result["hkdf_differs_from_extract_then_expand"] = True
    return result
