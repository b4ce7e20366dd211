"""The single source of secure random bytes for the whole library.

On CPython and the MicroPython unix port os.urandom reads the kernel CSPRNG. On an ESP32,
os.urandom is backed by the hardware RNG, which is a true RNG only while the radio (Wi-Fi or
Bluetooth) is on: the firmware generates keys only after bringing the radio up.
"""

import os

from groupkey.crypto.errors import InvalidInput


def random_bytes(length):
    """Return ``length`` secure random bytes (0 <= length <= 4096)."""
    if not isinstance(length, int) or length < 0 or length > 4096:
        raise InvalidInput("random_bytes: length must be an int in 0..4096")
    data = os.urandom(length)
    if len(data) != length:
        raise InvalidInput("random_bytes: short read from the RNG")
    return data
