"""Heap held by the device's modules once imported (bench/footprint.py).

Imports MODULES one at a time, with a collection before and after each, and prints
micropython.qstr_info() before and after (the interned-string pools: "qstr pool: ...,
n_total_bytes=N"), then one JSON line: {"modules": [[name, bytes], ...], "total": bytes}.
Runs on the unix
port (code in the heap or, with GROUPKEY_ROMFS set, in emulated flash) and, step by step, on
the 32-bit WebAssembly port (bench/wasm/footprint.mjs drives ``step`` from JavaScript: that
port collects garbage only between its runPython calls).
"""

import gc
import sys

# What a member imports while it registers, joins and follows epochs (firmware/app/*).
MODULES = (
    "groupkey.crypto.x25519", "groupkey.crypto.ed25519", "groupkey.crypto.aes_ccm",
    "groupkey.crypto.hkdf", "groupkey.crypto.sha512", "groupkey.relay", "groupkey.did",
    "groupkey.tgdh.member", "groupkey.tgdh.sponsor", "groupkey.tgdh.transition",
    "groupkey.tgdh.state", "groupkey.ledger.receipt", "groupkey.ledger.entry",
    "groupkey.ledger.bodies", "groupkey.ledger.events", "groupkey.group_message", "durable",
    "mqtt.packet", "mqtt.receive", "mqtt.inbox", "app.accept", "app.readings", "app.flows",
    "app.member",
)


def step(name):
    """Import ``name``; the bytes it added to the live heap."""
    gc.collect()
    before = gc.mem_alloc()
    __import__(name)
    gc.collect()
    return gc.mem_alloc() - before


def mount_romfs():
    """Mount tests/micropython_romfs.py's image at /rom when GROUPKEY_ROMFS says where."""
    import os

    spec = os.getenv("GROUPKEY_ROMFS") if hasattr(os, "getenv") else None
    if not spec:
        return
    import uctypes
    import vfs

    address, size = spec.split(":")
    vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(address), int(size))), "/rom")
    sys.path.insert(0, "/rom")


def main():
    import json

    import micropython

    mount_romfs()
    micropython.qstr_info()
    gc.collect()
    start = gc.mem_alloc()
    sizes = [[name, step(name)] for name in MODULES]
    gc.collect()
    total = gc.mem_alloc() - start
    micropython.qstr_info()
    print(json.dumps({"modules": sizes, "total": total}))


if __name__ == "__main__":
    main()
