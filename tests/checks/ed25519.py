"""Ed25519 vector check (tests/vectors/ed25519_rfc8032.json), for CPython and MicroPython.

operation "sign":   inputs seed, message (hex) -> {"public_key", "signature", "verify"}
operation "verify": inputs public_key, message, signature (hex) -> {"verify"}

Values are hex strings; a failure is the name of the CryptoError raised; a successful verify
is "ok". Every entry point (module functions, SigningKey / VerifyingKey, the *_steps
generators, is_valid) is exercised; if any of them disagrees with the others the result
gains a "disagreement" key, so the vector fails.
"""

from binascii import hexlify, unhexlify

from groupkey.crypto import ed25519

from . import error_name


def _hex(value):
    return hexlify(value).decode()


def _outcome(fn, *args):
    result = error_name(fn, *args)
    if "error" in result:
        return result["error"]
    value = result["value"]
    if value is None:
        return "ok"
    return _hex(value)


def _drive(steps):
    """Run a *_steps generator to its end; return its value and the number of yields."""
    count = 0
    try:
        while True:
            next(steps)
            count += 1
    except StopIteration as stop:
        return stop.value, count


def _sign_with_key(seed, message):
    return ed25519.SigningKey(seed).sign(message)


def _sign_by_steps(seed, message):
    return _drive(ed25519.sign_steps(seed, message))[0]


def _verify_with_key(public_key, message, signature):
    return ed25519.VerifyingKey(public_key).verify(message, signature)


def _verify_by_steps(public_key, message, signature):
    return _drive(ed25519.verify_steps(public_key, message, signature))[0]


def _compute_sign(inputs):
    seed = unhexlify(inputs["seed"])
    message = unhexlify(inputs["message"])
    result = {
        "public_key": _outcome(ed25519.public_key, seed),
        "signature": _outcome(ed25519.sign, seed, message),
    }
    others = [
        ("SigningKey.sign", _outcome(_sign_with_key, seed, message)),
        ("sign_steps", _outcome(_sign_by_steps, seed, message)),
    ]
    for label, outcome in others:
        if outcome != result["signature"]:
            result["disagreement"] = "%s gave %s" % (label, outcome)
    if len(result["signature"]) == 128:
        public = unhexlify(result["public_key"])
        result["verify"] = _verify_all(public, message, unhexlify(result["signature"]), result)
    return result


def _verify_all(public_key, message, signature, result):
    outcome = _outcome(ed25519.verify, public_key, message, signature)
    others = [
        ("VerifyingKey.verify", _outcome(_verify_with_key, public_key, message, signature)),
        ("verify_steps", _outcome(_verify_by_steps, public_key, message, signature)),
    ]
    for label, other in others:
        if other != outcome:
            result["disagreement"] = "%s gave %s" % (label, other)
    if ed25519.is_valid(public_key, message, signature) != (outcome == "ok"):
        result["disagreement"] = "is_valid disagrees with verify"
    return outcome


def compute(inputs):
    """Run one vector; see the module docstring for the result layout."""
    if inputs["operation"] == "sign":
        return _compute_sign(inputs)
    result = {}
    result["verify"] = _verify_all(
        unhexlify(inputs["public_key"]),
        unhexlify(inputs["message"]),
        unhexlify(inputs["signature"]),
        result,
    )
    return result
