# A light member processes one member update inside MicroPython (tests and bench/tgdh.py).
# usage: micropython tgdh_light_member.py MODE STATE_FILE UPDATE_FILE
#   run   import the state, handle the update, print one JSON line (epoch, fingerprints,
#         x25519 operations, milliseconds, heap in use afterwards)
#   peak  print {"peak_bytes": ...} for import_state + handle (bench/mpy/heap.py reserve search)
#   repeat  argv[4] = N: import_state + handle N times after loading every module it needs
#         (for instruction counts by the difference method: N=1 minus N=0)
#   footprint  print {"code_bytes": ...}: heap taken by the imports a light member needs
#   sponsor  UPDATE_FILE is a sponsor request; argv[4] leaf secret hex, argv[5] signing seed
#         hex: print {"transition": hex, "x25519": n, "ms": ...}
# Started through tests/micropython_romfs.py, the library is imported from a ROMFS image held
# outside the heap (emulated flash, as on a board); otherwise from MICROPYPATH.
import gc
import json
import sys
import time


def mount_romfs():
    """Mount the image tests/micropython_romfs.py placed in memory at /rom, if any."""
    import os

    spec = os.getenv("GROUPKEY_ROMFS")
    if not spec:
        return
    import uctypes
    import vfs

    address, size = spec.split(":")
    vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(address), int(size))), "/rom")
    sys.path.insert(0, "/rom")


mount_romfs()
mode = sys.argv[1]
with open(sys.argv[2], "rb") as handle:
    state = handle.read()
with open(sys.argv[3], "rb") as handle:
    update = handle.read()

from groupkey.tgdh import keys  # noqa: E402
from groupkey.tgdh.member import Member  # noqa: E402


def process():
    member = Member.import_state(state)
    steps = member.handle_steps(update)
    yields = 0
    while True:
        try:
            next(steps)
        except StopIteration:
            break
        yields += 1
    member.yields = yields
    return member


gc.collect()
if mode == "repeat":
    from groupkey.crypto import ed25519  # noqa: F401
    from groupkey.tgdh import messages  # noqa: F401, F811

    for _ in range(int(sys.argv[4])):
        process()
    print("ok")
elif mode == "footprint":
    from groupkey.crypto import ed25519  # noqa: F401
    from groupkey.tgdh import messages  # noqa: F401

    before = gc.mem_alloc()
    state = update = None
    gc.collect()
    print(json.dumps({"code_bytes": gc.mem_alloc()}))
elif mode == "peak":
    from bench.mpy import heap

    process()
    print(json.dumps({"peak_bytes": heap.peak_bytes(process)[0]}))
elif mode == "sponsor":
    member = Member.import_state(state, bytes.fromhex(sys.argv[5]))
    start = time.ticks_us()
    data = member.contribute_from_parts(update, bytes.fromhex(sys.argv[4]))
    elapsed = time.ticks_diff(time.ticks_us(), start)
    print(json.dumps({"transition": data.hex(), "x25519": member.x25519_operations,
                      "ms": elapsed / 1000}))
else:
    start = time.ticks_us()
    member = process()
    elapsed = time.ticks_diff(time.ticks_us(), start)
    gc.collect()
    print(json.dumps({"epoch": member.epoch, "tree_hash": keys.fingerprint(member.tree_hash),
                      "epoch_secret": keys.fingerprint(member.epoch_secret),
                      "x25519": member.x25519_operations, "yields": member.yields,
                      "ms": elapsed / 1000,
                      "heap_in_use": gc.mem_alloc()}))
