"""Provisioning mode: a device without configuration gets it over BLE (docs/provisioning.md).

main.py enters it when there is no configuration file, or when the configuration says
``"provision": true``. Steps:

1. ``board.provisioning_radio()`` turns the radio on (on an ESP32 that also makes os.urandom a
   true RNG) and returns the board's link (ESP32: a GATT service; unix port: a loopback
   stand-in for the radio, board/unix.py).
2. The identity is loaded or made exactly as the member makes it (app.member, durable state on
   flash), so the device that is provisioned is the device that later joins; a fresh X25519
   key and an 8-digit pairing code are made for this session only, and the identity's
   fingerprint and the code are shown on the console (the ``provisioning`` line).
3. The link serves the OFFER (groupkey.provisioning) and hands each written frame to
   ``Session.on_write``. The sealed configuration is opened, parsed and checked
   (app.config: required keys), written atomically (temporary file + rename) to the
   configuration path, and the STATUS becomes the ACK (the identity's signature over the
   sealed message it opened and stored). A frame 0 starts a new attempt (STATUS back to
   empty), so a gateway can retry after a broken link or a refused configuration.
4. The device reboots into normal operation with that configuration.

A frame or a configuration that fails any check sets STATUS to ``b"error"`` (all the peer
learns) and logs ``provisioning_failed`` with the precise reason for the operator's console;
the device stays in provisioning mode and nothing is written. Configuration values are never
logged (they hold the Wi-Fi and MQTT passwords): only the keys and a fingerprint.
"""

import asyncio
import json
import os

from app import config as device_config
from app.logger import fingerprint

# Status values other than an ACK.
WAITING = b""
ERROR = b"error"


class Session:
    """One provisioning session: the identity's seed, this session's box secret, where the
    configuration goes. ``on_write(frame)`` is called by the link for each CONFIG write."""

    def __init__(self, seed, identity, box_secret, code, config_path, log):
        from groupkey import provisioning

        self.code = code
        self.seed = seed
        self.identity = identity
        self.box_secret = box_secret
        self.config_path = config_path
        self.log = log
        self.assembler = provisioning.Assembler(provisioning.MAX_CONFIG + 64)
        self.status = WAITING
        self.done = asyncio.Event()
        self.failures = 0

    def offer(self):
        from groupkey import provisioning

        return provisioning.offer_from_parts(self.seed, self.box_secret)

    def on_write(self, frame):
        """Handle one frame; returns the new STATUS value."""
        from groupkey import provisioning

        if self.done.is_set():
            return self.status  # provisioned: later writes change nothing
        try:
            sealed = self.assembler.add(frame)
            if frame[0] == 0:
                self.status = WAITING  # a new attempt: an earlier failure is not its answer
            if sealed is None:
                return self.status
            config = provisioning.open_sealed(sealed, self.identity, self.box_secret,
                                              self.code)
            keys = self.check(config)
            self.store(config)
        except (provisioning.ProvisioningError, device_config.ConfigError, ValueError,
                MemoryError, OSError) as exc:
            self.failures += 1
            self.log("provisioning_failed", {"reason": str(exc), "failures": self.failures})
            self.status = ERROR
            return self.status
        # the ACK and the log name the sealed message, never the configuration itself: its
        # hash would let anyone who sees them test guesses of the passwords in it
        self.status = provisioning.ack_from_parts(self.seed, sealed)
        self.log("provisioned", {"sealed": fingerprint(sealed), "keys": keys,
                                 "path": self.config_path})
        self.done.set()
        return self.status

    def check(self, config):
        """The sorted keys of a configuration this device can run with (ValueError or
        ConfigError otherwise)."""
        loaded = json.loads(config)
        if not isinstance(loaded, dict):
            raise ValueError("configuration is not a JSON object")
        if loaded.get("provision"):
            raise ValueError("configuration would provision again")
        merged = device_config.merge(loaded)  # ConfigError without the required keys
        if not merged.get("ledger_keys"):
            raise ValueError("configuration names no ledger node keys")
        return sorted(loaded)

    def store(self, config):
        """Write the configuration atomically: a reboot sees the old file or the new one."""
        temporary = self.config_path + ".tmp"
        with open(temporary, "wb") as handle:
            handle.write(config)
        try:
            os.rename(temporary, self.config_path)
        except OSError:
            # a filesystem that cannot rename over a file: remove, then rename; a power cut
            # in between leaves only the .tmp, which main.load_config then takes
            os.remove(self.config_path)
            os.rename(temporary, self.config_path)


async def run(board, config, config_path, log):
    """Provisioning mode until a configuration is stored; then reboot (board.reboot())."""
    from durable import DurableState

    from app.member import Member

    board.status("provisioning")
    link = await board.provisioning_radio()
    device_id = config.get("device_id") or board.device_id()
    member = Member({"group_id": ""}, device_id, DurableState(board.flash_dir), log, board)
    member.start(board.random_bytes)  # the member's own identity, loaded or made
    from groupkey import provisioning

    session = Session(member.seed, member.identity, board.random_bytes(32),
                      provisioning.pairing_code(board.random_bytes), config_path, log)
    member = None
    from groupkey.did import did_from_public_key

    # The console is this device's display: the operator reads the identity's fingerprint
    # and the session's pairing code off it and gives both to the gateway. The code is a
    # one-session secret meant to be shown, like a Bluetooth passkey, not key material.
    log("provisioning", {"did": did_from_public_key(session.identity),
                         "fingerprint": fingerprint(session.identity),
                         "pairing_code": session.code.decode(), "link": link.name})
    await link.serve(session.offer(), session.on_write)
    await session.done.wait()
    await asyncio.sleep_ms(config.get("provision_linger_ms", 2000))  # the gateway reads the ACK
    link.close()
    board.reboot()
