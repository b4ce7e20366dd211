"""The ROMFS launcher (tests/micropython_romfs.py), the test double for a board's flash.

It must really keep the code out of MicroPython's heap (or the heap numbers measured with it
mean nothing), import the same .mpy files a board gets, and boot a ``rom:`` script the way a
board with a ROMFS partition boots main.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.micropython_runner import REPO, micropython_binary
from tests.mpy_build import build, build_romfs

LAUNCHER = REPO / "tests" / "micropython_romfs.py"
PROBE = """
import gc, json, sys
{mount}
gc.collect()
before = gc.mem_alloc()
from groupkey.tgdh import member
from groupkey.crypto import ed25519
gc.collect()
print(json.dumps({{"code": gc.mem_alloc() - before, "file": member.__file__}}))
"""
MOUNT = """
import os, uctypes, vfs
a, n = os.getenv("GROUPKEY_ROMFS").split(":")
vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(a), int(n))), "/rom")
sys.path.insert(0, "/rom")
"""


def run(argv, env=None):
    process = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                             env=env, cwd=str(REPO), check=False)
    assert process.returncode == 0, process.stderr[-2000:]
    return process.stdout


@pytest.mark.micropython
def test_code_in_romfs_stays_out_of_the_heap(micropython, tmp_path):
    image = build_romfs()
    library = build()
    rom_script = tmp_path / "rom.py"
    rom_script.write_text(PROBE.format(mount=MOUNT))
    heap_script = tmp_path / "heap.py"
    heap_script.write_text(PROBE.format(mount=""))
    env = dict(os.environ, MICROPYPATH=str(tmp_path))
    rom = json.loads(run([sys.executable, str(LAUNCHER), str(image), "-X", "heapsize=512K",
                          str(rom_script)], env).strip().splitlines()[-1])
    env["MICROPYPATH"] = str(library)
    heap = json.loads(run([micropython_binary(), "-X", "heapsize=512K", str(heap_script)],
                          env).strip().splitlines()[-1])
    assert rom["file"].startswith("/rom/groupkey/")
    assert heap["file"].startswith(str(library))
    # The bytecode (about 30 KB for these imports) is not copied into the heap from ROMFS.
    assert rom["code"] < heap["code"] - 20_000, (rom, heap)


@pytest.mark.micropython
def test_rom_script_boots_from_the_image_with_its_arguments(micropython, tmp_path):
    image = tmp_path / "image.romfs"
    source = tmp_path / "tree"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "__init__.py").write_text("VALUE = 41\n")
    (source / "main.py").write_text(
        "import sys\nimport pkg\nprint(__name__, sys.argv[0], sys.argv[1:], pkg.VALUE + 1)\n")
    from mpremote.romfs import make_romfs

    image.write_bytes(make_romfs(str(source), mpy_cross=False))
    output = run([sys.executable, str(LAUNCHER), str(image), "-X", "heapsize=64K",
                  "rom:main.py", "one", "two"], dict(os.environ, MICROPYPATH=str(tmp_path)))
    assert output.strip().splitlines()[-1] == "__main__ /rom/main.py ['one', 'two'] 42"


def test_launcher_without_a_script_prints_usage():
    process = subprocess.run([sys.executable, str(LAUNCHER)], capture_output=True, text=True,
                             timeout=60, check=False)
    assert process.returncode == 2
    assert "ROMFS" in process.stderr
