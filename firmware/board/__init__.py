"""The one place that touches the hardware: machine, network, bluetooth and esp32.

``board.Board`` is chosen at import time by ``sys.platform``: ``board.esp32.Board`` on an
ESP32, ``board.unix.Board`` on the MicroPython unix port (emulated devices in tests and
``make demo``). Both have the same API:

    hardware = Board(config)          # config: dict from config.json
    await hardware.network_up()       # radio up; only now may keys be generated
    hardware.require_entropy()        # raises EntropyNotReady before network_up()
    hardware.status(name)             # "boot", "connecting", "online", "busy", "error"
    dog = hardware.watchdog(ms)       # dog.feed(); not fed in time -> the device resets
    hardware.reset_requested()        # reset button held at boot -> factory reset
    hardware.flash_dir                # directory of durable state
    hardware.device_id()              # stable hardware-derived name
    hardware.reboot()                 # does not return

No other firmware module imports machine, network, bluetooth or esp32
(tests/test_firmware_board.py checks the source tree).
"""

import sys

from board.common import EntropyNotReady, NetworkDown, WatchdogExpired  # noqa: F401

if sys.platform == "esp32":
    from board.esp32 import Board  # noqa: F401
else:
    from board.unix import Board  # noqa: F401
