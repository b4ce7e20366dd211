"""The device runtime: boot, network, broker, presence, watchdog, inbox dispatch.

    boot         status "boot"; reset button held -> erase durable state (factory reset)
    network      ``await board.network_up()``; only then the member may draw randomness
    member       ``member.start(board.random_bytes)``: load or create identity and state
    broker       ``mqtt.client.Client.run()`` with last will = presence offline (retained)
    tasks        watchdog feeder, presence/heartbeat, inbox dispatcher, optional stop timer;
                 an exception that escapes the member (repeated MemoryError) is logged as
                 ``fatal`` and reboots the board rather than leave a silent dispatcher

Every task is a plain coroutine; long work inside the member must yield (the X25519 ladder
does), so the watchdog feeder and the MQTT keepalive keep running.
"""

import asyncio
import json
import sys
import time

from durable import DurableState
from mqtt.client import Client
from mqtt.errors import MQTTError

from app import topics

OFFLINE = b'{"online":false}'


class Device:
    """One device: owns the board, the MQTT client and the member."""

    def __init__(self, config, board, member_class, log):
        self.config = config
        self.board = board
        self.log = log
        self.device_id = config.get("device_id") or board.device_id()
        self.group_id = config["group_id"]
        self.store = DurableState(board.flash_dir)
        self.member = member_class(config, self.device_id, self.store, log)
        self.client = None
        self._started = time.ticks_ms()

    def boot(self):
        """Boot steps that need no network: status LED and the factory-reset button."""
        self.board.status("boot")
        if self.board.reset_requested():
            self.store.erase()
            self.log("factory_reset", None)

    def make_client(self):
        """The MQTT client with this device's identity and last will."""
        config = self.config
        presence = topics.presence(self.group_id, self.device_id)
        return Client(
            self.device_id, config["broker_host"], config["broker_port"],
            keepalive=config["keepalive_s"], will=(presence, OFFLINE, 1, True),
            username=self.device_id if config["mqtt_password"] else None,
            password=config["mqtt_password"], inbox_capacity=config["inbox_capacity"],
            # A clean session on every connect: epochs missed while away are not queued by
            # the broker and replayed one by one; the member's CATCHUP brings it to the
            # latest epoch with one ledger-backed WELCOME (docs/e2e.md section 5).
            clean_session=True,
            backoff_min_ms=config["backoff_min_ms"], backoff_max_ms=config["backoff_max_ms"],
            receive_buffer=config.get("receive_buffer", 0), log=self.log)

    async def run(self):
        """Boot, bring everything up, and serve until ``run_seconds`` (0 = forever)."""
        self.boot()
        watchdog = self.board.watchdog(self.config["watchdog_ms"])
        feeder = asyncio.create_task(self._feed(watchdog))
        self.board.status("connecting")
        await self.board.network_up()
        self.member.start(self.board.random_bytes)
        self.client = self.make_client()
        for topic_filter, qos in self.member.subscriptions():
            await self.client.subscribe(topic_filter, qos)  # remembered until connected
        tasks = [asyncio.create_task(self._presence()), asyncio.create_task(self._dispatch())]
        connection = asyncio.create_task(self.client.run())
        self.log("running", {"device": self.device_id, "mem_free": self.board.mem_free()})
        try:
            if self.config["run_seconds"]:
                await asyncio.sleep(self.config["run_seconds"])
            else:
                await connection  # returns only by raising (ConnectRefused)
        finally:
            for task in tasks:
                task.cancel()
            if self.client.connected():
                # a clean DISCONNECT discards the will: say offline ourselves
                try:
                    await self.client.publish(topics.presence(self.group_id, self.device_id),
                                              OFFLINE, qos=1, retain=True, timeout_ms=2000)
                except MQTTError:
                    pass
            await self.client.disconnect()
            connection.cancel()
            feeder.cancel()
            self.log("stopped", {"stats": self.client.stats, "dropped": self.client.inbox.dropped})

    async def _feed(self, watchdog):
        interval = self.config["watchdog_ms"] // 4
        while True:
            watchdog.feed()
            await asyncio.sleep_ms(interval)

    def _presence_payload(self):
        summary = self.member.summary()
        summary["online"] = True
        summary["uptime_s"] = time.ticks_diff(time.ticks_ms(), self._started) // 1000
        summary["mem_free"] = self.board.mem_free()
        return json.dumps(summary)

    async def _presence(self):
        """Announce online (retained, QoS 1) on every connect, then heartbeat (QoS 0)."""
        topic = topics.presence(self.group_id, self.device_id)
        client = self.client
        heartbeat_ms = self.config["heartbeat_s"] * 1000
        while True:
            await client.up.wait()
            connection = client.stats["connects"]
            try:
                await client.publish(topic, self._presence_payload(), qos=1, retain=True)
                self.board.status("online")
                self.log("online", None)
                await self.member.on_connected(client)
                next_beat = time.ticks_add(time.ticks_ms(), heartbeat_ms)
                # until this connection ends (a quick reconnect counts as an end too)
                while client.connected() and client.stats["connects"] == connection:
                    await asyncio.sleep_ms(100)
                    if time.ticks_diff(time.ticks_ms(), next_beat) >= 0:
                        next_beat = time.ticks_add(next_beat, heartbeat_ms)
                        await client.publish(topic, self._presence_payload(), qos=0,
                                             retain=True)
            except MQTTError as exc:
                self.log("presence_error", repr(exc))
            self.board.status("connecting")

    async def _dispatch(self):
        """Hand every inbound message to the member, in arrival order."""
        while True:
            topic, payload = await self.client.inbox.get()
            handling = self.member.handle(self.client, topic, payload)
            topic = payload = None  # the member may drop the payload once it is decoded
            try:
                await handling
            except MQTTError as exc:
                self.log("handle_error", repr(exc))
            except Exception as exc:  # e.g. MemoryError again and again (Member.out_of_heap)
                # a dispatcher that died would leave a device that feeds its watchdog and
                # answers nothing: reboot instead (state resumes from flash)
                self.board.status("error")
                self.log("fatal", repr(exc))
                sys.print_exception(exc, sys.stderr)
                self.board.reboot()
