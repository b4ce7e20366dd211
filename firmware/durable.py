"""Atomic, verified device state on flash: a power cut leaves the old or the new state.

Two slots, ``<name>.0`` and ``<name>.1``. Saving sequence number s writes the record to
``<name>.tmp``, flushes it (and ``os.sync()`` where the port has it), then renames it over
slot ``s % 2``, the slot that does NOT hold the newest state. Rename is atomic on POSIX and
on LittleFS (the ESP32 default), so a slot is never torn; and because the other slot keeps
the previous good state, a slot later corrupted on flash (or a non-atomic FAT rename) costs
one step back, not the device's state. Loading reads both slots, drops any that fails its
checks and returns the valid one with the highest sequence number.

Record layout (big-endian)::

    offset  size  field
    0       3     magic b"GKS"
    3       1     format version (1)
    4       4     sequence number, 1 for the first save
    8       4     payload length
    12      n     payload (opaque bytes; the firmware stores its own encoding)
    12+n    32    SHA-256 of bytes 0 .. 12+n

SHA-256 detects torn and corrupted records, not a forger with flash access: the ESP32's
flash encryption is the protection against that (see hardware/README.md).
"""

import hashlib
import os

MAGIC = b"GKS"
FORMAT_VERSION = 1
HEADER_SIZE = 12
DIGEST_SIZE = 32
MAX_PAYLOAD = 65536


class StateError(Exception):
    """The payload cannot be saved (too large) or the flash refused a write."""


def encode_record(sequence, payload):
    """The bytes of one record (layout in the module docstring)."""
    if len(payload) > MAX_PAYLOAD:
        raise StateError("state payload larger than %d bytes" % MAX_PAYLOAD)
    body = (MAGIC + bytes((FORMAT_VERSION,)) + sequence.to_bytes(4, "big")
            + len(payload).to_bytes(4, "big") + payload)
    return body + hashlib.sha256(body).digest()


def _record_parts(sequence, payload):
    """The record as (header, payload, digest): the same bytes as encode_record without
    one more copy of the payload (on a fragmented heap that copy is what fails)."""
    if len(payload) > MAX_PAYLOAD:
        raise StateError("state payload larger than %d bytes" % MAX_PAYLOAD)
    header = (MAGIC + bytes((FORMAT_VERSION,)) + sequence.to_bytes(4, "big")
              + len(payload).to_bytes(4, "big"))
    digest = hashlib.sha256(header)
    digest.update(payload)
    return header, payload, digest.digest()


def decode_record(data):
    """(sequence, payload) from a record's bytes, or None when it is torn or corrupted."""
    if len(data) < HEADER_SIZE + DIGEST_SIZE or data[0:3] != MAGIC:
        return None
    if data[3] != FORMAT_VERSION:
        return None
    length = int.from_bytes(data[8:12], "big")
    if len(data) != HEADER_SIZE + length + DIGEST_SIZE:
        return None
    end = HEADER_SIZE + length
    if hashlib.sha256(data[0:end]).digest() != data[end:]:
        return None
    return int.from_bytes(data[4:8], "big"), bytes(data[HEADER_SIZE:end])


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class DurableState:
    """The state file set ``<directory>/<name>.{0,1,tmp}``."""

    def __init__(self, directory, name="state"):
        self.directory = directory
        self.base = directory.rstrip("/") + "/" + name
        self.sequence = 0
        self.rejected = 0  # slots found torn or corrupted by the last load()

    def slot_path(self, index):
        """Path of slot 0 or 1."""
        return "%s.%d" % (self.base, index)

    def _read(self, path):
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        record = decode_record(data)
        if record is None:
            self.rejected += 1
        return record

    def load(self):
        """The newest valid payload, or None when no valid state exists (first boot)."""
        self.rejected = 0
        best = None
        for index in (0, 1):
            record = self._read(self.slot_path(index))
            if record is not None and (best is None or record[0] > best[0]):
                best = record
        self.sequence = best[0] if best else 0
        return best[1] if best else None

    def save(self, payload):
        """Commit ``payload`` as the new state; returns its sequence number. When this
        returns, a reboot loads ``payload``; if power fails before, it loads the previous
        state."""
        if self.sequence == 0 and (_exists(self.slot_path(0)) or _exists(self.slot_path(1))):
            self.load()  # never overwrite the newest slot because load() was skipped
        sequence = self.sequence + 1
        temporary = self.base + ".tmp"
        target = self.slot_path(sequence % 2)
        try:
            parts = _record_parts(sequence, payload)
            with open(temporary, "wb") as handle:
                for part in parts:
                    handle.write(part)
                handle.flush()
                _sync(handle)
            try:
                os.rename(temporary, target)
            except OSError:
                # FAT cannot rename over a file; the other slot still holds the old state
                os.remove(target)
                os.rename(temporary, target)
            _sync(None)
        except OSError as exc:
            raise StateError("saving state failed: %r" % (exc,))
        self.sequence = sequence
        return sequence

    def erase(self):
        """Forget every state (factory reset)."""
        for path in (self.slot_path(0), self.slot_path(1), self.base + ".tmp"):
            if _exists(path):
                os.remove(path)
        self.sequence = 0


def _sync(handle):
    """Push written data to the medium: fsync on CPython, os.sync on MicroPython ports that
    have it (ESP32); the unix port has neither, and a killed process loses nothing that
    write() already handed to the kernel."""
    if handle is not None and hasattr(os, "fsync"):
        os.fsync(handle.fileno())
        return
    if handle is None and hasattr(os, "fsync"):
        return
    sync = getattr(os, "sync", None)
    if sync is not None:
        sync()
