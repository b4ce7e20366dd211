"""JSON-line logging: one object per line on stdout, ``{"t": ms, "event": ..., "detail": ...}``.

The emulation harness and the tests parse these lines; on a board they go to the serial
console. Log fingerprints of keys, never key material.
"""

import json
import time

_started = time.ticks_ms()


def log(event, detail=None):
    """Print one event line; ``detail`` must be JSON-serializable."""
    print(json.dumps({"t": time.ticks_diff(time.ticks_ms(), _started), "event": event,
                      "detail": detail}))


def fingerprint(data):
    """First 8 bytes of SHA-256 in hex: safe to log for keys and secrets."""
    import binascii
    import hashlib

    return binascii.hexlify(hashlib.sha256(data).digest()[:8]).decode()
