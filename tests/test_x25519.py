"""X25519 (groupkey.crypto.x25519): differential tests against pycryptodome, the DH agreement
property, negative cases, the yielding variant, and the same code inside MicroPython.

The RFC 7748 known answers live in tests/vectors/x25519_rfc7748.json (tests/test_vectors.py).
pycryptodome is the independent reference: its X25519 is called directly here (through
Crypto.Protocol.DH), never through groupkey's fast path.
"""

from __future__ import annotations

import json
import random

import pytest
from Crypto.Protocol import DH
from hypothesis import given, settings
from hypothesis import strategies as st

from groupkey.crypto import backend, field25519
from groupkey.crypto import x25519 as x25519_module
from groupkey.crypto.errors import InvalidInput, ZeroSharedSecret
from groupkey.crypto.x25519 import (
    BASE_POINT,
    generate_private_key,
    public_key,
    run_to_completion,
    x25519,
    x25519_base,
    x25519_steps,
)

P = 2**255 - 19
ORDER_8_A = 325606250916557431795983626356110631294008115727848805560023387167927233504
ORDER_8_B = 39382357235489614581723060781553021112529911719440698176882885853963445705823
LOW_ORDER = [0, 1, ORDER_8_A, ORDER_8_B, P - 1, P, P + 1]


def encode(value: int) -> bytes:
    return value.to_bytes(32, "little")


def reference(scalar: bytes, u_coordinate: bytes) -> bytes:
    """X25519 by pycryptodome's public DH API (independent of groupkey)."""
    peer = DH.import_x25519_public_key(u_coordinate)
    private = DH.import_x25519_private_key(scalar)
    return bytes(DH.key_agreement(static_priv=private, static_pub=peer, kdf=bytes))


def random_cases(seed: int, count: int) -> list[tuple[bytes, bytes]]:
    generator = random.Random(seed)
    return [(generator.randbytes(32), generator.randbytes(32)) for _ in range(count)]


@pytest.fixture
def pure():
    previous = backend.current()
    backend.use("pure")
    yield
    backend.use(previous)


def test_random_differential_pure_path_against_pycryptodome(pure):
    cases = random_cases(7748, 220)
    for scalar, u_coordinate in cases:
        assert x25519(scalar, u_coordinate) == reference(scalar, u_coordinate)


def test_random_public_keys_pure_path_against_pycryptodome(pure):
    for scalar, _ in random_cases(25519, 40):
        expected = DH.import_x25519_private_key(scalar).public_key().export_key(format="raw")
        assert x25519_base(scalar) == expected
        assert public_key(scalar) == expected


def test_fast_path_gives_the_same_bytes_as_the_pure_path(crypto_backend):
    for scalar, u_coordinate in random_cases(1, 30):
        assert x25519(scalar, u_coordinate) == reference(scalar, u_coordinate)
        assert x25519_base(scalar) == x25519(scalar, BASE_POINT)


@settings(max_examples=25, deadline=None)
@given(alice=st.binary(min_size=32, max_size=32), bob=st.binary(min_size=32, max_size=32))
def test_diffie_hellman_agreement(alice, bob):
    previous = backend.current()
    results = []
    for name in backend.available():
        backend.use(name)
        try:
            shared_alice = x25519(alice, public_key(bob))
            shared_bob = x25519(bob, public_key(alice))
        finally:
            backend.use(previous)
        assert shared_alice == shared_bob
        assert len(shared_alice) == 32
        results.append(shared_alice)
    assert len(set(results)) == 1  # every backend agrees


def test_scalar_clamping_ignores_the_clamped_bits(pure):
    generator = random.Random(3)
    for _ in range(5):
        scalar = bytearray(generator.randbytes(32))
        u_coordinate = generator.randbytes(32)
        expected = x25519(bytes(scalar), u_coordinate)
        scalar[0] ^= 0x07  # bits 0-2 are cleared by clamping
        scalar[31] ^= 0xC0  # bit 255 cleared, bit 254 set
        assert x25519(bytes(scalar), u_coordinate) == expected


def test_u_top_bit_is_masked_and_non_canonical_u_is_reduced(crypto_backend):
    generator = random.Random(4)
    for _ in range(5):
        scalar = generator.randbytes(32)
        u_value = generator.randrange(2, P)
        expected = x25519(scalar, encode(u_value))
        assert x25519(scalar, encode(u_value | 1 << 255)) == expected
    for small in range(2, 19):  # p + small < 2**255: the only non-canonical encodings
        scalar = generator.randbytes(32)
        assert x25519(scalar, encode(P + small)) == x25519(scalar, encode(small))


@pytest.mark.parametrize("u_value", LOW_ORDER, ids=lambda value: str(value)[:12])
def test_low_order_points_raise_zero_shared_secret(crypto_backend, u_value):
    scalar = bytes(range(32))
    with pytest.raises(ZeroSharedSecret):
        x25519(scalar, encode(u_value))
    with pytest.raises(ZeroSharedSecret):
        x25519(scalar, encode(u_value | 1 << 255) if u_value < 2**255 else encode(u_value))


@pytest.mark.parametrize(
    "bad",
    [b"", b"\x01" * 31, b"\x01" * 33, "a" * 32, list(range(32)), None, 9, memoryview(b"\x01" * 32)],
    ids=["empty", "31", "33", "str", "list", "None", "int", "memoryview"],
)
def test_wrong_inputs_raise_invalid_input(crypto_backend, bad):
    good = bytes(range(1, 33))
    with pytest.raises(InvalidInput):
        x25519(bad, good)
    with pytest.raises(InvalidInput):
        x25519(good, bad)
    with pytest.raises(InvalidInput):
        x25519_base(bad)
    with pytest.raises(InvalidInput):
        run_to_completion(x25519_steps(bad, good))


def test_bytearray_inputs_are_accepted(crypto_backend):
    scalar, u_coordinate = random_cases(5, 1)[0]
    assert x25519(bytearray(scalar), bytearray(u_coordinate)) == reference(scalar, u_coordinate)


@pytest.mark.parametrize("steps_per_yield", [1, 7, 16, 251, 252, 1000])
def test_steps_generator_matches_x25519(pure, steps_per_yield):
    scalar, u_coordinate = random_cases(steps_per_yield, 1)[0]
    generator = x25519_steps(scalar, u_coordinate, steps_per_yield)
    yields = 0
    try:
        while True:
            assert next(generator) is None
            yields += 1
    except StopIteration as stop:
        result = stop.value
    assert result == x25519(scalar, u_coordinate) == reference(scalar, u_coordinate)
    # one per chunk of the 252 scalar-dependent steps (the inversion runs after the last)
    assert yields == -(-252 // steps_per_yield)


def test_steps_generator_works_with_yield_from_and_pause():
    scalar, u_coordinate = random_cases(11, 1)[0]
    pauses = []

    def pause():
        pauses.append(1)
        yield "paused"

    def protocol_step():
        shared = yield from x25519_steps(scalar, u_coordinate, 32, pause=pause)
        return shared[:4]

    driver = protocol_step()
    seen = []
    try:
        while True:
            seen.append(next(driver))
    except StopIteration as stop:
        assert stop.value == reference(scalar, u_coordinate)[:4]
    assert seen == ["paused"] * 8 and len(pauses) == 8


@pytest.mark.parametrize("steps_per_yield", [0, -1, 1.5, None])
def test_steps_generator_rejects_bad_step_counts(steps_per_yield):
    with pytest.raises(InvalidInput):
        run_to_completion(x25519_steps(bytes(32), BASE_POINT, steps_per_yield))


def test_ladder_state_stays_reduced(pure):
    """The fold analysis in _ladder: the state never grows past 2**256, for random and for
    extreme inputs (u = 2**255 - 1, all-ones scalar), and for the u = 9 shortcut."""
    cases = random_cases(99, 20) + [(b"\xff" * 32, b"\xff" * 32), (b"\xff" * 32, BASE_POINT)]
    for scalar, u_coordinate in cases:
        state, x_1, selectors = x25519_module._start(scalar, u_coordinate)
        for position in range(len(selectors)):
            x25519_module._ladder(state, x_1, selectors[position : position + 1], x_1 == 9)
            bound = 2**259 if x_1 == 9 else 2**256  # 9 * (2**255 + 2**45) for u = 9
            assert all(abs(value) < bound for value in state), position


def test_euclidean_inversion_matches_fermat_for_every_kind_of_input():
    """field25519.invert(z) * z = 1 mod p with |result| < p, for what the ladder can hand over
    (negative, p and above, up to 2**256) and random values; 0 for z = 0 mod p, as
    z ** (p - 2) gives, so a low-order point still ends in the all-zero result."""
    p = x25519_module.P
    extremes = [1, 2, 19, p - 1, p + 1, p + 2, 2**255, 2**256 - 1, 2**255 + 2**45, -1, -p + 1,
                -(2**255)]
    rng = random.Random(7)
    for z in extremes + [rng.getrandbits(256) - rng.getrandbits(1) * 2**255 for _ in range(300)]:
        inverse = field25519.invert(z)
        assert abs(inverse) < p
        assert inverse % p == pow(z, p - 2, p)
    for zero in (0, p, 2 * p, -p):
        assert field25519.invert(zero) == 0


def test_projective_blinding_changes_the_ladder_values_not_the_result(pure):
    """The ladder starts from points scaled by factors derived from the scalar and u, and
    its final (X : Z) is scaled once more: the Z handed to the inversion differs from the
    unblinded ladder's and between two keys for the same peer point, while every result is
    the RFC's (reference)."""
    p = x25519_module.P
    cases = random_cases(31, 6) + [(b"\xff" * 32, BASE_POINT)]
    inverted = {}
    for scalar, u_coordinate in cases:
        finals = []
        for blind in (True, False):
            state, x_1, selectors = x25519_module._start(scalar, u_coordinate, blind)
            x25519_module._ladder(state, x_1, selectors, x_1 == 9)
            assert x25519_module._finish(state) == reference(scalar, u_coordinate)
            x, z = x25519_module._double_three_times(state[0], state[1])
            finals.append(z * state[4] % p)  # what _finish inverts
        assert finals[0] != finals[1]
        inverted[scalar] = finals[0]
    assert len(set(inverted.values())) == len(cases)


def test_blinding_factors_depend_on_scalar_and_peer_and_differ():
    first_scalar, first_u = random_cases(41, 1)[0]
    second_scalar, second_u = random_cases(42, 1)[0]
    factors = x25519_module._blinding(first_scalar, first_u)
    assert len(set(factors)) == 3 and all(1 <= f < x25519_module.P for f in factors)
    assert x25519_module._blinding(first_scalar, first_u) == factors  # deterministic
    assert x25519_module._blinding(bytearray(first_scalar), first_u) == factors
    assert x25519_module._blinding(second_scalar, first_u) != factors
    assert x25519_module._blinding(first_scalar, second_u) != factors


def test_generate_private_key_is_random_and_usable():
    first, second = generate_private_key(), generate_private_key()
    assert len(first) == 32 and first != second
    assert x25519(first, public_key(second)) == x25519(second, public_key(first))


MICROPYTHON_BATCH = """
import sys, json, gc
from binascii import hexlify, unhexlify
from groupkey.crypto import x25519 as x
cases = json.loads(sys.stdin.read())
gc.collect()
for scalar, u_coordinate in cases:
    print(json.dumps(hexlify(x.x25519(unhexlify(scalar), unhexlify(u_coordinate))).decode()))
steps = x.run_to_completion(x.x25519_steps(unhexlify(cases[0][0]), unhexlify(cases[0][1]), 5))
print(json.dumps(["steps", hexlify(steps).decode()]))
"""


@pytest.mark.micropython
def test_random_batch_in_micropython_matches_pycryptodome(micropython):
    cases = random_cases(2026, 60)
    payload = json.dumps([[scalar.hex(), u_coordinate.hex()] for scalar, u_coordinate in cases])
    result = micropython(code=MICROPYTHON_BATCH, stdin=payload, timeout=600)
    result_lines = [line for line in result.stdout.splitlines() if line.startswith('"')]
    assert len(result_lines) == len(cases)
    for (scalar, u_coordinate), line in zip(cases, result_lines, strict=True):
        assert bytes.fromhex(json.loads(line)) == reference(scalar, u_coordinate)
    assert result.json_lines()[-1] == ["steps", reference(*cases[0]).hex()]


MICROPYTHON_ASYNCIO = """
import asyncio, json
from binascii import hexlify, unhexlify
from groupkey.crypto import x25519 as x
ticks = [0]

async def ticker():
    while True:
        ticks[0] += 1
        await asyncio.sleep_ms(0)

async def main():
    task = asyncio.create_task(ticker())
    await asyncio.sleep_ms(0)
    before = ticks[0]
    shared = await x.x25519_steps(unhexlify(SCALAR_HEX), unhexlify(U_HEX), 16,
                                  pause=lambda: asyncio.sleep_ms(0))
    during = ticks[0] - before
    task.cancel()
    print(json.dumps({"shared": hexlify(shared).decode(), "ticks": during}))

asyncio.run(main())
"""


@pytest.mark.micropython
def test_steps_generator_interleaves_with_micropython_asyncio(micropython):
    scalar, u_coordinate = random_cases(12, 1)[0]
    code = MICROPYTHON_ASYNCIO.replace("SCALAR_HEX", repr(scalar.hex())).replace(
        "U_HEX", repr(u_coordinate.hex())
    )
    (line,) = micropython(code=code, timeout=120).json_lines()
    assert bytes.fromhex(line["shared"]) == reference(scalar, u_coordinate)
    assert line["ticks"] >= 16  # the other task ran at each of the 16 pauses
