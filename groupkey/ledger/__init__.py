"""Shared ledger formats and verification (MicroPython subset).

entry     wire format of identity and group events
merkle    RFC 9162 hashing, inclusion and consistency proof verification
receipt   checkpoints, receipts, the t-of-n bundle verifier and equivocation check
encoding  bounds-checked big-endian helpers
errors    the exception tree

Nothing here does I/O. The ledger node (``ledger_node``, CPython) builds on these modules.
"""
