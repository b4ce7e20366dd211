"""Board for the MicroPython unix port: emulated devices in tests and ``make demo``.

- network: the host's, always up (``network_delay_ms`` in the config emulates a Wi-Fi join)
- status LED: a log line per change
- watchdog: a thread that kills the whole process (``kill -9``, like a hardware reset cuts
  power to the program) when ``feed()`` is not called in time, after printing
  ``{"event": "watchdog_expired", ...}``; it watches from outside the event loop, so a
  blocked loop is caught exactly as machine.WDT would catch it
- flash: a directory, ``$GROUPKEY_FLASH`` or ``flash_dir`` in the config (default ./flash)
- reset button: the file ``<flash>/reset_button`` existing at boot (consumed when read)
- reboot: exit with code 77; the harness that started the device starts it again
- BLE provisioning: a test double for the radio (there is none here), board/unix_provisioning.py:
  the GATT service's reads and writes as lines over TCP on 127.0.0.1 (``provision_port``)
"""

import asyncio
import json
import os
import sys
import time

from board.common import BoardBase, WatchdogExpired

REBOOT_EXIT_CODE = 77


def _print_log(event, detail=None):
    print(json.dumps({"event": event, "detail": detail}))


class Watchdog:
    """Same API as machine.WDT: ``feed()``. Fires once ``timeout_ms`` pass without a feed."""

    def __init__(self, timeout_ms, log):
        import _thread

        self.timeout_ms = timeout_ms
        self.fired = False
        self._log = log
        self._deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        _thread.start_new_thread(self._watch, ())

    def feed(self):
        """Restart the countdown. Raises WatchdogExpired if the watchdog already fired."""
        if self.fired:
            raise WatchdogExpired("watchdog fired before this feed")
        self._deadline = time.ticks_add(time.ticks_ms(), self.timeout_ms)

    def _watch(self):
        while True:
            time.sleep_ms(20)
            late = time.ticks_diff(time.ticks_ms(), self._deadline)
            if late > 0:
                self.fired = True
                self._log("watchdog_expired", {"timeout_ms": self.timeout_ms, "late_ms": late})
                sys.stderr.write("WATCHDOG: not fed for %d ms, resetting\n"
                                 % (self.timeout_ms + late))
                # the shell's parent is this interpreter: end it the way a reset would
                os.system("kill -9 $PPID")  # noqa: S605 (fixed command, no input)
                return


class Board(BoardBase):
    """Unix-port board; see the module docstring."""

    name = "unix"

    def __init__(self, config, log=None):
        super().__init__(config)
        self.log = log or _print_log
        self.flash_dir = os.getenv("GROUPKEY_FLASH") or config.get("flash_dir", "flash")
        try:
            os.mkdir(self.flash_dir)
        except OSError:
            pass  # exists

    async def network_up(self, timeout_ms=30000):
        """The host network is up; after this the RNG may be used."""
        await asyncio.sleep_ms(min(self.config.get("network_delay_ms", 0), timeout_ms))
        self.radio_up = True
        self.log("network_up", {"board": self.name})

    async def provisioning_radio(self):
        """Provisioning mode's radio (here the loopback test double, UnixProvisioningLink on
        ``provision_port`` or $GROUPKEY_PROVISION_PORT: a device whose configuration file is
        missing or unreadable has only the environment); opens the entropy gate as turning
        a radio on does."""
        from board.unix_provisioning import UnixProvisioningLink

        port = self.config.get("provision_port") or int(os.getenv("GROUPKEY_PROVISION_PORT")
                                                         or 0)
        if not port:  # the loopback link has no advertising: its client must know the port
            raise ValueError("unix board: provisioning mode needs provision_port in the "
                             "config or $GROUPKEY_PROVISION_PORT")
        self.radio_up = True
        return UnixProvisioningLink(port, self.log)

    def status(self, name):
        """The status LED: logged when it changes."""
        if name != self.status_name:
            self.status_name = name
            self.log("status", name)

    def watchdog(self, timeout_ms):
        """A watchdog stand-in with machine.WDT's feed() API."""
        return Watchdog(timeout_ms, self.log)

    def reset_requested(self):
        """True once if ``<flash>/reset_button`` existed (the file is removed)."""
        path = self.flash_dir + "/reset_button"
        try:
            os.remove(path)
            return True
        except OSError:
            return False

    def device_id(self):
        """``$GROUPKEY_DEVICE_ID`` or ``device_id`` from the config."""
        return os.getenv("GROUPKEY_DEVICE_ID") or self.config.get("device_id", "unix-device")

    def mem_free(self):
        """Free heap in bytes after a collection."""
        import gc

        gc.collect()
        return gc.mem_free()

    def temperature(self):
        """A fake sensor reading in degrees C (the demo app's payload): 20-25, slowly
        varying per device."""
        import time

        offset = sum(self.device_id().encode()) % 20
        return 20.0 + ((time.ticks_ms() // 1000 + offset) % 50) / 10

    def reboot(self):
        """Exit with REBOOT_EXIT_CODE; the harness restarts the device."""
        self.log("reboot", None)
        sys.exit(REBOOT_EXIT_CODE)
