"""Copy the firmware to a real board with mpremote (``make flash PORT=/dev/ttyUSB0``).

    python hardware/flash.py --port /dev/ttyUSB0 [--config device.json] [--romfs] [--dry-run]

Builds the mpy-cross image (hardware/build_image.py, ``-march=xtensawin``), then runs one
mpremote command: copy every top-level entry of the image to the board's root filesystem,
then soft-reset so main.py starts. The board must already run MicroPython (hardware/README.md
shows the esptool step). mpremote is pinned in requirements.txt.

``--romfs`` (MicroPython >= 1.25 with a ROMFS partition, hardware/README.md): the precompiled
packages go into a ROMFS image written to that partition with ``mpremote romfs deploy``, so
their bytecode runs in place from flash instead of being loaded into the heap (decision
D-FW6); main.py and config.json are still copied to the filesystem. Not yet tried on a
board (none here); the emulated devices' ROMFS path is tested (tests/test_romfs.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_image import REPO, build  # noqa: E402


def mpremote_binary() -> str:
    """mpremote from the venv, else from PATH."""
    candidate = Path(sys.executable).parent / "mpremote"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("mpremote")
    if not found:
        raise SystemExit("mpremote not found: run `make setup` (requirements.txt pins it)")
    return found


def copy_command(port: str, image: Path, mpremote: str = "mpremote") -> list[str]:
    """One mpremote invocation: ``fs cp -r <entry> :`` per image entry, then ``reset``."""
    command = [mpremote, "connect", port]
    for entry in sorted(image.iterdir()):
        command += ["fs", "cp", "-r", str(entry), ":", "+"]
    return [*command, "reset"]


def romfs_commands(port: str, image: Path, romfs_image: Path,
                   mpremote: str = "mpremote") -> list[list[str]]:
    """Deploy ``romfs_image`` to the ROMFS partition, then copy the files kept as files."""
    deploy = [mpremote, "connect", port, "romfs", "deploy", str(romfs_image)]
    copy = [mpremote, "connect", port]
    for name in ("main.py", "boot.py", "config.json"):
        if (image / name).exists():
            copy += ["fs", "cp", str(image / name), ":", "+"]
    return [deploy, [*copy, "reset"]]


def write_romfs(image: Path, destination: Path) -> Path:
    """Pack every package and module of ``image`` except the kept files into a ROMFS image."""
    import contextlib
    import io
    import tempfile

    from mpremote.romfs import make_romfs

    with tempfile.TemporaryDirectory() as staging:
        for entry in image.iterdir():
            if entry.name in ("main.py", "boot.py", "config.json"):
                continue
            target = Path(staging) / entry.name
            if entry.is_dir():
                shutil.copytree(entry, target)
            else:
                shutil.copyfile(entry, target)
        with contextlib.redirect_stdout(io.StringIO()):
            data = make_romfs(staging, mpy_cross=False)
    destination.write_bytes(data)
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    parser.add_argument("--config", type=Path, help="device config.json to install")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "device")
    parser.add_argument("--romfs", action="store_true",
                        help="put the modules in the ROMFS partition (code runs from flash)")
    parser.add_argument("--dry-run", action="store_true", help="print, do not run mpremote")
    args = parser.parse_args(argv)
    summary = build(args.out, args.config, arch="xtensawin")
    print("image %s: %d firmware + %d library modules, %d bytes" % (
        args.out, summary["firmware_modules"], summary["library_modules"], summary["bytes"]))
    if args.config is None:
        print("note: no --config given; the board keeps its existing config.json")
    mpremote = "mpremote" if args.dry_run else mpremote_binary()
    if args.romfs:
        romfs_image = write_romfs(args.out, args.out.with_suffix(".romfs"))
        print("romfs image %s: %d bytes" % (romfs_image, romfs_image.stat().st_size))
        commands = romfs_commands(args.port, args.out, romfs_image, mpremote)
    else:
        commands = [copy_command(args.port, args.out, mpremote)]
    for command in commands:
        print(" ".join(command))
    if args.dry_run:
        return 0
    for command in commands:
        result = subprocess.run(command, check=False).returncode
        if result != 0:
            return result
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
