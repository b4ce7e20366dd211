"""Crypto suite: time per operation and heap of each primitive, MicroPython and CPython.

Operations (bench/mpy/crypto_ops.py; ``n`` = payload bytes): X25519 (variable and fixed base),
Ed25519 sign and verify (64-byte message), SHA-512 of 64 B and 1 KB, HKDF-SHA256 (32-byte ikm
-> 64 bytes), AES-CCM encrypt of 64 B and 1 KB. Bench names carry the backend after a slash:
"x25519/pure" (MicroPython and CPython), "x25519/pycryptodome" (CPython only).

MicroPython (real unix-port interpreter, one process per measurement, ``-X heapsize=96K``,
importing mpy-cross output as a board does unless ``--source``; see bench/micropython.py):
  time_per_op    median over several samples (time.ticks_us), each sample a batch of calls
                 lasting about 20 ms (5 ms with --quick), gc.collect() before each sample
  free_heap      gc.mem_free() at 96 KB after imports, inputs and one warm-up call
  peak_heap      bytes the operation keeps alive at its worst moment, beyond its imports and
                 inputs: smallest reserve it completes in once the rest of the heap is
                 filled (bench/mpy/heap.py, run at 512 KB); target <= free_heap
  alloc_per_op   bytes allocated by one operation with the GC disabled (gc.mem_alloc() delta,
                 64 MB heap): the garbage it makes, which drives GC time
  min_heap       lowest ``-X heapsize`` (KB) from which interpreter + imports + inputs
                 + one operation succeed at every size up to 96 KB (scan down in 1 KB steps;
                 skipped with --quick); target <= 96 KB, the ESP32 budget
CPython (in this process, every backend in groupkey.crypto.backend.available()):
  time_per_op    median of time.perf_counter() samples, batched the same way
Missing modules or functions are skipped with a note; come back when they land.
"""

from pathlib import Path

from bench import micropython
from bench.mpy import crypto_ops
from bench.report import make_result
from bench.timing import seconds_per_call

CRYPTO_DIR = Path(__file__).resolve().parents[1] / "groupkey" / "crypto"
HEAP_CAP_KB = 96
PEAK_SEARCH_HEAP = "512K"  # room for one contiguous reserve (bench/mpy/heap.py)
ALLOC_HEAP = "64M"  # the GC stays off while one operation runs
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
        if not options.wants(name):
            continue
        if module_exists(module):
            present.append((name, n))
        elif module not in missing:
            missing.add(module)
            options.note("crypto: groupkey/crypto/%s.py does not exist yet: skipped %s"
                         % (module, ", ".join(sorted({entry[0] for entry in crypto_ops.OPERATIONS
                                                      if entry[2] == module}))))
    return present


def micropython_results(name, n, options):
    """Time and heap results for one operation under MicroPython (empty list when skipped)."""
    repetitions = 3 if options.quick else 9
    sample_us = 5000 if options.quick else 20000
    bench = bench_name(name, "pure")
    run = micropython.run("crypto_run.py", ["time", name, n, repetitions, sample_us],
                          precompiled=options.precompiled)
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
        results.extend(heap_results(bench, name, n, options))
    return results


def heap_results(bench, name, n, options):
    """peak_heap, free_heap, alloc_per_op and (not with --quick) min_heap of one operation."""
    results = []
    free = micropython.run("crypto_run.py", ["free", name, n],
                           precompiled=options.precompiled).last_json()
    free_bytes = None
    if free and "free_bytes" in free:
        free_bytes = free["free_bytes"]
        results.append(make_result(bench, "micropython", n, "free_heap", free_bytes, "bytes"))
        options.log("  %s: %d bytes free at %s after imports, largest block %d"
                    % (bench, free_bytes, micropython.DEFAULT_HEAP,
                       free["largest_block_bytes"]))
    peak = micropython.run("crypto_run.py", ["peak", name, n], heap=PEAK_SEARCH_HEAP,
                           precompiled=options.precompiled)
    data = peak.last_json()
    if data and data.get("peak_bytes", -1) >= 0:
        # Target: the operation fits in what its imports and inputs leave free at 96 KB.
        results.append(make_result(bench, "micropython", n, "peak_heap", data["peak_bytes"],
                                   "bytes", free_bytes))
    else:
        options.error("crypto: %s peak heap search failed: %s" % (bench, peak.describe()))
    alloc = micropython.run("crypto_run.py", ["alloc", name, n], heap=ALLOC_HEAP,
                            precompiled=options.precompiled).last_json()
    if alloc and "alloc_bytes" in alloc:
        results.append(make_result(bench, "micropython", n, "alloc_per_op",
                                   alloc["alloc_bytes"], "bytes"))
    else:
        options.note("crypto: %s alloc_per_op not measured (no result with a %s heap)"
                     % (bench, ALLOC_HEAP))
    if options.quick:
        return results
    options.log("  %s: scanning heap sizes down from %d KB" % (bench, HEAP_CAP_KB))
    smallest = micropython.smallest_heap_kb("crypto_run.py", ["heap", name, n, 1],
                                            top=HEAP_CAP_KB, precompiled=options.precompiled)
    if smallest is None:
        options.error("crypto: %s fails with a %d KB heap" % (bench, HEAP_CAP_KB))
    else:
        results.append(make_result(bench, "micropython", n, "min_heap", smallest, "KB",
                                   HEAP_CAP_KB))
    return results


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
                    seconds = seconds_per_call(operation, repetitions, sample_seconds)
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
