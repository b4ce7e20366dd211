"""Median time per call inside MicroPython (time.ticks_us), for any benchmark script.

``measure(operation, repetitions, sample_us)`` calls ``operation()`` once to warm up, once more
to calibrate a batch size so that one sample lasts about ``sample_us`` microseconds, then takes
``repetitions`` samples (gc.collect() before each, so every sample starts from the same heap
state and pays its own garbage collections) and returns
{"median_us": float, "samples_us": [sorted per-call times], "batch": calls per sample}.
"""

import gc
import time


def median(values):
    """Median of a non-empty list of numbers."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def measure(operation, repetitions, sample_us):
    """Time ``operation()``; see the module docstring for the result."""
    operation()
    gc.collect()
    start = time.ticks_us()
    operation()
    once = max(1, time.ticks_diff(time.ticks_us(), start))
    batch = max(1, sample_us // once)
    samples = []
    for _repetition in range(repetitions):
        gc.collect()
        start = time.ticks_us()
        for _call in range(batch):
            operation()
        samples.append(time.ticks_diff(time.ticks_us(), start) / batch)
    samples.sort()
    return {"median_us": median(samples), "samples_us": samples, "batch": batch}
