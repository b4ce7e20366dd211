"""X25519 vector check (tests/vectors/x25519_rfc7748.json), for CPython and MicroPython.

Input kinds, values as hex strings:

{"scalar", "u_coordinate"}        -> {"value": hex} or {"error": name}
{"scalar", "u_coordinate", "steps_per_yield"}
                                  -> the same through x25519_steps / run_to_completion
{"iterate": n, "start": hex}      -> {"value": hex}: RFC 7748 5.2 iteration, k and u start
                                     at ``start``; each round u, k = k, x25519(k, u)
{"alice_private", "bob_private"}  -> {"alice_public", "bob_public", "shared"}: RFC 7748 6.1;
                                     the shared secret must be the same from both sides
"""

from binascii import hexlify, unhexlify

from groupkey.crypto import x25519 as x25519_module

from . import error_name


def _hex(value):
    return unhexlify(value)


def _text(value):
    return hexlify(value).decode()


def _agree(alice_private, bob_private):
    alice_public = x25519_module.public_key(alice_private)
    bob_public = x25519_module.x25519_base(bob_private)
    shared_alice = x25519_module.x25519(alice_private, bob_public)
    shared_bob = x25519_module.x25519(bob_private, alice_public)
    if shared_alice != shared_bob:
        return {"error": "shared secrets differ"}
    return {
        "alice_public": _text(alice_public),
        "bob_public": _text(bob_public),
        "shared": _text(shared_alice),
    }


def _iterate(count, start):
    k = start
    u = start
    for _ in range(count):
        k, u = x25519_module.x25519(k, u), k
    return _text(k)


def _steps(scalar, u_coordinate, steps_per_yield):
    return x25519_module.run_to_completion(
        x25519_module.x25519_steps(scalar, u_coordinate, steps_per_yield)
    )


def compute(inputs):
    """Result dict for one vector's ``input`` (compared with its ``expected``)."""
    if "iterate" in inputs:
        return {"value": _iterate(inputs["iterate"], _hex(inputs["start"]))}
    if "alice_private" in inputs:
        return _agree(_hex(inputs["alice_private"]), _hex(inputs["bob_private"]))
    scalar = _hex(inputs["scalar"])
    u_coordinate = _hex(inputs["u_coordinate"])
    if "steps_per_yield" in inputs:
        result = error_name(_steps, scalar, u_coordinate, inputs["steps_per_yield"])
    else:
        result = error_name(x25519_module.x25519, scalar, u_coordinate)
    if "value" in result:
        result["value"] = _text(result["value"])
    return result
