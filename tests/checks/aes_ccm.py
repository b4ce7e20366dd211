"""AES-CCM vector check (tests/vectors/aes_ccm_*.json); runs under CPython and MicroPython.

Input fields (hex strings; spaces allowed): key, nonce, aad, plaintext or ciphertext, and
tag_length (int). ``operation`` is "encrypt" (default) or "decrypt".

- encrypt: returns {"ciphertext": hex(ciphertext || tag)}. It also decrypts that output and
  adds {"round_trip": false} when the plaintext does not come back, so every encrypt vector is
  a decrypt vector too.
- decrypt: returns {"plaintext": hex}.
- Any CryptoError becomes {"error": <class name>}.

Optional inputs: ``aad_repeat`` / ``plaintext_repeat`` (the hex value repeated that many
times, for SP 800-38C example 4 and length-limit vectors) and ``flip``:
{"field": "ciphertext"|"aad"|"nonce"|"key", "byte": index (negative counts from the end),
"mask": int} XORs one byte before the call (tamper vectors).
"""


def unhex(text):
    """bytes from a hex string that may contain spaces."""
    return bytes.fromhex("".join(text.split()))


def _field(inputs, name):
    value = unhex(inputs.get(name, ""))
    repeat = inputs.get(name + "_repeat")
    if repeat:
        value = value * repeat
    return value


def _flip(value, flip):
    changed = bytearray(value)
    changed[flip["byte"]] ^= flip["mask"]
    return bytes(changed)


def compute(inputs):
    """Run one vector; see the module docstring for the result shape."""
    from groupkey.crypto import aes_ccm
    from groupkey.crypto.errors import CryptoError

    operation = inputs.get("operation", "encrypt")
    fields = {}
    for name in ("key", "nonce", "aad", "plaintext", "ciphertext"):
        fields[name] = _field(inputs, name)
    flip = inputs.get("flip")
    if flip:
        fields[flip["field"]] = _flip(fields[flip["field"]], flip)
    tag_length = inputs.get("tag_length", 16)
    key = fields["key"]
    nonce = fields["nonce"]
    aad = fields["aad"]
    try:
        if operation == "encrypt":
            plaintext = fields["plaintext"]
            fields = None  # free the copies before the call (MicroPython heap)
            ciphertext = aes_ccm.encrypt(key, nonce, plaintext, aad, tag_length)
            result = {"ciphertext": ciphertext.hex()}
            if aes_ccm.decrypt(key, nonce, ciphertext, aad, tag_length) != plaintext:
                result["round_trip"] = False
            return result
        if operation == "decrypt":
            ciphertext = fields["ciphertext"]
            fields = None
            plaintext = aes_ccm.decrypt(key, nonce, ciphertext, aad, tag_length)
            return {"plaintext": plaintext.hex()}
    except CryptoError as exc:
        return {"error": type(exc).__name__}
    return {"unknown_operation": operation}
