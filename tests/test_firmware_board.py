"""The board module (firmware/board/): the only code touching machine, network, bluetooth and
esp32; the entropy gate; the unix watchdog stand-in; the reset button file; every firmware
module compiles with mpy-cross for the ESP32."""

from __future__ import annotations

import re

import pytest

from hardware.build_image import build
from tests.device_process import FIRMWARE, DeviceProcess
from tests.micropython_runner import REPO

HARDWARE_MODULES = re.compile(r"^\s*(?:import|from)\s+(machine|network|bluetooth|esp32)\b",
                              re.MULTILINE)


def test_only_the_esp32_board_imports_hardware_modules():
    offenders = []
    for path in sorted([*FIRMWARE.rglob("*.py"), *(REPO / "groupkey").rglob("*.py")]):
        if path == FIRMWARE / "board" / "esp32.py":
            continue
        if HARDWARE_MODULES.search(path.read_text()):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
    assert HARDWARE_MODULES.search((FIRMWARE / "board" / "esp32.py").read_text())


def test_esp32_image_builds_with_mpy_cross(tmp_path):
    """Every firmware and groupkey module compiles for the ESP32 (xtensawin), the board
    module included: the ESP32 code at least parses as MicroPython."""
    summary = build(tmp_path / "image", arch="xtensawin")
    assert (tmp_path / "image" / "board" / "esp32.mpy").exists()
    assert summary["firmware_modules"] >= 15 and summary["library_modules"] >= 1


@pytest.mark.micropython
def test_entropy_gate_opens_only_after_network_up(micropython, tmp_path):
    code = """
import asyncio
from board import Board, EntropyNotReady
board = Board({"flash_dir": %r}, lambda event, detail=None: None)
try:
    board.random_bytes(32)
    print("drawn-before-network")
except EntropyNotReady:
    print("refused-before-network")
asyncio.run(board.network_up())
print(len(board.random_bytes(32)), board.random_bytes(16) != board.random_bytes(16))
""" % str(tmp_path / "flash")
    result = micropython(code=code, extra_path=(str(FIRMWARE),))
    assert result.stdout.split() == ["refused-before-network", "32", "True"]


@pytest.mark.micropython
def test_reset_button_file_is_consumed(micropython, tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "reset_button").write_text("")
    code = """
from board import Board
board = Board({"flash_dir": %r}, lambda event, detail=None: None)
print(board.reset_requested(), board.reset_requested())
""" % str(flash)
    result = micropython(code=code, extra_path=(str(FIRMWARE),))
    assert result.stdout.split() == ["True", "False"]
    assert not (flash / "reset_button").exists()


WATCHDOG_SCRIPT = """
import asyncio, json, sys, time
from board import Board
board = Board({"flash_dir": sys.argv[1]})
async def main(block_ms):
    dog = board.watchdog(1000)  # wide margins: a loaded CI machine delays the feeding loop
    for _ in range(8):          # 0.8 s, fed every 100 ms
        dog.feed()
        await asyncio.sleep_ms(100)
    print(json.dumps({"event": "fed"}))
    time.sleep_ms(block_ms)     # a loop that does not yield
    dog.feed()
    print(json.dumps({"event": "survived"}))
asyncio.run(main(int(sys.argv[2])))
"""


@pytest.mark.micropython
@pytest.mark.parametrize("block_ms", [100, 3000])
def test_unix_watchdog_resets_when_not_fed(tmp_path, block_ms):
    script = tmp_path / "watchdog.py"
    script.write_text(WATCHDOG_SCRIPT)
    device = DeviceProcess(script, (tmp_path / "flash", block_ms),
                           stderr_path=tmp_path / "stderr")
    try:
        code = device.wait_exit(timeout=20)
    finally:
        device.stop()
    names = [event["event"] for event in device.events]
    if block_ms < 1000:
        assert code == 0 and names == ["fed", "survived"], device.transcript()
    else:
        assert code == -9, device.transcript()
        assert names == ["fed", "watchdog_expired"], device.transcript()
        assert "WATCHDOG" in (tmp_path / "stderr").read_text()


def test_flash_copies_every_image_entry_then_resets(tmp_path):
    from hardware.flash import copy_command

    for name in ("main.py", "durable.mpy", "mqtt", "groupkey"):
        (tmp_path / name).mkdir() if "." not in name else (tmp_path / name).write_text("")
    command = copy_command("/dev/ttyUSB0", tmp_path)
    assert command[:3] == ["mpremote", "connect", "/dev/ttyUSB0"] and command[-1] == "reset"
    copied = [command[i + 3] for i, word in enumerate(command) if word == "fs"]
    assert sorted(copied) == sorted(str(tmp_path / name) for name in
                                    ("main.py", "durable.mpy", "mqtt", "groupkey"))
