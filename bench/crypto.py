"""Crypto suite: time per operation and heap of each primitive, MicroPython and CPython.

Operations (bench/mpy/crypto_ops.py; ``n`` = payload bytes): X25519 (variable and fixed base),
Ed25519 sign and verify (64-byte message), SHA-512 of 64 B and 1 KB, HKDF-SHA256 (32-byte ikm
-> 64 bytes), AES-CCM encrypt of 64 B and 1 KB. Bench names carry the backend after a slash:
"x25519/pure" (MicroPython and CPython), "x25519/pycryptodome" (CPython only).

MicroPython (real unix-port interpreter, one process per measurement, ``-X heapsize=96K``):
  time_per_op    median over several samples (time.ticks_us), each sample a batch of calls
                 lasting about 20 ms (5 ms with --quick), gc.collect() before each sample
  min_heap       smallest ``-X heapsize`` (KB, binary search) at which interpreter + imports +
                 inputs + one operation succeed; target <= 96 KB, the ESP32 budget
  peak_heap      min_heap minus the smallest heap at which the module merely imports: what the
                 operation itself needs at its peak, beyond its code
  alloc_per_op   bytes allocated by one operation with the GC disabled (gc.mem_alloc() delta,
                 run with a large heap): the garbage it makes, which drives GC time
CPython (in this process, every backend in groupkey.crypto.backend.available()):
  time_per_op    median of time.perf_counter() samples, batched the same way
Missing modules or functions are skipped with a note; come back when they land.
"""

import gc
import statistics
import time
from pathlib import Path

from bench import micropython
from bench.mpy import crypto_ops
from bench.report import make_result

CRYPTO_DIR = Path(__file__).resolve().parents[1] / "groupkey" / "crypto"
HEAP_CAP_KB = 96
HEAP_SEARCH_LIMIT_KB = 4096
# Targets on this x86 machine's MicroPython (issue 2), by (operation name, metric).
MICROPYTHON_TARGETS = {
    ("x25519", "time_per_op"): 4000,
    ("ed25519_sign", "time_per_op"): 25000,
    ("ed25519_verify", "time_per_op"): 40000,
}


def bench_name(name, backend_name):
    """"x25519/pure", "sha512/pycryptodome", ..."""
    return "%s/%s" % (name, backend_name)


def module_exists(module):
    """True when groupkey/crypto/<module>.py is in the tree."""
    return (CRYPTO_DIR / (module + ".py")).exists()


def present_operations(options):
    """(name, n) of every operation whose module exists; notes the others once."""
    present = []
    missing = set()
    for name, n, module in crypto_ops.OPERATIONS:
        if module_exists(module):
            present.append((name, n))
        elif module not in missing:
            missing.add(module)
            options.note("crypto: groupkey/crypto/%s.py does not exist yet: skipped %s"
                         % (module, ", ".join(sorted({entry[0] for entry in crypto_ops.OPERATIONS
                                                      if entry[2] == module}))))
    return present


def _heap_succeeds(name, n, count, kilobytes):
    run = micropython.run("crypto_run.py", ["heap", name, n, count], heap="%dK" % kilobytes)
    return run.ok and run.stdout.strip().endswith("ok")


def smallest_heap_kb(name, n, count, low=4):
    """Smallest heap in KB at which crypto_run.py ``heap`` mode succeeds (binary search).

    Returns None when it fails even at HEAP_SEARCH_LIMIT_KB. Assumes success is monotonic in
    the heap size (true up to fragmentation noise of a few hundred bytes).
    """
    high = HEAP_CAP_KB
    while not _heap_succeeds(name, n, count, high):
        low = high
        high *= 2
        if high > HEAP_SEARCH_LIMIT_KB:
            return None
    if _heap_succeeds(name, n, count, low):
        return low
    while high - low > 1:
        middle = (low + high) // 2
        if _heap_succeeds(name, n, count, middle):
            high = middle
        else:
            low = middle
    return high


def micropython_results(name, n, options):
    """Time and heap results for one operation under MicroPython (empty list when skipped)."""
    repetitions = 3 if options.quick else 9
    sample_us = 5000 if options.quick else 20000
    bench = bench_name(name, "pure")
    run = micropython.run("crypto_run.py", ["time", name, n, repetitions, sample_us])
    data = run.last_json() if run.ok else None
    if data is not None and "skip" in data:
        options.note("crypto: %s skipped on MicroPython: %s" % (bench, data["skip"]))
        return []
    if data is None or "median_us" not in data:
        options.error("crypto: %s failed under MicroPython: %s" % (bench, run.describe()))
        return []
    results = [make_result(bench, "micropython", n, "time_per_op", round(data["median_us"], 1),
                           "us", MICROPYTHON_TARGETS.get((name, "time_per_op")))]
    options.log("  micropython %s n=%d: %.1f us (batch %d, samples %s)"
                % (bench, n, data["median_us"], data["batch"],
                   ", ".join("%.0f" % sample for sample in data["samples_us"])))
    if options.heap:
        with_operation = smallest_heap_kb(name, n, 1)
        imports_only = smallest_heap_kb(name, n, 0)
        if with_operation is None:
            options.error("crypto: %s fails even with a %d KB heap"
                          % (bench, HEAP_SEARCH_LIMIT_KB))
        else:
            results.append(make_result(bench, "micropython", n, "min_heap", with_operation,
                                       "KB", HEAP_CAP_KB))
            if imports_only is not None:
                results.append(make_result(bench, "micropython", n, "peak_heap",
                                           max(0, with_operation - imports_only), "KB"))
        alloc = micropython.run("crypto_run.py", ["alloc", name, n], heap="64M").last_json()
        if alloc and "alloc_bytes" in alloc:
            results.append(make_result(bench, "micropython", n, "alloc_per_op",
                                       alloc["alloc_bytes"], "bytes"))
        else:
            options.note("crypto: %s alloc_per_op not measured (no result with a 64 MB heap)"
                         % bench)
    return results


def time_cpython(operation, repetitions, sample_seconds):
    """Median seconds per call of ``operation`` over ``repetitions`` batched samples."""
    operation()
    start = time.perf_counter()
    operation()
    once = max(time.perf_counter() - start, 1e-7)
    batch = max(1, int(sample_seconds / once))
    samples = []
    for _ in range(repetitions):
        gc.collect()
        start = time.perf_counter()
        for _ in range(batch):
            operation()
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples)


def cpython_results(present, options):
    """time_per_op of every present operation under each CPython backend."""
    from groupkey.crypto import backend

    repetitions = 3 if options.quick else 9
    sample_seconds = 0.005 if options.quick else 0.02
    results = []
    previous = backend.current()
    try:
        for backend_name in backend.available():
            backend.use(backend_name)
            for name, n in present:
                bench = bench_name(name, backend_name)
                try:
                    operation = crypto_ops.prepare(name, n)
                except crypto_ops.MissingApi as exc:
                    options.note("crypto: %s skipped on CPython: %s" % (bench, exc))
                    continue
                except ImportError as exc:
                    options.error("crypto: %s does not import on CPython: %s" % (bench, exc))
                    continue
                try:
                    seconds = time_cpython(operation, repetitions, sample_seconds)
                except Exception as exc:  # reported, the other operations still run
                    options.error("crypto: %s raised on CPython: %r" % (bench, exc))
                    continue
                results.append(make_result(bench, "cpython", n, "time_per_op",
                                           round(seconds * 1e6, 3), "us"))
    finally:
        backend.use(previous)
    return results


def run(options):
    """Run the crypto suite; returns a list of result dicts (see bench/report.py)."""
    present = present_operations(options)
    results = []
    for name, n in present:
        options.log("crypto: %s n=%d on MicroPython" % (name, n))
        results.extend(micropython_results(name, n, options))
    seen = set()
    for name, _n in present:
        if name not in seen:
            seen.add(name)
            try:
                options.note("crypto: %s calls %s" % (name, crypto_ops.api_used(name)))
            except ImportError:
                pass
    options.log("crypto: CPython backends")
    results.extend(cpython_results(present, options))
    return results
