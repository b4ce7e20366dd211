"""Code that runs inside the MicroPython interpreter during benchmarks (and under CPython too).

Everything here stays in the MicroPython subset and imports only what a measurement needs, so
that the heap the interpreter reports belongs to the operation, not to the harness.
"""
