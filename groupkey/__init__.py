"""groupkey: the shared protocol library (crypto, wire format, TGDH, ledger verification).

Written in the subset of Python that MicroPython runs, so the ESP32 firmware, the gateway,
the ledger nodes and the tests all import this one implementation. Modules do no I/O:
bytes in, bytes and events out; randomness and time are arguments.
"""

VERSION = "0.1.0"
