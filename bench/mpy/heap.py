"""Peak heap of one operation inside MicroPython, found by a reserve search in one process.

MicroPython keeps no high-water mark of live heap, so ``peak_bytes(operation)`` measures it:
after the imports and inputs are in place and one warm-up call has filled any caches, each
attempt
  1. collects garbage and allocates a reserve block of ``size`` bytes,
  2. fills every other free byte of the heap with chunks (largest first, down to the smallest
     allocation), so no hole left by the imports is usable,
  3. frees the reserve and runs ``operation()``: it succeeds iff everything it keeps alive at
     its worst moment (its result included) fits in ``size`` bytes plus the few scraps the
     fill could not use.
A binary search over ``size`` (16-byte resolution: one GC block) gives the smallest reserve
that works: that is the peak, reported together with the scraps (its uncertainty).
The reserve must be one contiguous block, so run this with a heap well above the budget
(bench/crypto.py uses 512 KB): after importing source modules into a 96 KB heap the largest
free block can be smaller than an operation's peak even though the scattered free heap
suffices. Within that condition the result barely depends on the -X heapsize (tens of bytes).
It excludes the modules' code and the compiler's transient memory during import.
"""

import gc

RESOLUTION = 16  # bytes: one MicroPython GC block


def _fill_heap():
    """Allocate chunks until nothing more fits; return the chain that keeps them alive."""
    chain = None
    size = gc.mem_free()
    while size >= RESOLUTION:
        try:
            chain = (bytearray(size), chain)
        except MemoryError:
            size //= 2
    return chain


def _reserve_then_fill(size):
    # Separate frame, so no stale reference to the reserve stays in this one.
    reserve = bytearray(size)
    chain = _fill_heap()
    scraps = gc.mem_free()
    reserve = None  # noqa: F841
    return chain, scraps


def _attempt(operation, size):
    """(completed, scraps): does operation() run in a ``size``-byte reserve?"""
    gc.collect()
    try:
        chain, scraps = _reserve_then_fill(size)
    except MemoryError:
        gc.collect()
        return (False, 0)
    gc.collect()
    try:
        operation()
        completed = True
    except MemoryError:
        completed = False
    chain = None  # noqa: F841
    gc.collect()
    return (completed, scraps)


def largest_block():
    """Size of the largest bytearray that can be allocated now (16-byte resolution)."""
    gc.collect()
    low = 0
    high = gc.mem_free() + RESOLUTION
    while high - low > RESOLUTION:
        middle = (low + high) // 2
        try:
            block = bytearray(middle)
            block = None  # noqa: F841
            low = middle
        except MemoryError:
            high = middle
        gc.collect()
    return low


def peak_bytes(operation):
    """Return (peak_bytes, scraps_bytes, free_bytes_before) for ``operation()``.

    peak_bytes is the smallest reserve in which the operation completes, None when even the
    largest contiguous free block is not enough; the true peak lies between peak_bytes and
    peak_bytes + scraps_bytes (+ the reserve's 32-byte object header). free_bytes_before is
    gc.mem_free() after imports and inputs.
    """
    operation()
    gc.collect()
    free = gc.mem_free()
    high = largest_block()
    completed, scraps = _attempt(operation, high)
    if not completed:
        return (None, 0, free)
    low = 0
    while high - low > RESOLUTION:
        middle = (low + high) // 2
        completed, middle_scraps = _attempt(operation, middle)
        if completed:
            high = middle
            scraps = middle_scraps
        else:
            low = middle
    return (high, scraps, free)
