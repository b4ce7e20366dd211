"""Vector checks that run unchanged under CPython and MicroPython.

One module per vector kind. Each exposes ``compute(inputs) -> dict``; the result must equal
the vector's ``expected`` dict, under every crypto backend on CPython and under the real
MicroPython interpreter (tests/test_vectors.py drives both, tests/mpy/run_checks.py is the
MicroPython side). A module may set ``BACKENDS = ("pure",)`` when no pycryptodome path exists.
"""


def error_name(fn, *args):
    """Call fn(*args); return {"error": <exception class name>} if a CryptoError is raised."""
    from groupkey.crypto.errors import CryptoError

    try:
        return {"value": fn(*args)}
    except CryptoError as exc:
        return {"error": type(exc).__name__}
