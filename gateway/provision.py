"""Provision a new device over BLE (docs/provisioning.md): the gateway's side.

    python -m gateway.provision --config device.json --ble esp32-0123abcd \
        --code 12345678 --fingerprint 855b61a6ceaac78e
    python -m gateway.provision --config device.json --socket 127.0.0.1:PORT --code ... (emulated)
    (--no-verify instead of --fingerprint provisions whichever device answers)

Reads the device's OFFER (its identity and a session key, signed by the identity), checks
the signature and that the identity is the one the operator expects (``--fingerprint``, read
off the device's console or label; a name in an advertisement proves nothing), seals
``device.json`` (groupkey.provisioning) to the session key and the session's pairing code
(``--code``, shown on the device's console: without it the device cannot open what it is
sent), writes it in frames, and waits
for the device's ACK: its identity's signature over exactly that sealed configuration.
Prints one JSON line {"did", "identity", "fingerprint"}; admit the device with
``python -m gateway.operator invite <did>``.

Links: BleakLink (bleak, a real radio; pinned in requirements-hardware.txt, installed by
``make hardware-setup``) and SocketLink, the loopback stand-in for the radio that the unix
board's provisioning mode serves (firmware/board/unix_provisioning.py). Exit codes:
0 provisioned, 1 failed (the reason on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import hashlib
import json
import sys
from pathlib import Path

from groupkey import provisioning
from groupkey.did import did_from_public_key

DEFAULT_FRAME = 20  # BLE's minimum ATT payload (MTU 23 - 3)


class ProvisionFailed(Exception):
    """The device's offer or acknowledgement did not check out, or it reported an error."""


def fingerprint(data: bytes) -> str:
    """The firmware's fingerprint (app/logger.py): first 8 bytes of SHA-256, hex."""
    return hashlib.sha256(data).digest()[:8].hex()


class SocketLink:
    """Test double for the BLE radio: the unix board's provisioning line protocol over TCP
    (READ <uuid> -> VALUE <hex>; WRITE <uuid> <hex> -> OK)."""

    settle = 0.0  # the unix board handles a write before it answers OK

    def __init__(self, host: str, port: int, frame_size: int = DEFAULT_FRAME):
        self.host, self.port, self.frame_size = host, port, frame_size
        self.reader = self.writer = None

    async def connect(self, timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                return
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)  # the device is still booting

    async def _ask(self, line: str) -> bytes:
        self.writer.write(line.encode() + b"\n")
        await self.writer.drain()
        answer = await self.reader.readline()
        if not answer:
            raise ProvisionFailed("the device closed the link")
        return answer.strip()

    async def read(self, uuid: str) -> bytes:
        answer = await self._ask("READ %s" % uuid)
        if not answer.startswith(b"VALUE"):
            raise ProvisionFailed("read of %s refused" % uuid)
        return binascii.unhexlify(answer[6:])

    async def write(self, uuid: str, data: bytes) -> None:
        if await self._ask("WRITE %s %s" % (uuid, data.hex())) != b"OK":
            raise ProvisionFailed("write to %s refused" % uuid)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class BleakLink:
    """A real BLE link with bleak: the device found by address or advertised name."""

    settle = 1.0  # seconds for the device's task to handle the last write

    def __init__(self, target: str, frame_size: int | None = None):
        self.target, self.frame_size, self.client = target, frame_size, None

    async def connect(self, timeout: float = 30.0) -> None:
        from bleak import BleakClient, BleakScanner

        device = await BleakScanner.find_device_by_address(self.target, timeout=timeout)
        if device is None:
            device = await BleakScanner.find_device_by_name(self.target, timeout=timeout)
        if device is None:
            raise ProvisionFailed("no device %s advertising" % self.target)
        self.client = BleakClient(device)
        await self.client.connect()
        if self.frame_size is None:
            self.frame_size = min(max(self.client.mtu_size - 3, DEFAULT_FRAME), 244)

    async def read(self, uuid: str) -> bytes:
        return bytes(await self.client.read_gatt_char(uuid))

    async def write(self, uuid: str, data: bytes) -> None:
        await self.client.write_gatt_char(uuid, data, response=True)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.disconnect()


async def provision(link, config: bytes, code: str, expected_fingerprint: str | None = None,
                    timeout: float = 30.0) -> dict:
    """Run one provisioning session over a connected ``link``; returns what the operator
    needs to admit the device. Raises ProvisionFailed (or ProvisioningError) otherwise."""
    identity, box_public = provisioning.decode_offer(await link.read(provisioning.OFFER_UUID))
    found = fingerprint(identity)
    if expected_fingerprint is not None and found != expected_fingerprint.lower():
        raise ProvisionFailed("device identity %s is not the expected %s" % (
            found, expected_fingerprint))
    sealed = provisioning.seal(identity, box_public, config, code.encode())
    for frame in provisioning.frames(sealed, link.frame_size):
        await link.write(provisioning.CONFIG_UUID, frame)
    deadline = asyncio.get_running_loop().time() + timeout
    await asyncio.sleep(link.settle)  # over BLE a write is answered before the device ran it
    while True:
        status = await link.read(provisioning.STATUS_UUID)
        if status == b"error":
            raise ProvisionFailed("the device refused the configuration (its console says why)")
        if status:
            provisioning.check_ack(status, identity, sealed)
            return {"did": did_from_public_key(identity), "identity": identity.hex(),
                    "fingerprint": found}
        if asyncio.get_running_loop().time() > deadline:
            raise ProvisionFailed("no acknowledgement within %.0f s" % timeout)
        await asyncio.sleep(0.2)


def load_device_config(path: str) -> bytes:
    """The device configuration file as compact JSON bytes (checked to be an object)."""
    loaded = json.loads(Path(path).read_text())
    if not isinstance(loaded, dict) or not loaded.get("group_id"):
        raise ValueError("%s: a JSON object with group_id is needed" % path)
    return json.dumps(loaded, separators=(",", ":"), sort_keys=True).encode()


async def _run(arguments) -> dict:
    if arguments.socket:
        host, _, port = arguments.socket.rpartition(":")
        link = SocketLink(host or "127.0.0.1", int(port), arguments.frame_size or DEFAULT_FRAME)
    else:
        link = BleakLink(arguments.ble, arguments.frame_size)
    await link.connect(arguments.timeout)
    try:
        return await provision(link, load_device_config(arguments.config), arguments.code,
                               arguments.fingerprint, arguments.timeout)
    finally:
        await link.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.provision", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the device's configuration (JSON)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--ble", help="BLE address or advertised name of the device")
    where.add_argument("--socket", help="HOST:PORT of an emulated device's link")
    check = parser.add_mutually_exclusive_group(required=True)
    check.add_argument("--fingerprint", help="expected identity fingerprint (16 hex digits, "
                       "from the device's console or label)")
    check.add_argument("--no-verify", action="store_true",
                       help="provision whichever device answers (a device in radio range "
                       "could pose as the one on the bench)")
    parser.add_argument("--code", required=True,
                        help="the 8-digit pairing code the device shows for this session")
    parser.add_argument("--frame-size", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=30.0)
    arguments = parser.parse_args(argv)
    try:
        result = asyncio.run(_run(arguments))
    except (ProvisionFailed, provisioning.ProvisioningError, OSError, ValueError) as exc:
        print("provisioning failed: %s" % exc, file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
