"""Run the crypto benchmark on a real board through mpremote (``make bench-board PORT=...``).

    python hardware/bench_board.py --port /dev/ttyUSB0 [--only x25519] [--dry-run]

Copies the precompiled groupkey library and bench/mpy/ to the board (``:bench_lib``), then
for every operation of bench/mpy/crypto_ops.py runs ``crypto_run.py time NAME N REPS
SAMPLE_US`` on the board (mpremote ``exec`` sets sys.argv, since ``mpremote run`` passes no
arguments) and prints one JSON line per operation, the same lines ``make bench`` gets from
the unix port. The rekey benchmark joins when the TGDH member is integrated (issue 5).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_image import REPO, compile_tree, mpy_cross_binary  # noqa: E402
from flash import mpremote_binary  # noqa: E402

BOARD_DIR = "bench_lib"
REPETITIONS = 5
SAMPLE_US = 200000


def operations() -> list[tuple[str, int]]:
    """(name, n) of every operation in bench/mpy/crypto_ops.py."""
    sys.path.insert(0, str(REPO))
    from bench.mpy import crypto_ops

    return [(entry[0], entry[1]) for entry in crypto_ops.OPERATIONS]


def stage(out: Path) -> Path:
    """Compile groupkey/ and bench/mpy/ into ``out`` for copying."""
    mpy_cross = mpy_cross_binary()
    compile_tree(REPO / "groupkey", out / "groupkey", mpy_cross, "xtensawin")
    compile_tree(REPO / "bench" / "mpy", out / "bench" / "mpy", mpy_cross, "xtensawin")
    (out / "bench" / "__init__.py").write_text("")
    return out


def run_code(name: str, n: int) -> str:
    """The Python executed on the board for one operation."""
    return ("import sys; sys.path.insert(0, '/%s'); sys.argv = ['crypto_run.py', 'time', %r, "
            "'%d', '%d', '%d']; import bench.mpy.crypto_run" % (
                BOARD_DIR, name, n, REPETITIONS, SAMPLE_US))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", required=True)
    parser.add_argument("--only", help="run only operations whose name contains this")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench_board")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    staged = stage(args.out)
    mpremote = "mpremote" if args.dry_run else mpremote_binary()
    make_dir = [mpremote, "connect", args.port, "fs", "mkdir", ":" + BOARD_DIR]
    copy = [mpremote, "connect", args.port]
    for entry in sorted(staged.iterdir()):
        copy += ["fs", "cp", "-r", str(entry), ":" + BOARD_DIR + "/", "+"]
    commands = [make_dir, copy[:-1]]
    for name, n in operations():
        if args.only and args.only not in name:
            continue
        commands.append([mpremote, "connect", args.port, "exec", run_code(name, n)])
    failures = 0
    for command in commands:
        if args.dry_run:
            print(" ".join(command))
            continue
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if command is make_dir:
            continue  # fails harmlessly when the directory exists
        for line in result.stdout.splitlines():
            if line.startswith("{"):
                print(json.dumps({"board_port": args.port, **json.loads(line)}))
        if result.returncode:
            failures += 1
            sys.stderr.write(result.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
