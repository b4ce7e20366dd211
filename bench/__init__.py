"""Benchmarks of groupkey (``make bench``, ``make bench-instructions``).

``bench.run`` finds the suites, ``bench.report`` builds, checks and prints results (table and
JSON lines), ``bench.micropython`` runs scripts under the real MicroPython interpreter, and each
suite module (``bench.crypto``, ``bench.instructions``, later ``bench.tgdh``, ``bench.ledger``,
``bench.e2e``) exposes ``run(options) -> list of result dicts``. Scripts that run inside
MicroPython live in ``bench/mpy/``. See docs/benchmarks.md.
"""
