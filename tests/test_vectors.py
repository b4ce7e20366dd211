"""Every vector file under tests/vectors/ runs under CPython (each crypto backend) and under the
real MicroPython interpreter; every result must equal the file's expected values, so both
interpreters agree byte for byte.

A vector file is JSON: {"source": <citation>, "check": <module in tests/checks/>,
"vectors": [{"name": ..., "input": {...}, "expected": {...}}, ...]}.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from groupkey.crypto import backend

VECTORS = Path(__file__).parent / "vectors"
FILES = sorted(VECTORS.glob("*.json"))


def load(path: Path) -> dict:
    document = json.loads(path.read_text())
    assert document.get("source"), "%s must cite its source" % path.name
    assert document["vectors"], "%s holds no vectors" % path.name
    return document


def check_module(document: dict):
    return importlib.import_module("tests.checks." + document["check"])


def cases():
    for path in FILES:
        document = load(path)
        module = check_module(document)
        for name in getattr(module, "BACKENDS", backend.available()):
            yield pytest.param(path, name, id="%s-%s" % (path.stem, name))


def test_vector_files_exist():
    assert FILES, "no vector files under tests/vectors"


@pytest.mark.parametrize(("path", "backend_name"), list(cases()))
def test_vectors_cpython(path: Path, backend_name: str):
    document = load(path)
    module = check_module(document)
    previous = backend.current()
    backend.use(backend_name)
    try:
        for vector in document["vectors"]:
            assert module.compute(vector["input"]) == vector["expected"], vector.get("name")
    finally:
        backend.use(previous)


@pytest.mark.micropython
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vectors_micropython(path: Path, micropython):
    document = load(path)
    heap = document.get("micropython_heap", "96K")
    result = micropython(
        Path(__file__).parent / "mpy" / "run_checks.py",
        args=[document["check"], str(path)],
        heap=heap,
        timeout=900,
    )
    lines = result.json_lines()
    assert lines and lines[-1] == {"done": len(document["vectors"])}, result.stderr[-2000:]
    for line, vector in zip(lines[:-1], document["vectors"], strict=True):
        assert "exception" not in line, "%s: %s" % (vector.get("name"), line["exception"])
        assert line["result"] == vector["expected"], vector.get("name")
