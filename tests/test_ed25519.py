"""Ed25519: curve constants, differential tests against pycryptodome (pure path forced),
hypothesis properties, the generator forms, and a batch of random cases run inside the real
MicroPython interpreter with a 96K heap.

The RFC 8032 vectors and the negative vectors live in tests/vectors/ed25519_rfc8032.json
(tests/test_vectors.py runs them on both backends and under MicroPython).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from pathlib import Path

import pytest
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa
from hypothesis import given, settings
from hypothesis import strategies as st

from groupkey.crypto import backend, ed25519, ed25519_fast, edwards25519
from groupkey.crypto import edwards25519_multiply as multiply
from groupkey.crypto.errors import BadSignature, CryptoError, InvalidInput

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493


@contextlib.contextmanager
def using(name):
    """Select a crypto backend for the body, restoring the previous one afterwards."""
    previous = backend.current()
    backend.use(name)
    try:
        yield
    finally:
        backend.use(previous)


@pytest.fixture
def pure():
    with using("pure"):
        yield


def outcome(call, *args):
    """'ok' or the CryptoError class name."""
    try:
        call(*args)
    except CryptoError as exc:
        return type(exc).__name__
    return "ok"


def pycryptodome_public_key(seed: bytes) -> bytes:
    return eddsa.import_private_key(seed).public_key().export_key(format="raw")


def pycryptodome_sign(seed: bytes, message: bytes) -> bytes:
    return eddsa.new(eddsa.import_private_key(seed), "rfc8032").sign(message)


def pycryptodome_accepts(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """pycryptodome's own decision, no checks of ours in front."""
    try:
        key = eddsa.import_public_key(public_key)
        eddsa.new(key, "rfc8032").verify(message, signature)
    except ValueError:
        return False
    return True


def flip_bit(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def naive_multiply(scalar: int, point):
    """Double-and-add on the public helpers: an independent route to scalar * point."""
    result = edwards25519.IDENTITY
    while scalar:
        if scalar & 1:
            result = edwards25519.add(result, point)
        point = edwards25519.double(point)
        scalar >>= 1
    return result


# --- constants -----------------------------------------------------------------------------


def test_curve_constants():
    assert edwards25519.D == (-121665 * pow(121666, P - 2, P)) % P
    assert edwards25519.D2 == 2 * edwards25519.D % P
    assert edwards25519.SQRT_M1 == pow(2, (P - 1) // 4, P)
    assert edwards25519.SQRT_M1**2 % P == P - 1
    x, y = edwards25519.BASE_X, edwards25519.BASE_Y
    assert y == 4 * pow(5, P - 2, P) % P
    assert (-x * x + y * y - 1 - edwards25519.D * x * x * y * y) % P == 0
    assert x % 2 == 0
    # RFC 8032 5.1: the encoding of B is 0x58 followed by 0x66 bytes.
    assert edwards25519.encode(edwards25519.BASE) == bytes([0x58]) + bytes([0x66]) * 31
    generator = ECC._curves["ed25519"].G
    assert (int(generator.x), int(generator.y)) == (x, y)


def test_base_point_has_order_l():
    assert edwards25519.is_identity(naive_multiply(L, edwards25519.BASE))
    assert not edwards25519.is_identity(naive_multiply(L - 1, edwards25519.BASE))


def test_inverse_matches_pow():
    rng = random.Random(5)
    for _ in range(50):
        value = rng.randrange(1, P)
        assert edwards25519.inverse(value) == pow(value, P - 2, P)


def test_folded_square_chain_stays_below_2_256_and_is_exact():
    """The folded squarings of the square-root chain (decoding): z^(2^252 - 3) for extreme
    and random inputs, and every count of _square_times from the largest input, below
    2**256 and congruent to the exact power."""
    rng = random.Random(6)
    for value in [1, 2, P - 1, P - 2, 2**255 - 20] + [rng.randrange(1, P) for _ in range(200)]:
        result = edwards25519._pow_2_252_minus_3(value)
        assert result < 2**256 and result % P == pow(value, 2**252 - 3, P)
    for value in (2**256 - 1, P - 1):
        for count in range(1, 13):
            result = edwards25519._square_times(value, count)
            assert 0 <= result < 2**256 and result % P == pow(value, 2**count, P)


def test_comb_table_module_matches_its_generator():
    """groupkey/crypto/edwards25519_table.py is exactly what scripts/gen_base_table.py builds
    from the curve arithmetic (an edited or stale constant fails here and in the entry check
    below, which compares every entry with pycryptodome)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "gen_base_table.py"
    spec = importlib.util.spec_from_file_location("gen_base_table", path)
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.build() == multiply.base_table()
    assert generator.main(["--check"]) == 0


def test_comb_table_entries():
    rows = multiply.base_table()
    assert len(rows) == 2 and all(len(row) == 16 for row in rows)
    for block in range(2):
        for index in range(16):
            teeth = [tooth for tooth in range(4) if index >> tooth & 1]
            scalar = sum(1 << (128 * block + 32 * tooth) for tooth in teeth)
            expected = pycryptodome_point(scalar)
            packed = rows[block][index]
            y_plus_x = packed & (2**256 - 1)
            y_minus_x = (packed >> 256) & (2**256 - 1)
            x = (y_plus_x - y_minus_x) * pow(2, P - 2, P) % P
            y = (y_plus_x + y_minus_x) * pow(2, P - 2, P) % P
            assert (x, y) == expected
            assert packed >> 512 == 2 * edwards25519.D * x * y % P


def pycryptodome_point(scalar: int):
    point = ECC._curves["ed25519"].G * scalar
    return (int(point.x), int(point.y))


def affine(point):
    X, Y, Z, _ = point
    inverse = pow(Z, P - 2, P)
    return (X * inverse % P, Y * inverse % P)


# --- point arithmetic against pycryptodome ---------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=2**256 - 1))
def test_base_multiply_matches_pycryptodome(scalar):
    result = multiply.base_multiply(scalar)
    if scalar % L:
        assert affine(result) == pycryptodome_point(scalar % L)
    else:
        assert edwards25519.is_identity(result)
    # extended coordinates stay consistent: T = XY/Z
    X, Y, Z, T = result
    assert (T * Z - X * Y) % P == 0


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=0, max_value=L - 1),
    st.integers(min_value=0, max_value=L - 1),
    st.integers(min_value=1, max_value=L - 1),
)
def test_double_multiply_matches_pycryptodome(s, k, a):
    point_a = multiply.base_multiply(a)
    result = multiply.run(
        multiply.double_multiply_steps(s, k, multiply.odd_multiples(point_a))
    )
    expected = (s - k * a) % L
    if expected:
        assert affine(result) == pycryptodome_point(expected)
    else:
        assert edwards25519.is_identity(result)
    # the split form used by a cached VerifyingKey: k = k0 + 2^128 k1 with a table of 2^128 A
    high = naive_multiply(1 << 128, point_a)
    split = multiply.run(
        multiply.double_multiply_steps(
            s, k, multiply.odd_multiples(point_a), multiply.odd_multiples(high)
        )
    )
    assert edwards25519.equal(split, result)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=L - 1))
def test_encode_decode_round_trip(scalar):
    point = multiply.base_multiply(scalar)
    encoded = edwards25519.encode(point)
    decoded = edwards25519.decode(encoded)
    assert decoded is not None and edwards25519.equal(decoded, point)
    assert edwards25519.encode(decoded) == encoded
    # pycryptodome decodes the same bytes to the same point
    imported = eddsa.import_public_key(encoded).pointQ
    assert (int(imported.x), int(imported.y)) == affine(point)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_decode_agrees_with_pycryptodome_on_any_bytes(encoded):
    decoded = edwards25519.decode(encoded)
    try:
        imported = eddsa.import_public_key(encoded).pointQ
    except ValueError:
        assert decoded is None
    else:
        assert decoded is not None and affine(decoded) == (int(imported.x), int(imported.y))


def test_decode_rejects_every_non_canonical_y():
    # y in [p, 2^255): only y - p in 0..18 would name a field element; all are rejected.
    for y in range(P, 2**255):
        for sign in (0, 1):
            assert edwards25519.decode((y | sign << 255).to_bytes(32, "little")) is None


# --- differential: pure path against pycryptodome --------------------------------------------


def test_random_differential_against_pycryptodome(pure):
    rng = random.Random(20261125)
    outcomes = {"ok": 0, "BadSignature": 0, "InvalidInput": 0}
    for case in range(220):
        seed = rng.randbytes(32)
        message = rng.randbytes(rng.choice((0, 1, 31, 64, 111, 112, 200, rng.randrange(600))))
        public = ed25519.public_key(seed)
        assert public == pycryptodome_public_key(seed), case
        signature = ed25519.sign(seed, message)
        assert signature == pycryptodome_sign(seed, message), case
        assert ed25519.SigningKey(seed).sign(message) == signature
        verifying_key = ed25519.VerifyingKey(public)  # reused: later calls take the split path
        tampered = [
            (public, message, signature),
            (public, flip_bit(message, rng.randrange(8 * len(message))) if message else b"\x00",
             signature),
            (public, message, flip_bit(signature, rng.randrange(512))),
            (public, message, flip_bit(signature, 256 + rng.randrange(253))),
            (flip_bit(public, rng.randrange(256)), message, signature),
            (pycryptodome_public_key(rng.randbytes(32)), message, signature),
        ]
        for key, data, candidate in tampered:
            ours = outcome(ed25519.verify, key, data, candidate)
            theirs = pycryptodome_accepts(key, data, candidate)
            assert (ours == "ok") == theirs, (case, ours)
            backend.use("pycryptodome")
            try:
                assert outcome(ed25519.verify, key, data, candidate) == ours, case
            finally:
                backend.use("pure")
            assert ed25519.is_valid(key, data, candidate) == theirs
            if key == public:
                assert verifying_key.is_valid(data, candidate) == theirs, case
            outcomes[ours] += 1
    # the tampering produced every kind of outcome, so the comparison covered them all
    assert all(count > 0 for count in outcomes.values()), outcomes


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=300))
def test_sign_verify_property(seed, message):
    with using("pure"):
        check_sign_verify(seed, message)


def check_sign_verify(seed, message):
    signature = ed25519.sign(seed, message)
    assert signature == pycryptodome_sign(seed, message)
    public = ed25519.public_key(seed)
    ed25519.verify(public, message, signature)
    # S + L is the same scalar modulo L: rejected (non-canonical)
    s = int.from_bytes(signature[32:], "little")
    with pytest.raises(BadSignature):
        ed25519.verify(public, message, signature[:32] + (s + L).to_bytes(32, "little"))


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=64), st.integers(0, 511))
def test_any_signature_bit_flip_is_rejected(seed, message, bit):
    with using("pure"):
        signature = ed25519.sign(seed, message)
        public = ed25519.public_key(seed)
        with pytest.raises(BadSignature):
            ed25519.verify(public, message, flip_bit(signature, bit))


def test_module_sign_cache_follows_the_seed(pure):
    """ed25519.sign keeps the expanded key of the last seed: alternating seeds, a repeated
    seed, and a bytearray seed changed in place after use all give pycryptodome's bytes."""
    rng = random.Random(5)
    seeds = [rng.randbytes(32) for _ in range(3)]
    for seed in seeds + seeds[::-1] + [seeds[0], seeds[0]]:
        message = rng.randbytes(40)
        assert ed25519.sign(seed, message) == pycryptodome_sign(seed, message)
        assert ed25519.public_key(seed) == pycryptodome_public_key(seed)
    mutable = bytearray(seeds[1])
    assert ed25519.sign(mutable, b"m") == pycryptodome_sign(seeds[1], b"m")
    mutable[0] ^= 1
    assert ed25519.sign(mutable, b"m") == pycryptodome_sign(bytes(mutable), b"m")


def test_interleaved_sign_generators_with_different_seeds(pure):
    """Two sign_steps generators driven alternately (as two asyncio tasks would) while the
    module's one-key cache changes under them: both signatures are right."""
    rng = random.Random(9)
    first_seed, second_seed = rng.randbytes(32), rng.randbytes(32)
    for warm in (None, first_seed, second_seed):
        if warm is not None:
            ed25519.sign(warm, b"warm")
        generators = [ed25519.sign_steps(first_seed, b"one"),
                      ed25519.sign_steps(second_seed, b"two")]
        results = [None, None]
        while None in results:
            for index, generator in enumerate(generators):
                if results[index] is None:
                    try:
                        next(generator)
                    except StopIteration as stop:
                        results[index] = stop.value
        assert results == [pycryptodome_sign(first_seed, b"one"),
                           pycryptodome_sign(second_seed, b"two")]


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=L - 1), st.integers(min_value=1, max_value=P - 1))
def test_encode_is_the_same_for_every_projective_form(scalar, factor):
    """encode (blinded Euclidean 1/Z) gives the bytes of the affine point for any scaling of
    its extended coordinates, as the Fermat inverse does."""
    X, Y, Z, T = multiply.base_multiply(scalar)
    z_inverse = edwards25519.inverse(Z)
    x, y = X * z_inverse % P, Y * z_inverse % P
    expected = (y | ((x & 1) << 255)).to_bytes(32, "little")
    assert edwards25519.encode((X, Y, Z, T)) == expected
    for scale in (factor, -factor, P - 1):
        reduced = (X * scale % P, Y * scale % P, Z * scale % P, T * scale % P)
        unreduced = (X * scale + 3 * P, Y * scale - P, Z * scale + 5 * P, T * scale)
        assert edwards25519.encode(reduced) == edwards25519.encode(unreduced) == expected


def test_signing_control_flow_does_not_depend_on_the_scalar():
    """The lines executed by the comb, traced, are the same for very different scalars."""
    import sys

    multiply.base_table()
    code = multiply.base_multiply_steps.__code__

    def lines_for(scalar):
        seen = []

        def tracer(frame, event, arg):
            if frame.f_code is code:
                if event == "line":
                    seen.append(frame.f_lineno)
                return tracer
            return None

        sys.settrace(tracer)
        try:
            multiply.base_multiply(scalar)
        finally:
            sys.settrace(None)
        return seen

    reference = lines_for(0)
    assert len(reference) > 1000
    rng = random.Random(3)
    for scalar in (1, L - 1, 2**255 - 1, 2**254 + 8, rng.getrandbits(256), rng.getrandbits(253)):
        assert lines_for(scalar) == reference


# --- API details ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", backend.available())
def test_wrong_types_and_lengths(backend_name):
    previous = backend.current()
    backend.use(backend_name)
    try:
        seed = bytes(32)
        public = ed25519.public_key(seed)
        signature = ed25519.sign(seed, b"m")
        for bad_seed in (bytes(31), bytes(33), "x" * 32, None, 5):
            with pytest.raises(InvalidInput):
                ed25519.sign(bad_seed, b"m")
            with pytest.raises(InvalidInput):
                ed25519.public_key(bad_seed)
        for bad_message in ("text", None, 7):
            with pytest.raises(InvalidInput):
                ed25519.sign(seed, bad_message)
            with pytest.raises(InvalidInput):
                ed25519.verify(public, bad_message, signature)
        with pytest.raises(InvalidInput):
            ed25519.verify(public[:31], b"m", signature)
        with pytest.raises(InvalidInput):
            ed25519.verify(public, b"m", signature[:63])
        with pytest.raises(InvalidInput):
            ed25519.verify(public, b"m", signature.hex())
        assert not ed25519.is_valid(public, b"m", signature[:63])
        assert not ed25519.is_valid(None, b"m", signature)
        # bytearray and memoryview inputs give the same results as bytes
        assert ed25519.sign(bytearray(seed), memoryview(b"m")) == signature
        ed25519.verify(bytearray(public), bytearray(b"m"), bytearray(signature))
        assert len(ed25519.generate_seed()) == 32
        assert ed25519.generate_seed() != ed25519.generate_seed()
    finally:
        backend.use(previous)


def test_keys_cache_and_steps_yield(pure):
    seed = hashlib.sha256(b"steps").digest()
    message = b"group key epoch 7"
    key = ed25519.SigningKey(seed)
    signature = key.sign(message)
    assert signature == ed25519.sign(seed, message) == pycryptodome_sign(seed, message)
    steps = key.sign_steps(message)
    yields = 0
    try:
        while True:
            next(steps)
            yields += 1
    except StopIteration as stop:
        assert stop.value == signature
    assert yields >= 8
    verifying_key = ed25519.VerifyingKey(key.public_key)
    steps = verifying_key.verify_steps(message, signature)
    yields = 0
    try:
        while True:
            next(steps)
            yields += 1
    except StopIteration as stop:
        assert stop.value is None
    assert yields >= 8
    with pytest.raises(BadSignature):
        multiply.run(ed25519.verify_steps(key.public_key, message + b"!", signature))
    # pause: a generator function whose items are passed up at every yield point
    ticks = []

    def pause():
        yield "tick"

    for item in ed25519.sign_steps(ed25519.generate_seed(), message, pause):
        ticks.append(item)
    assert len(ticks) >= 16 and set(ticks) == {"tick"}
    assert verifying_key.is_valid(message, signature)
    assert not verifying_key.is_valid(message + b"!", signature)


@pytest.mark.parametrize("backend_name", backend.available())
def test_verifying_key_rejects_bad_public_keys(backend_name):
    previous = backend.current()
    backend.use(backend_name)
    try:
        for encoded in (
            (1).to_bytes(32, "little"),  # identity
            (0).to_bytes(32, "little"),  # order 4
            (P - 1).to_bytes(32, "little"),  # order 2
            (2).to_bytes(32, "little"),  # not on the curve
            (P + 1).to_bytes(32, "little"),  # non-canonical
        ):
            with pytest.raises(InvalidInput):
                ed25519.VerifyingKey(encoded)
    finally:
        backend.use(previous)


def test_small_order_encodings_and_their_rejection():
    # independently: the torsion part [L]P of pycryptodome points, and its multiples
    generator_of_torsion = None
    y = 2
    while generator_of_torsion is None:
        try:
            point = eddsa.import_public_key(y.to_bytes(32, "little")).pointQ * L
        except ValueError:
            point = None
        if point is not None and not (point * 4).is_point_at_infinity():
            generator_of_torsion = point
        y += 1
    expected = set()
    for multiple in range(8):
        x, y = (int(c) for c in (generator_of_torsion * multiple).xy) if multiple else (0, 1)
        expected.add((y | (x & 1) << 255).to_bytes(32, "little"))
    assert set(ed25519.small_order_encodings()) == expected
    assert len(expected) == 8
    seed = bytes(range(32))
    public = pycryptodome_public_key(seed)
    signature = pycryptodome_sign(seed, b"m")
    for name in backend.available():
        with using(name):
            for encoded in expected:
                with pytest.raises(InvalidInput):
                    ed25519.VerifyingKey(encoded)
                with pytest.raises(BadSignature):
                    ed25519.verify(public, b"m", encoded + signature[32:])
                key = ed25519.VerifyingKey(public)
                key.verify(b"m", signature)
                assert not key.is_valid(b"m", encoded + signature[32:])


# --- MicroPython ----------------------------------------------------------------------------

MICROPYTHON_BATCH = r"""
import sys, json, gc
from binascii import hexlify, unhexlify
from groupkey.crypto import ed25519
from groupkey.crypto.errors import CryptoError

def outcome(key, message, signature):
    try:
        key.verify(message, signature)
    except CryptoError as exc:
        return type(exc).__name__
    return "ok"

while True:
    line = sys.stdin.readline()
    if not line:
        break
    case = json.loads(line)
    seed = unhexlify(case["seed"])
    message = unhexlify(case["message"])
    signing_key = ed25519.SigningKey(seed)
    signature = signing_key.sign(message)
    verifying_key = ed25519.VerifyingKey(signing_key.public_key)
    result = {
        "public_key": hexlify(signing_key.public_key).decode(),
        "signature": hexlify(signature).decode(),
        "good": outcome(verifying_key, message, unhexlify(case["signature"])),
        "bad_message": outcome(verifying_key, unhexlify(case["bad_message"]), signature),
        "bad_signature": outcome(verifying_key, message, unhexlify(case["bad_signature"])),
        "other_key": ed25519.is_valid(unhexlify(case["other_key"]), message, signature),
        # module-level sign: its one-key cache switches seeds from case to case, and the
        # second call with the same seed uses the cache
        "module_sign": [hexlify(ed25519.sign(seed, message)).decode() for _ in range(2)],
    }
    case = signing_key = verifying_key = None
    gc.collect()
    result["free"] = gc.mem_free()
    print(json.dumps(result))
"""


@pytest.mark.micropython
def test_random_batch_in_micropython(micropython):
    rng = random.Random(7)
    cases = []
    for index in range(32):
        seed = rng.randbytes(32)
        message = rng.randbytes(rng.choice((0, 1, 32, 100, rng.randrange(300))))
        signature = pycryptodome_sign(seed, message)
        bad_message = flip_bit(message, rng.randrange(8 * len(message))) if message else b"\x01"
        bad_signature = flip_bit(signature, rng.randrange(512))
        cases.append({
            "seed": seed.hex(),
            "message": message.hex(),
            "public_key": pycryptodome_public_key(seed).hex(),
            "signature": signature.hex(),
            "bad_message": bad_message.hex(),
            "bad_signature": bad_signature.hex(),
            "other_key": pycryptodome_public_key(bytes([index]) * 32).hex(),
        })
    result = micropython(
        code=MICROPYTHON_BATCH,
        stdin="".join(json.dumps(case) + "\n" for case in cases),
        heap="96K",
        timeout=600,
    )
    lines = result.json_lines()
    assert len(lines) == len(cases), result.stderr[-2000:]
    for case, line in zip(cases, lines, strict=True):
        assert line["public_key"] == case["public_key"]
        assert line["signature"] == case["signature"]
        assert line["module_sign"] == [case["signature"]] * 2
        assert line["good"] == "ok"
        assert line["bad_message"] == "BadSignature"
        assert line["bad_signature"] == "BadSignature"
        assert line["other_key"] is False
        assert line["free"] > 16 * 1024  # the 96K heap is not close to exhausted


MICROPYTHON_ASYNCIO = r"""
import asyncio
from groupkey.crypto import ed25519

seed = bytes(range(32))
ticks = [0]


async def ticker():
    while True:
        ticks[0] += 1
        await asyncio.sleep_ms(0)


def pause():
    return asyncio.sleep_ms(0)


async def main():
    task = asyncio.create_task(ticker())
    key = ed25519.SigningKey(seed)
    signature = await key.sign_steps(b"epoch 1", pause)
    after_sign = ticks[0]
    result = await ed25519.verify_steps(key.public_key, b"epoch 1", signature, pause)
    after_verify = ticks[0]
    steps = ed25519.VerifyingKey(key.public_key).verify_steps(b"epoch 2", signature)
    outcome = "ok"
    try:
        while True:
            next(steps)
            await asyncio.sleep_ms(0)
    except StopIteration:
        pass
    except ed25519.BadSignature:
        outcome = "BadSignature"
    task.cancel()
    print(signature == ed25519.sign(seed, b"epoch 1"), result, after_sign, after_verify, outcome)


asyncio.run(main())
"""


@pytest.mark.micropython
def test_steps_interleave_with_asyncio_in_micropython(micropython):
    result = micropython(code=MICROPYTHON_ASYNCIO, heap="96K", timeout=120)
    same, verified, after_sign, after_verify, outcome = result.stdout.split()
    assert same == "True" and verified == "None" and outcome == "BadSignature"
    # the other task ran while signing and while verifying
    assert int(after_sign) >= 8
    assert int(after_verify) - int(after_sign) >= 8


def test_openssl_accepts_only_what_the_cofactored_rule_accepts():
    """The fast path asks OpenSSL first (cofactorless, so its "valid" implies ours) and falls
    back to pycryptodome's cofactored check: mixed-order vectors are refused by OpenSSL and
    still accepted, good signatures are accepted by OpenSSL directly."""
    document = json.loads((Path(__file__).parent / "vectors" / "ed25519_rfc8032.json").read_text())
    mixed = [v["input"] for v in document["vectors"] if "mixed order" in v["name"]]
    assert mixed
    for vector in mixed:
        public = bytes.fromhex(vector["public_key"])
        message, signature = bytes.fromhex(vector["message"]), bytes.fromhex(vector["signature"])
        openssl = ed25519_fast.openssl_verifier(public)
        assert openssl is not None, "cryptography (OpenSSL) is pinned in requirements.txt"
        assert not openssl(message, signature)
        ed25519_fast.FastVerifier(public).verify(message, signature)  # the cofactored rule accepts
    seed = bytes(range(32))
    good = ed25519.sign(seed, b"m")
    assert ed25519_fast.openssl_verifier(ed25519.public_key(seed))(b"m", good)
