"""Durable device state (firmware/durable.py): torn and corrupted records are detected and the
previous good state is used; a MicroPython process killed (SIGKILL) in the middle of repeated
writes always reboots into the last committed state or the one being written, never a torn
one."""

from __future__ import annotations

import random
import sys
import time

import pytest

from tests.device_process import FIRMWARE, DeviceProcess
from tests.micropython_runner import TESTS

sys.path.insert(0, str(FIRMWARE))
import durable  # noqa: E402

WRITER = TESTS / "mpy" / "durable_writer.py"


def test_record_round_trip_and_layout():
    record = durable.encode_record(7, b"hello")
    assert record[:4] == b"GKS\x01"
    assert record[4:8] == (7).to_bytes(4, "big") and record[8:12] == (5).to_bytes(4, "big")
    assert len(record) == 12 + 5 + 32
    assert durable.decode_record(record) == (7, b"hello")


def test_saved_slot_is_exactly_the_encoded_record(tmp_path):
    """save() writes the record in parts (no extra payload copy): same bytes as encode_record."""
    store = durable.DurableState(str(tmp_path))
    payload = bytes(range(256)) * 7
    sequence = store.save(payload)
    with open(store.slot_path(sequence % 2), "rb") as handle:
        assert handle.read() == durable.encode_record(sequence, payload)


def test_every_truncation_and_bit_flip_is_rejected():
    record = durable.encode_record(3, bytes(range(40)))
    for length in range(len(record)):
        assert durable.decode_record(record[:length]) is None, length
    for index in range(len(record)):
        for bit in (0x01, 0x80):
            damaged = bytearray(record)
            damaged[index] ^= bit
            assert durable.decode_record(bytes(damaged)) is None, (index, bit)


def test_save_load_alternates_slots(tmp_path):
    store = durable.DurableState(str(tmp_path))
    assert store.load() is None and store.sequence == 0
    assert store.save(b"one") == 1
    assert store.save(b"two") == 2
    assert (tmp_path / "state.1").exists() and (tmp_path / "state.0").exists()
    assert not (tmp_path / "state.tmp").exists()
    reopened = durable.DurableState(str(tmp_path))
    assert reopened.load() == b"two" and reopened.sequence == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_corrupted_newest_slot_falls_back_to_previous(tmp_path, damage):
    store = durable.DurableState(str(tmp_path))
    store.save(b"old state")
    store.save(b"new state")  # sequence 2 lives in slot 0
    newest = tmp_path / "state.0"
    data = bytearray(newest.read_bytes())
    if damage == "truncate":
        newest.write_bytes(bytes(data[:-5]))
    elif damage == "flip":
        data[14] ^= 0x04
        newest.write_bytes(bytes(data))
    elif damage == "empty":
        newest.write_bytes(b"")
    else:
        newest.write_bytes(b"\xff" * len(data))
    reopened = durable.DurableState(str(tmp_path))
    assert reopened.load() == b"old state"
    assert reopened.rejected == 1 and reopened.sequence == 1
    # the next save goes to the damaged slot's place, keeping the good one
    assert reopened.save(b"newer") == 2
    assert durable.DurableState(str(tmp_path)).load() == b"newer"


def test_save_without_load_never_overwrites_newest(tmp_path):
    durable.DurableState(str(tmp_path)).save(b"a")
    durable.DurableState(str(tmp_path)).save(b"b")
    fresh = durable.DurableState(str(tmp_path))
    assert fresh.save(b"c") == 3  # loaded first, so slot 0 (sequence 2) was kept until now
    assert durable.DurableState(str(tmp_path)).load() == b"c"


def test_leftover_temporary_file_is_ignored(tmp_path):
    store = durable.DurableState(str(tmp_path))
    store.save(b"good")
    (tmp_path / "state.tmp").write_bytes(b"half a rec")
    assert durable.DurableState(str(tmp_path)).load() == b"good"


def test_oversized_payload_is_refused(tmp_path):
    with pytest.raises(durable.StateError):
        durable.DurableState(str(tmp_path)).save(b"x" * (durable.MAX_PAYLOAD + 1))


@pytest.mark.micropython
def test_corruption_detected_under_micropython(micropython, tmp_path):
    code = (
        "from durable import DurableState\n"
        "s = DurableState(%r)\n"
        "s.save(b'old'); s.save(b'new')\n"
        "f = open(%r, 'r+b'); f.seek(13); f.write(b'X'); f.close()\n"
        "t = DurableState(%r)\n"
        "print(t.load(), t.rejected, t.sequence)\n"
    ) % (str(tmp_path), str(tmp_path / "state.0"), str(tmp_path))
    result = micropython(code=code, extra_path=(str(FIRMWARE),))
    assert result.stdout.split() == ["b'old'", "1", "1"]


@pytest.mark.micropython
@pytest.mark.timeout(90)
def test_kill_during_repeated_writes_leaves_old_or_new_state(tmp_path):
    """Eight power cuts at random moments of a write loop (1-8 KB states); after each, a
    fresh interpreter must load exactly the last state the writer reported committed, or
    the one it was writing, with the right content, and never go back in sequence."""
    flash = tmp_path / "flash"
    flash.mkdir()
    rounds = []
    previous = 0
    rng = random.Random(5)
    for _ in range(8):
        writer = DeviceProcess(WRITER, ("write", flash), stderr_path=tmp_path / "writer.err")
        try:
            writer.wait_for("committed", timeout=20)
            writer.wait_for("committed", timeout=20, sequence=previous + 5)
            # a random moment inside the loop (each save takes well under a millisecond
            # to a few milliseconds; 0-50 ms spans many of them)
            time.sleep(rng.uniform(0, 0.05))
        finally:
            writer.stop()
        committed = max(event["sequence"] for event in writer.named("committed"))
        reader = DeviceProcess(WRITER, ("read", flash), stderr_path=tmp_path / "reader.err")
        try:
            state = reader.wait_for("state", timeout=20)
        finally:
            reader.stop()
        assert state["valid"] and not state["empty"], (state, writer.transcript())
        assert state["sequence"] in (committed, committed + 1), (state, committed)
        assert state["sequence"] >= previous
        rounds.append((committed, state["sequence"], (flash / "state.tmp").exists()))
        previous = state["sequence"]
    print("rounds (last committed, loaded, temp file left):", rounds)
