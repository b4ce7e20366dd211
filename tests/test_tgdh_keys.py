"""The TGDH key schedule recomputed independently (pycryptodome X25519, the stdlib hmac) and
compared with groupkey.tgdh.keys; the vector files cannot drift from their generator; the
``*_steps`` generators yield between X25519 operations and run under asyncio."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

from Crypto.PublicKey import ECC

from groupkey.tgdh import events, keys, run_steps
from groupkey.tgdh.member import Member
from groupkey.tgdh.simulation import DeterministicRandom, Simulation

REPO = Path(__file__).resolve().parents[1]


def x25519_reference(scalar: bytes, point: bytes) -> bytes:
    """X25519 through pycryptodome's EccXPoint, independent of groupkey.crypto."""
    clamped = bytearray(scalar)
    clamped[0] &= 248
    clamped[31] &= 127
    clamped[31] |= 64
    public = ECC.construct(curve="curve25519", point_x=int.from_bytes(point, "little"))
    shared = public.pointQ * int.from_bytes(bytes(clamped), "little")
    return int(shared.x).to_bytes(32, "little")


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def test_schedule_matches_an_independent_computation():
    document = json.loads((REPO / "tests/vectors/tgdh_keys.json").read_text())
    for vector in document["vectors"]:
        given = vector["input"]
        left = bytes.fromhex(given["left_secret"])
        right = bytes.fromhex(given["right_secret"])
        base = (9).to_bytes(32, "little")
        right_blinded = x25519_reference(right, base)
        parent = hkdf_extract(b"groupkey tgdh v1 node", x25519_reference(left, right_blinded))
        assert parent == keys.combine(left, right_blinded)
        group_id = bytes.fromhex(given["group_id"])
        info = (bytes([len(group_id)]) + group_id + given["epoch"].to_bytes(8, "big")
                + bytes.fromhex(given["tree_hash"]) + bytes.fromhex(given["previous_epoch_hash"]))
        epoch_secret = hkdf_expand(hkdf_extract(b"groupkey tgdh v1 epoch", parent), info, 32)
        assert epoch_secret.hex() == vector["expected"]["epoch_secret"]
        traffic = hkdf_expand(epoch_secret, b"traffic", 32)
        assert traffic.hex() == vector["expected"]["traffic_secret"]
        confirm = hkdf_expand(epoch_secret, b"confirm", 32)
        tag = hmac.new(confirm, bytes.fromhex(given["transcript_digest"]), hashlib.sha256)
        assert tag.hexdigest() == vector["expected"]["confirmation"]


def test_vector_files_do_not_drift():
    result = subprocess.run([sys.executable, str(REPO / "scripts/gen_tgdh_vectors.py"),
                             "--check"], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_steps_yield_between_x25519_operations_and_run_under_asyncio():
    group = Simulation(b"steps", DeterministicRandom(b"steps"))
    for _ in range(5):
        group.run([group.join_operation(group.new_identity())])
    previous = group.state
    leaf = group.state.tree.leaves()[0]
    data = group.build([events.refresh(leaf)])
    new_state = previous.apply(data)
    listener = group.members[group.state.tree.identity[group.state.tree.leaves()[1]]]
    update = new_state.member_update(previous, data, listener.identity)
    ticks = []

    async def ticker():
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    async def main():
        task = asyncio.create_task(ticker())
        steps = listener.handle_steps(update)
        yields = 0
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                task.cancel()
                return stop.value, yields
            yields += 1
            await asyncio.sleep(0)

    epoch, yields = asyncio.run(main())
    assert epoch == new_state.epoch
    assert yields == listener.x25519_operations >= 1
    assert len(ticks) >= yields
    other = Member.import_state(listener.export_state())
    assert run_steps(iter(())) is None and other.epoch == epoch
