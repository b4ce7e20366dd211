"""How much heap the device's modules hold once imported, on 64-bit and 32-bit MicroPython.

The emulated devices run on the unix port, a 64-bit build: its objects (pointers, dicts,
function and raw-code records) and its GC blocks (32 bytes, 16 on 32-bit) are larger than an
ESP32's. This suite imports the member's module set (bench/mpy/footprint.py) three ways:

- ``heap_64bit_code_in_heap``: unix port, the mpy-cross image loaded into the heap;
- ``heap_64bit_romfs``: unix port, the same image in emulated flash (tests/micropython_romfs.py),
  as the devices run: what the modules hold besides their bytecode;
- ``heap_32bit_code_in_heap``: MicroPython's WebAssembly port (wasm32), the only 32-bit
  MicroPython a package registry offers here (npm, WASM_PACKAGE below), with the code in its
  heap (that port has no ROMFS). Needs ``node`` and ``npm`` (Debian: ``apt install nodejs
  npm``); without them it is skipped with a note. The package is installed once into
  build/wasm.

plus the interned-string pools (``qstr_pool_*``) after the imports; on a board whose modules
are frozen into the firmware those strings, the raw-code records and the bytecode all live in
flash. Results in KB (1024 bytes). docs/benchmarks.md ("Device module footprint").
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.report import make_result
from tests.micropython_runner import REPO, micropython_binary

WASM_PACKAGE = "@micropython/micropython-webassembly-pyscript@1.27.0"
WASM_DIR = REPO / "build" / "wasm"
WASM_MODULE = WASM_DIR / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / \
    "micropython.mjs"
SCRIPT = Path(__file__).resolve().parent / "mpy" / "footprint.py"
BENCH = "footprint/device-modules"


def parse(stdout):
    """(module sizes, total bytes, qstr pool bytes added) from the script's output."""
    pools = [line for line in stdout.splitlines() if line.startswith("qstr pool:")]
    data = json.loads(stdout.strip().splitlines()[-1])

    def total_bytes(line):
        return int(line.rsplit("n_total_bytes=", 1)[1].split(",")[0])

    return data["modules"], data["total"], total_bytes(pools[-1]) - total_bytes(pools[0])


def unix(romfs):
    """Run the script on the unix port (code in the heap, or in emulated flash)."""
    from tests.mpy_build import build, build_romfs

    library = build()
    env = dict(os.environ)
    if romfs:
        argv = [sys.executable, str(REPO / "tests" / "micropython_romfs.py"),
                str(build_romfs())]
        env["MICROPYPATH"] = ".frozen"
    else:
        argv = [micropython_binary()]
        env["MICROPYPATH"] = os.pathsep.join([str(library), ".frozen"])
    argv += ["-X", "heapsize=1M", str(SCRIPT)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env,
                          cwd=str(REPO / "build"), check=False)
    if done.returncode != 0:
        raise RuntimeError("footprint script failed: %s" % done.stderr[-800:])
    return parse(done.stdout)


def wasm(options):
    """Run the script on the WebAssembly port; None (with a note) without node/npm."""
    from tests.mpy_build import build

    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        options.note("footprint: 32-bit (WebAssembly) not measured: node/npm missing "
                     "(apt install nodejs npm)")
        return None
    if not WASM_MODULE.exists():
        WASM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", str(WASM_DIR), "--no-save",
                        "--no-audit", "--no-fund", WASM_PACKAGE], check=True,
                       capture_output=True, text=True, timeout=600)
    done = subprocess.run([node, str(REPO / "bench" / "wasm" / "footprint.mjs"),
                           WASM_MODULE.as_uri(), str(build()), str(SCRIPT.parent)],
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError("WebAssembly footprint failed: %s" % done.stderr[-800:])
    return parse(done.stdout)


def run(options):
    if not options.wants(BENCH):
        return []
    results = []
    runs = [("64bit_code_in_heap", lambda: unix(False)), ("64bit_romfs", lambda: unix(True)),
            ("32bit_code_in_heap", lambda: wasm(options))]
    for label, measure in runs:
        options.log("footprint: %s" % label)
        try:
            outcome = measure()
        except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as exc:
            options.error("footprint %s: %s" % (label, exc))
            continue
        if outcome is None:
            continue
        modules, total, pool = outcome
        results.append(make_result(BENCH, "micropython", len(modules), "heap_" + label,
                                   round(total / 1024, 1), "KB"))
        if pool:
            results.append(make_result(BENCH, "micropython", len(modules), "qstr_pool_" + label,
                                       round(pool / 1024, 1), "KB"))
    return results
