"""Copy the firmware to a real board with mpremote (``make flash PORT=/dev/ttyUSB0``).

    python hardware/flash.py --port /dev/ttyUSB0 [--config device.json] [--dry-run]

Builds the mpy-cross image (hardware/build_image.py, ``-march=xtensawin``), then runs one
mpremote command: copy every top-level entry of the image to the board's root filesystem,
then soft-reset so main.py starts. The board must already run MicroPython (hardware/README.md
shows the esptool step). mpremote is pinned in requirements-hardware.txt.
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
        raise SystemExit("mpremote not found: pip install -r requirements-hardware.txt")
    return found


def copy_command(port: str, image: Path, mpremote: str = "mpremote") -> list[str]:
    """One mpremote invocation: ``fs cp -r <entry> :`` per image entry, then ``reset``."""
    command = [mpremote, "connect", port]
    for entry in sorted(image.iterdir()):
        command += ["fs", "cp", "-r", str(entry), ":", "+"]
    return [*command, "reset"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    parser.add_argument("--config", type=Path, help="device config.json to install")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "device")
    parser.add_argument("--dry-run", action="store_true", help="print, do not run mpremote")
    args = parser.parse_args(argv)
    summary = build(args.out, args.config, arch="xtensawin")
    print("image %s: %d firmware + %d library modules, %d bytes" % (
        args.out, summary["firmware_modules"], summary["library_modules"], summary["bytes"]))
    if args.config is None:
        print("note: no --config given; the board keeps its existing config.json")
    mpremote = "mpremote" if args.dry_run else mpremote_binary()
    command = copy_command(args.port, args.out, mpremote)
    print(" ".join(command))
    if args.dry_run:
        return 0
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
