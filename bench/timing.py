"""Median time per call on CPython, batched the same way as bench/mpy/timing.py."""

import gc
import statistics
import time


def seconds_per_call(operation, repetitions, sample_seconds):
    """Median seconds per call of ``operation()`` over ``repetitions`` batched samples.

    One warm-up call, one calibration call, then each sample runs a batch of calls lasting
    about ``sample_seconds`` (gc.collect() before each sample).
    """
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
