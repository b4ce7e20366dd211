"""Run benchmark scripts inside the real MicroPython interpreter (the unix port).

The binary and the environment come from tests/micropython_runner.py, so benchmarks and tests
run the same interpreter. The heap cap is an argument; the default is the ESP32 budget of
96 KB. Two ways to import the library:

- source (``precompiled=False``): ``MICROPYPATH`` is the repository root, as in most tests;
  every import compiles source inside the capped heap (the compiler's transient memory counts);
- precompiled (``precompiled=True``): groupkey/ is compiled by tests/mpy_build.py into
  build/mpy/ (as ``make flash`` does for a board) and bench/ + bench/mpy/ into
  build/bench-mpy/; ``MICROPYPATH`` holds only those, and the process runs in build/bench-mpy
  so no source file can be picked up. This is what a device runs.
- ROMFS (``romfs=True``, implies precompiled): the same .mpy files packed into a ROMFS image
  (tests/mpy_build.build_romfs) that tests/micropython_romfs.py holds outside the heap and
  the script mounts at /rom: the code runs in place, as from a board's flash, so the heap
  holds only what a board's heap holds. ``MICROPYPATH`` then names only build/bench-mpy, so
  a script that fails to mount the image fails to import the library instead of silently
  loading it into the heap.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.micropython_runner import REPO, micropython_binary, micropython_env

MPY_SCRIPTS = Path(__file__).resolve().parent / "mpy"
BENCH_BUILD = REPO / "build" / "bench-mpy"
DEFAULT_HEAP = "96K"


def _build_bench():
    """mpy-cross bench/__init__.py and bench/mpy/*.py into build/bench-mpy (when stale)."""
    from tests.mpy_build import mpy_cross_binary

    sources = [REPO / "bench" / "__init__.py"] + sorted(MPY_SCRIPTS.glob("*.py"))
    for source in sources:
        target = (BENCH_BUILD / source.relative_to(REPO)).with_suffix(".mpy")
        if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(".%s.%d.tmp" % (target.name, os.getpid()))
        subprocess.run([mpy_cross_binary(), "-O1", "-o", str(temporary), "-s", source.name,
                        str(source)], check=True, capture_output=True, text=True)
        os.replace(temporary, target)


def environment(precompiled=False):
    """(environment, working directory) for a MicroPython process in either import mode."""
    if not precompiled:
        return micropython_env(), REPO
    from tests.mpy_build import build

    library = build()
    _build_bench()
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([str(library), str(BENCH_BUILD), ".frozen"])
    return env, BENCH_BUILD


class Run:
    """Outcome of one MicroPython process: return code, stdout, stderr."""

    def __init__(self, argv, returncode, stdout, stderr):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    @property
    def ok(self):
        """True when the process exited 0 without printing a traceback."""
        return self.returncode == 0 and "Traceback" not in self.stderr

    def last_json(self):
        """The last stdout line that parses as a JSON object, or None."""
        for raw in reversed(self.stdout.splitlines()):
            line = raw.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    continue
        return None

    def describe(self):
        """Short text for error notes: the command and the end of stderr."""
        tail = (self.stderr.strip() or self.stdout.strip())[-600:]
        return "%s exited %d: %s" % (" ".join(self.argv[1:]), self.returncode, tail)


def command(script, args=(), heap=DEFAULT_HEAP, romfs=False):
    """The argv that runs ``script`` (a file under bench/mpy/ or a path) with a heap cap."""
    path = Path(script)
    if not path.is_absolute():
        path = MPY_SCRIPTS / path
    if romfs:
        from tests.mpy_build import build_romfs

        launcher = [sys.executable, str(REPO / "tests" / "micropython_romfs.py"),
                    str(build_romfs())]
    else:
        launcher = [micropython_binary()]
    return launcher + ["-X", "heapsize=%s" % heap, str(path)] + [
        str(argument) for argument in args
    ]


def run(script, args=(), heap=DEFAULT_HEAP, timeout=600, precompiled=False, romfs=False):
    """Run ``script`` under MicroPython and return a Run (never raises on a non-zero exit).

    ``precompiled`` and ``romfs`` choose how the library is imported (see the module
    docstring); the script itself is always compiled from source at start.
    """
    argv = command(script, args, heap, romfs)
    env, directory = environment(precompiled or romfs)
    if romfs:
        env["MICROPYPATH"] = str(BENCH_BUILD)
    try:
        process = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
            cwd=str(directory),
        )
    except subprocess.TimeoutExpired:
        return Run(argv, -1, "", "timed out after %s s" % timeout)
    return Run(argv, process.returncode, process.stdout, process.stderr)


def succeeds(script, args=(), heap=DEFAULT_HEAP, timeout=600, precompiled=False):
    """True when ``script`` exits cleanly and its last stdout line is "ok"."""
    outcome = run(script, args, heap, timeout, precompiled)
    lines = outcome.stdout.strip().splitlines()
    return outcome.ok and bool(lines) and lines[-1].strip() == "ok"


def smallest_heap_kb(script, args=(), top=96, bottom=4, precompiled=False):
    """Lowest ``-X heapsize`` in KB from which ``script`` succeeds at every size up to ``top``.

    Scans down from ``top`` in 1 KB steps and stops at the first failure (None when ``top``
    itself fails). A binary search would be cheaper but is not sound here: success is not
    monotonic in the heap size (when the GC runs shifts fragmentation; e.g. an import that
    works at 46-48 KB can fail at 49-50 KB and work again from 51 KB). Costs one run per KB
    between the result and ``top``.
    """
    if not succeeds(script, args, "%dK" % top, precompiled=precompiled):
        return None
    kilobytes = top
    while kilobytes > bottom and succeeds(script, args, "%dK" % (kilobytes - 1),
                                          precompiled=precompiled):
        kilobytes -= 1
    return kilobytes


def version():
    """MicroPython's version string, e.g. "MicroPython 1.29.0-preview (3.4.0)"."""
    code = (
        "import sys; v = sys.implementation.version; "
        "print('MicroPython %d.%d.%d%s (%s)' % (v[0], v[1], v[2], "
        "('-' + v[3]) if len(v) > 3 and v[3] else '', sys.version))"
    )
    process = subprocess.run(
        [micropython_binary(), "-c", code],
        capture_output=True, text=True, timeout=60, env=micropython_env(), check=False,
    )
    return process.stdout.strip() or "MicroPython (unknown version)"
