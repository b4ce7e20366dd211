"""Run benchmark scripts inside the real MicroPython interpreter (the unix port).

The binary and the environment come from tests/micropython_runner.py, so benchmarks and tests
run the same interpreter with the same ``MICROPYPATH`` (repository root first, so
``import groupkey`` and ``import bench.mpy.crypto_ops`` work). The heap cap is an argument;
the default is the ESP32 budget of 96 KB.
"""

import json
import subprocess
from pathlib import Path

from tests.micropython_runner import REPO, micropython_binary, micropython_env

MPY_SCRIPTS = Path(__file__).resolve().parent / "mpy"
DEFAULT_HEAP = "96K"


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


def command(script, args=(), heap=DEFAULT_HEAP):
    """The argv that runs ``script`` (a file under bench/mpy/ or a path) with a heap cap."""
    path = Path(script)
    if not path.is_absolute():
        path = MPY_SCRIPTS / path
    return [micropython_binary(), "-X", "heapsize=%s" % heap, str(path)] + [
        str(argument) for argument in args
    ]


def run(script, args=(), heap=DEFAULT_HEAP, timeout=600):
    """Run ``script`` under MicroPython and return a Run (never raises on a non-zero exit)."""
    argv = command(script, args, heap)
    try:
        process = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=micropython_env(),
            cwd=str(REPO),
        )
    except subprocess.TimeoutExpired:
        return Run(argv, -1, "", "timed out after %s s" % timeout)
    return Run(argv, process.returncode, process.stdout, process.stderr)


def succeeds(script, args=(), heap=DEFAULT_HEAP, timeout=600):
    """True when ``script`` exits cleanly and its last stdout line is "ok"."""
    outcome = run(script, args, heap, timeout)
    lines = outcome.stdout.strip().splitlines()
    return outcome.ok and bool(lines) and lines[-1].strip() == "ok"


def smallest_heap_kb(script, args=(), top=96, bottom=4):
    """Lowest ``-X heapsize`` in KB from which ``script`` succeeds at every size up to ``top``.

    Scans down from ``top`` in 1 KB steps and stops at the first failure (None when ``top``
    itself fails). A binary search would be cheaper but is not sound here: success is not
    monotonic in the heap size (when the GC runs shifts fragmentation; e.g. an import that
    works at 46-48 KB can fail at 49-50 KB and work again from 51 KB). Costs one run per KB
    between the result and ``top``.
    """
    if not succeeds(script, args, "%dK" % top):
        return None
    kilobytes = top
    while kilobytes > bottom and succeeds(script, args, "%dK" % (kilobytes - 1)):
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
