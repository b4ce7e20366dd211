"""`make flash` with --romfs (hardware/flash.py): the board image, packed for a ROMFS partition.

No board here: the mpremote commands are checked in dry-run, and the ROMFS image is mounted in
the MicroPython unix port (tests/micropython_romfs.py) to check what a board would find in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.micropython_runner import REPO

FLASH = REPO / "hardware" / "flash.py"
LAUNCHER = REPO / "tests" / "micropython_romfs.py"
LIST = """
import json, os, sys, uctypes, vfs
a, n = os.getenv("GROUPKEY_ROMFS").split(":")
vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(a), int(n))), "/rom")
sys.path.insert(0, "/rom")
from groupkey.tgdh import member
print(json.dumps({"root": sorted(os.listdir("/rom")), "member": member.__file__}))
"""


@pytest.mark.micropython
def test_flash_romfs_dry_run_packs_the_modules_and_keeps_main_as_a_file(micropython, tmp_path):
    out = tmp_path / "device"
    process = subprocess.run(
        [sys.executable, str(FLASH), "--port", "/dev/ttyUSB9", "--romfs", "--dry-run",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False, cwd=str(REPO))
    assert process.returncode == 0, process.stderr
    lines = process.stdout.strip().splitlines()
    image = out.with_suffix(".romfs")
    assert lines[-2] == "mpremote connect /dev/ttyUSB9 romfs deploy %s" % image
    assert lines[-1] == ("mpremote connect /dev/ttyUSB9 fs cp %s : + reset"
                         % (out / "main.py"))
    script = tmp_path / "list.py"
    script.write_text(LIST)
    listed = subprocess.run(
        [sys.executable, str(LAUNCHER), str(image), "-X", "heapsize=256K", str(script)],
        capture_output=True, text=True, timeout=120, check=False,
        env=dict(os.environ, MICROPYPATH=str(tmp_path)))
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout.strip().splitlines()[-1])
    assert "groupkey" in found["root"] and "app" in found["root"]
    assert "main.py" not in found["root"]
    assert found["member"] == "/rom/groupkey/tgdh/member.mpy"
