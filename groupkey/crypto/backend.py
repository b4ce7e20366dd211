"""Which implementation backs the crypto API.

``pure``          the MicroPython-subset code in this package (the only choice on a device)
``pycryptodome``  CPython only: the same API served by pycryptodome, for speed on the gateway
                  and the ledger nodes. Tests run every vector through both and require
                  byte-identical results.

The default is ``pycryptodome`` when it imports, else ``pure``. ``use()`` switches globally
(tests, benchmarks); ``GROUPKEY_CRYPTO_BACKEND=pure`` in the environment forces the pure path.
"""

import sys

PURE = "pure"
PYCRYPTODOME = "pycryptodome"

_current = None


def _pycryptodome_importable():
    if sys.implementation.name != "cpython":
        return False
    try:
        import Crypto  # noqa: F401
    except ImportError:
        return False
    return True


def available():
    """Names of the backends usable in this interpreter."""
    if _pycryptodome_importable():
        return (PURE, PYCRYPTODOME)
    return (PURE,)


def current():
    """Name of the active backend."""
    global _current
    if _current is None:
        forced = None
        if sys.implementation.name == "cpython":
            import os

            forced = os.environ.get("GROUPKEY_CRYPTO_BACKEND")
        if forced:
            use(forced)
        elif _pycryptodome_importable():
            _current = PYCRYPTODOME
        else:
            _current = PURE
    return _current


def fast():
    """True when calls should go to pycryptodome."""
    return current() == PYCRYPTODOME


def use(name):
    """Select the backend for every later call; raises ValueError if it is unavailable."""
    global _current
    if name not in available():
        raise ValueError("crypto backend %r is not available here" % (name,))
    _current = name
