"""Instruction counts of each MicroPython crypto operation, by valgrind callgrind.

Instruction counts are deterministic where wall time on a shared machine is not. The
``micropython`` command is a CPython wrapper around an extension module, so the count of one
operation is taken by difference:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python .venv/bin/micropython -X heapsize=96K bench/mpy/crypto_run.py \\
        count NAME N REPEATS

runs once with the operation repeated REPEATS times and once with 0 times (identical imports
and inputs); callgrind prints "==PID== Collected : <instructions>" on stderr, and
instructions_per_op = (total_REPEATS - total_0) / REPEATS. Valgrind is ~50x slower than
native, so REPEATS is small (3; 1 with --quick). PYTHONHASHSEED=0 keeps the CPython wrapper's
start-up identical between the two runs.

Run it alone with ``make bench-instructions`` (``python -m bench.instructions``); ``make bench``
includes it when valgrind is installed.
"""

import re
import shutil
import subprocess
import sys

from bench import micropython
from bench.crypto import module_exists
from bench.mpy import crypto_ops
from bench.report import make_result

COLLECTED = re.compile(r"^==\d+==\s+Collected\s*:\s*(\d+)\s*$", re.MULTILINE)
# Targets on this x86 machine's MicroPython (issue 2), by operation name.
TARGETS = {"x25519": 35_000_000}


class CountError(RuntimeError):
    """valgrind did not run the script to completion or printed no total."""


def valgrind_command(name, n, repeats, heap="96K"):
    """The argv that counts the instructions of crypto_run.py ``count`` mode."""
    return [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable,
    ] + micropython.command("crypto_run.py", ["count", name, n, repeats], heap)


def collected(name, n, repeats, precompiled=False):
    """Total instructions of one valgrind run, or the skip reason as a string."""
    environment, directory = micropython.environment(precompiled)
    environment["PYTHONHASHSEED"] = "0"
    process = subprocess.run(
        valgrind_command(name, n, repeats),
        capture_output=True, text=True, timeout=3600, env=environment, cwd=str(directory),
        check=False,
    )
    stdout = process.stdout.strip()
    if stdout.startswith('{"skip"'):
        return stdout
    match = COLLECTED.search(process.stderr)
    if process.returncode != 0 or not stdout.endswith("ok") or match is None:
        tail = process.stderr.strip()[-800:]
        raise CountError("valgrind %s n=%s x%s exited %d: %s"
                         % (name, n, repeats, process.returncode, tail))
    return int(match.group(1))


def run(options):
    """Instruction counts per MicroPython crypto operation (empty when valgrind is missing)."""
    if shutil.which("valgrind") is None:
        options.note("instructions: valgrind is not installed: run `make bench-instructions` "
                     "(it installs valgrind) to get instruction counts")
        return []
    repeats = 1 if options.quick else 3
    results = []
    for name, n, module in crypto_ops.OPERATIONS:
        bench = "%s/pure" % name
        if not options.wants(bench):
            continue
        if not module_exists(module):
            options.note("instructions: %s skipped: groupkey/crypto/%s.py does not exist yet"
                         % (bench, module))
            continue
        options.log("instructions: %s n=%d (valgrind, %d repeats)" % (bench, n, repeats))
        try:
            total = collected(name, n, repeats, options.precompiled)
            if isinstance(total, str):
                options.note("instructions: %s skipped: %s" % (bench, total))
                continue
            baseline = collected(name, n, 0, options.precompiled)
        except (CountError, subprocess.TimeoutExpired) as exc:
            options.error("instructions: %s" % exc)
            continue
        per_operation = int(round((total - baseline) / repeats))
        options.log("  %s: total %d, baseline %d -> %d per op"
                    % (bench, total, baseline, per_operation))
        results.append(make_result(bench, "micropython", n, "instructions_per_op",
                                   per_operation, "instructions", TARGETS.get(name)))
    return results


if __name__ == "__main__":
    from bench.run import main

    sys.exit(main(["--suite", "instructions"] + sys.argv[1:]))
