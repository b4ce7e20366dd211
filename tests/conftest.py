"""Shared pytest fixtures."""

from __future__ import annotations

import pytest

from tests.micropython_runner import MicroPythonMissing, micropython_binary, run_micropython


@pytest.fixture(scope="session")
def micropython():
    """The MicroPython runner (see tests/micropython_runner.py). Fails, never skips, when the
    interpreter is missing."""
    try:
        micropython_binary()
    except MicroPythonMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    return run_micropython


@pytest.fixture(params=["pure", "pycryptodome"])
def crypto_backend(request):
    """Run a CPython test once per crypto backend, restoring the default afterwards."""
    from groupkey.crypto import backend

    previous = backend.current()
    backend.use(request.param)
    yield request.param
    backend.use(previous)
