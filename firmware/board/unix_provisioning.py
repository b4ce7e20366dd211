"""Provisioning mode's link on the unix port: a test double for the BLE radio (there is
none here). Imported only in provisioning mode (board/unix.py ``provisioning_radio``)."""

import asyncio


class UnixProvisioningLink:
    """Test double for the BLE radio of provisioning mode (app/provision.py): the GATT
    service of board/esp32.py as a line protocol on 127.0.0.1:``port``, one client at a
    time (gateway/provision.py's SocketLink is the other end)::

        READ <uuid>          -> VALUE <hex>      the OFFER or the STATUS characteristic
        WRITE <uuid> <hex>   -> OK               a CONFIG write, handled before the answer
        anything else        -> ERROR
    """

    name = "unix-socket"

    def __init__(self, port, log):
        self.port = port
        self.log = log
        self.values = {}
        self.on_write = None
        self.server = None

    async def serve(self, offer, on_write):
        """Start answering: OFFER reads return ``offer``; ``on_write(frame)`` handles a
        CONFIG write and returns the new STATUS value."""
        from groupkey import provisioning

        self.values = {provisioning.OFFER_UUID: offer, provisioning.STATUS_UUID: b""}
        self.on_write = on_write
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.log("provisioning_link", {"port": self.port})

    async def _client(self, reader, writer):
        import binascii

        from groupkey import provisioning

        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                words = line.decode().split()
                answer = b"ERROR\n"
                if len(words) == 2 and words[0] == "READ" and words[1] in self.values:
                    answer = b"VALUE " + binascii.hexlify(self.values[words[1]]) + b"\n"
                elif len(words) == 3 and words[0] == "WRITE" and \
                        words[1] == provisioning.CONFIG_UUID:
                    try:
                        frame = binascii.unhexlify(words[2])
                    except ValueError:
                        frame = b""
                    self.values[provisioning.STATUS_UUID] = self.on_write(frame)
                    answer = b"OK\n"
                writer.write(answer)
                await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()

    def close(self):
        if self.server is not None:
            self.server.close()
