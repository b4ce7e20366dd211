# One crypto measurement inside MicroPython (driven by bench/crypto.py and bench/instructions.py).
#
# usage: micropython -X heapsize=96K crypto_run.py MODE NAME N [COUNT] [SAMPLE_US]
#   time  NAME N REPS SAMPLE_US  median time per operation over REPS samples, each sample a
#                                batch of calls lasting about SAMPLE_US; prints one JSON line
#   heap  NAME N COUNT           COUNT=0: import the module only; COUNT>=1: prepare the inputs
#                                and run the operation COUNT times; prints "ok" at the end
#   count NAME N COUNT           prepare the inputs, then run the operation COUNT times (also 0);
#                                prints "ok" (run under valgrind for instruction counts)
#   alloc NAME N                 bytes allocated by one operation with the GC disabled
#                                (gc.mem_alloc() delta; needs a large heap); one JSON line
#   peak  NAME N                 heap one operation needs beyond imports and inputs, by a
#                                reserve search (bench/mpy/heap.py); one JSON line
#   free  NAME N                 free heap and largest free block after imports, inputs and
#                                one warm-up operation; one JSON line
# A missing module or function prints {"skip": reason} and exits 0.
import gc
import sys

mode = sys.argv[1]
name = sys.argv[2]
size = int(sys.argv[3])
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1

from bench.mpy import crypto_ops  # noqa: E402


def skip(reason):
    print('{"skip": "%s"}' % reason.replace('"', "'"))
    sys.exit(0)


operation = None
try:
    if mode == "heap" and count == 0:
        crypto_ops.load(crypto_ops.module_for(name))
    else:
        operation = crypto_ops.prepare(name, size)
except ImportError as exc:
    skip("import failed: %s" % exc)
except crypto_ops.MissingApi as exc:
    skip(str(exc))

if mode == "time":
    import json

    from bench.mpy.timing import measure

    sample_us = int(sys.argv[5]) if len(sys.argv) > 5 else 20000
    print(json.dumps(measure(operation, count, sample_us)))
elif mode == "peak":
    from bench.mpy.heap import peak_bytes

    peak, scraps, free = peak_bytes(operation)
    if peak is None:
        peak = -1
    print('{"peak_bytes": %d, "scraps_bytes": %d, "free_bytes": %d}' % (peak, scraps, free))
elif mode == "free":
    from bench.mpy.heap import largest_block

    operation()
    gc.collect()
    print('{"free_bytes": %d, "largest_block_bytes": %d}' % (gc.mem_free(), largest_block()))
elif mode == "alloc":
    operation()  # warm-up, so one-time allocations are not charged to the operation
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    operation()
    after = gc.mem_alloc()
    gc.enable()
    print('{"alloc_bytes": %d}' % (after - before))
elif mode in ("heap", "count"):
    if operation is not None:
        for _call in range(count):
            operation()
    print("ok")
else:
    raise ValueError("unknown mode " + mode)
