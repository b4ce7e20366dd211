"""Ledger node (CPython): validates, stores and countersigns group key transitions.

See docs/ledger.md; run with ``python -m ledger_node``.
"""
