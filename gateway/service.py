"""The gateway service: one MQTT connection, the ledger client, and a Group per group.

Topics (docs/firmware.md): subscribes ``gk/<group>/req/+``, ``gk/<group>/presence/+`` and
``gk/<group>/admin/+``; answers on ``gk/<group>/resp/<device>``; announces each final
transition retained on ``gk/<group>/epoch``. Incoming messages are handled one at a time in
arrival order on the asyncio loop, except that a transition round runs as its own task
(so the answers it waits for can arrive). Event lines (JSON, stdout) let the demo, tests and
benchmarks follow what happens; logs go to stderr. Neither holds key material.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time

from gateway import rebuild as rebuilding
from gateway.bridge import Bridge
from gateway.group import Group
from ledger_node.client import LedgerClient

log = logging.getLogger("gateway")


class Gateway:
    """Run with ``await Gateway(settings).run()``; ``stop()`` ends it."""

    def __init__(self, settings, event_stream=None):
        self.settings = settings
        self.events_enabled = settings.logging["events"]
        self.event_stream = event_stream or sys.stdout
        self.groups = {name: Group(name, self) for name in settings.groups["names"]}
        self.bridge: Bridge | None = None
        self.ledger: LedgerClient | None = None
        self.stopping = asyncio.Event()
        self.started = time.monotonic()

    def emit(self, event: str, **fields) -> None:
        """One JSON event line on stdout (fingerprints and device ids, never keys)."""
        if not self.events_enabled:
            return
        fields["event"] = event
        fields["t"] = round(time.monotonic() - self.started, 3)
        self.event_stream.write(json.dumps(fields) + "\n")
        self.event_stream.flush()

    def subscriptions(self) -> list[str]:
        topics = []
        for name in self.groups:
            topics += ["gk/%s/req/+" % name, "gk/%s/presence/+" % name,
                       "gk/%s/admin/+" % name]
        return topics

    async def rebuild_all(self) -> None:
        """Rebuild every group from the ledger; retried until the ledger answers."""
        for group in self.groups.values():
            while not self.stopping.is_set():
                try:
                    entries_read = await rebuilding.rebuild(group, self.ledger)
                    self.emit("rebuilt", group=group.name, entries=entries_read,
                              epoch=group.state.epoch if group.state else None,
                              members=len(group.state.members()) if group.state else 0)
                    break
                except rebuilding.RebuildError as exc:
                    log.error("%s: cannot rebuild from the ledger: %s", group.name, exc)
                    await asyncio.sleep(2)
                except Exception as exc:
                    log.warning("%s: ledger not reachable for rebuild (%s); retrying",
                                group.name, exc)
                    await asyncio.sleep(1)

    async def run(self) -> None:
        mqtt = self.settings.mqtt
        loop = asyncio.get_running_loop()
        async with LedgerClient(self.settings.ledger["urls"],
                                timeout=self.settings.ledger["timeout_s"]) as ledger:
            self.ledger = ledger
            await self.rebuild_all()
            self.bridge = Bridge(loop, mqtt["username"] or "gateway", self.subscriptions())
            self.bridge.start(mqtt["host"], mqtt["port"], mqtt["username"], mqtt["password"],
                              mqtt["keepalive"])
            tasks = [asyncio.create_task(group.round_loop()) for group in self.groups.values()]
            tasks.append(asyncio.create_task(self._presence_loop()))
            tasks.append(asyncio.create_task(self._dispatch()))
            try:
                await asyncio.wait_for(self.bridge.connected.wait(), 30)
            except asyncio.TimeoutError:
                log.warning("broker not reachable yet; paho keeps trying")
            self.emit("ready", groups=list(self.groups))
            log.info("gateway ready: groups %s", ", ".join(self.groups))
            try:
                await self.stopping.wait()
            finally:
                for task in tasks:
                    task.cancel()
                self.bridge.stop()

    def stop(self) -> None:
        self.stopping.set()

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for group in self.groups.values():
                try:
                    group.presence_check()
                except Exception as exc:
                    log.exception("%s: presence check failed: %s", group.name, exc)

    async def _dispatch(self) -> None:
        """Route each message by topic: gk/<group>/<kind>/<device or name>."""
        while True:
            topic, payload, _ = await self.bridge.messages.get()
            parts = topic.split("/")
            if len(parts) != 4 or parts[0] != "gk" or parts[1] not in self.groups:
                log.warning("message on unexpected topic %s", topic)
                continue
            group = self.groups[parts[1]]
            kind, name = parts[2], parts[3]
            try:
                if kind == "req":
                    # handled in its own task: a REGISTER waits for the ledger, and the
                    # answers a running round waits for must not queue behind it
                    asyncio.create_task(group.handle_request(name, payload))
                elif kind == "presence":
                    group.handle_presence(name, payload)
                elif kind == "admin":
                    asyncio.create_task(group.handle_admin(name, payload))
            except Exception as exc:
                log.exception("%s: message on %s failed: %s", group.name, topic, exc)
