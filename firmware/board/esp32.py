"""Board for an ESP32 (ESP32-DevKitC and similar, see hardware/README.md).

The only module of the firmware that imports machine, network, esp32 and (in provisioning
mode only) bluetooth, whose module object it hands to board/esp32_provisioning.py. Pins
come from the config: ``led_pin`` (default 2, the DevKitC has no user LED: wire one, see
hardware/), ``button_pin`` (default 0, the BOOT button, active low). Wi-Fi credentials:
``wifi_ssid`` and ``wifi_password``.

Entropy: the ESP32 hardware RNG is a true RNG only while Wi-Fi or Bluetooth is on
(ESP-IDF docs, "Random Number Generation"); ``network_up()`` turns the radio on and only
then opens the entropy gate (``require_entropy()``).
"""

import asyncio

import machine
import network

from board.common import BoardBase, NetworkDown

# LED patterns: (on ms, off ms); None = steady
PATTERNS = {
    "boot": (100, 100),
    "connecting": (250, 250),
    "online": None,
    "busy": (50, 450),
    "error": (1000, 1000),
    "provisioning": (100, 900),
}


def _no_log(event, detail=None):
    pass


class Board(BoardBase):
    """ESP32 board; see the module docstring."""

    name = "esp32"

    def __init__(self, config, log=None):
        super().__init__(config)
        self.log = log or _no_log
        self.flash_dir = config.get("flash_dir", "/state")
        self._led = machine.Pin(config.get("led_pin", 2), machine.Pin.OUT)
        self._button = machine.Pin(config.get("button_pin", 0), machine.Pin.IN,
                                   machine.Pin.PULL_UP)
        self._blinker = None
        self._wlan = None
        try:
            import os

            os.mkdir(self.flash_dir)
        except OSError:
            pass  # exists

    async def network_up(self, timeout_ms=30000):
        """Activate Wi-Fi and wait for an IP address (NetworkDown after ``timeout_ms``)."""
        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        self._wlan = wlan
        if not wlan.isconnected():
            wlan.connect(self.config["wifi_ssid"], self.config.get("wifi_password", ""))
        waited = 0
        while not wlan.isconnected():
            if waited >= timeout_ms:
                raise NetworkDown("Wi-Fi did not connect in %d ms" % timeout_ms)
            await asyncio.sleep_ms(200)
            waited += 200
        self.radio_up = True
        self.log("network_up", {"board": self.name, "ip": wlan.ifconfig()[0]})

    async def provisioning_radio(self):
        """Turn Bluetooth on for provisioning mode (the RNG is a true RNG from then on) and
        return its GATT link (Esp32ProvisioningLink)."""
        import bluetooth

        from board.esp32_provisioning import Esp32ProvisioningLink

        ble = bluetooth.BLE()
        ble.active(True)
        self.radio_up = True
        self.log("ble_up", {"board": self.name})
        return Esp32ProvisioningLink(bluetooth, ble, self.device_id(), self.log)

    def status(self, name):
        """Show ``name`` on the LED (steady or blinking)."""
        if name == self.status_name:
            return
        self.status_name = name
        if self._blinker is not None:
            self._blinker.cancel()
            self._blinker = None
        pattern = PATTERNS.get(name, (1000, 1000))
        if pattern is None:
            self._led.value(1)
        else:
            self._blinker = asyncio.create_task(self._blink(pattern))

    async def _blink(self, pattern):
        while True:
            self._led.value(1)
            await asyncio.sleep_ms(pattern[0])
            self._led.value(0)
            await asyncio.sleep_ms(pattern[1])

    def watchdog(self, timeout_ms):
        """machine.WDT: once started it cannot be stopped; unfed, it resets the chip."""
        return machine.WDT(timeout=timeout_ms)

    def reset_requested(self):
        """True when the reset button is held down (active low) at boot."""
        return self._button.value() == 0

    def device_id(self):
        """``device_id`` from the config, else ``esp32-`` and the chip's unique id in hex."""
        import binascii

        return self.config.get("device_id") or "esp32-" + binascii.hexlify(
            machine.unique_id()).decode()

    def mem_free(self):
        """Free heap in bytes after a collection."""
        import gc

        gc.collect()
        return gc.mem_free()

    def temperature(self):
        """The chip's internal temperature sensor in degrees C (the demo app's reading)."""
        import esp32

        if hasattr(esp32, "mcu_temperature"):
            return esp32.mcu_temperature()
        return round((esp32.raw_temperature() - 32) / 1.8, 1)  # original ESP32: Fahrenheit

    def reboot(self):
        """Hardware reset; does not return."""
        machine.reset()
