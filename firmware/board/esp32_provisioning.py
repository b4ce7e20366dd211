"""Provisioning mode's GATT server on an ESP32 (board/esp32.py ``provisioning_radio``),
imported only in provisioning mode. The ``bluetooth`` module object comes from board/esp32.py,
the one module that imports hardware modules."""

import asyncio

# MicroPython bluetooth IRQ events (docs: "bluetooth - low-level Bluetooth").
_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3


class Esp32ProvisioningLink:
    """Provisioning mode's GATT server (groupkey.provisioning's service and UUIDs): OFFER
    readable, CONFIG writable (frames of up to FRAME_BUFFER bytes), STATUS readable and
    notified. Advertises the service with the device id in the scan response. The IRQ
    handler only queues writes; a task hands them to ``on_write`` outside the IRQ.
    Not yet run on a board (none attached where this is developed, hardware/README.md)."""

    name = "ble"
    FRAME_BUFFER = 256
    MAX_QUEUED = 32  # writes waiting for the task; more are dropped (the gateway retries)

    def __init__(self, bluetooth, ble, device_id, log):
        self.bluetooth = bluetooth  # the module, imported by board/esp32.py
        self.ble = ble
        self.device_id = device_id
        self.log = log
        self.connections = set()
        self.writes = []
        self.flag = asyncio.ThreadSafeFlag()
        self.handles = None
        self.task = None

    async def serve(self, offer, on_write):
        from groupkey import provisioning

        bluetooth = self.bluetooth
        service = (bluetooth.UUID(provisioning.SERVICE_UUID), (
            (bluetooth.UUID(provisioning.OFFER_UUID), bluetooth.FLAG_READ),
            (bluetooth.UUID(provisioning.CONFIG_UUID), bluetooth.FLAG_WRITE),
            (bluetooth.UUID(provisioning.STATUS_UUID),
             bluetooth.FLAG_READ | bluetooth.FLAG_NOTIFY),
        ))
        ((offer_handle, config_handle, status_handle),) = self.ble.gatts_register_services(
            (service,))
        self.handles = (offer_handle, config_handle, status_handle)
        self.ble.gatts_set_buffer(offer_handle, len(offer))
        self.ble.gatts_write(offer_handle, offer)
        self.ble.gatts_set_buffer(config_handle, self.FRAME_BUFFER)
        self.ble.gatts_set_buffer(status_handle, 80)
        self.ble.irq(self._irq)
        self.uuid = bytes(bluetooth.UUID(provisioning.SERVICE_UUID))
        self._advertise()
        self.task = asyncio.create_task(self._handle_writes(on_write))

    def _advertise(self):
        advertisement = b"\x02\x01\x06" + bytes((17, 0x07)) + self.uuid  # flags, UUID128
        name = self.device_id.encode()[:29]
        response = bytes((len(name) + 1, 0x09)) + name  # complete local name
        self.ble.gap_advertise(100000, adv_data=advertisement, resp_data=response)

    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            self.connections.add(data[0])
        elif event == _IRQ_CENTRAL_DISCONNECT:
            self.connections.discard(data[0])
            self._advertise()
        elif event == _IRQ_GATTS_WRITE and data[1] == self.handles[1]:
            if len(self.writes) < self.MAX_QUEUED:  # a flooding central cannot fill the heap
                self.writes.append(self.ble.gatts_read(self.handles[1]))
            self.flag.set()

    async def _handle_writes(self, on_write):
        status_handle = self.handles[2]
        while True:
            await self.flag.wait()
            while self.writes:
                try:
                    status = on_write(self.writes.pop(0))
                except Exception as exc:  # noqa: BLE001 (this task must outlive any frame)
                    self.log("provisioning_link_error", repr(exc))
                    status = b"error"
                self.ble.gatts_write(status_handle, status)
                for connection in tuple(self.connections):
                    try:
                        self.ble.gatts_notify(connection, status_handle)
                    except OSError:  # the central left meanwhile
                        self.connections.discard(connection)

    def close(self):
        if self.task is not None:
            self.task.cancel()
        self.ble.gap_advertise(None)
        self.ble.active(False)
