"""The device's group member: identity, registration, TGDH epochs, readings (docs/e2e.md).

The runtime (app/runtime.py) calls, in this order::

    member = Member(config, device_id, store, log, board)
    member.start(random_bytes)          # after network_up(): the entropy gate is open
    member.subscriptions()              # [(topic_filter, qos)], subscribed on every connect
    await member.on_connected(client)   # each (re)connect: CATCHUP / next pending request
    await member.handle(client, topic, payload)   # every inbound message, in order
    member.summary()                    # the presence payload (epoch, identity key hex, ...)

Lifecycle: identity seed + pre-rotation next seed (created after network_up, stored first)
-> REGISTER (receipts checked) -> FOUND (founder) or JOIN (pending leaf secret stored first)
-> member: EPOCH / WELCOME / GENESIS accepted only after app.accept's checks and the TGDH
checks, committed with ``store.save`` before anything else happens; SPONSOR -> CONTRIBUTION,
SIGN_ENTRY -> SIGNED_ENTRY. Long crypto runs through the ``*_steps`` generators with an
``asyncio.sleep(0)`` at every step. Requests are retried by a driver task every
``retry_s``; readings are published every ``reading_s`` (app/readings.py).

Commands (tests, demo, a board over mpremote): a file ``<flash>/command`` holding ``leave``,
``refresh`` or ``heap_dump`` (the GC block map, micropython.mem_info(1), on the console) is
read and removed by the driver. Log lines carry fingerprints only.
"""

import asyncio
import binascii
import json
import time

from mqtt.errors import MQTTError

from app import accept, topics
from app.accept import Rejected
from app.logger import fingerprint
from app.readings import Readings

STATE_VERSION = 1
KEY_FINGERPRINT_LABEL = b"groupkey key fingerprint"
# Signs of a heap too fragmented for the work (a message handled without heap, a packet the
# MQTT client dropped for lack of heap) since the last committed epoch, each within
# HEAP_WINDOW_MS of the one before, before the device reboots: a fresh heap, resuming from
# flash with one catch-up (Member.heap_trouble).
MAX_HEAP_FAILURES = 3
HEAP_WINDOW_MS = 600000


def _hex(data):
    return binascii.hexlify(data).decode() if data is not None else None


def _unhex(text):
    return binascii.unhexlify(text) if text else None


def _ticks():
    return time.ticks_ms()


class Member:
    """The real device member; see the module docstring."""

    def __init__(self, config, device_id, store, log, board=None):
        self.config = config
        self.group_id = config["group_id"]
        self.device_id = device_id
        self.store = store
        self.log = log
        self.board = board
        self.state = None
        self.tgdh = None
        self.identity = None
        self.seed = None
        self.random_bytes = None
        self.client = None
        self.driver = None
        self.founder = bool(config.get("founder"))
        self.leaving = False
        self.contribution = None
        self.next_request_at = None
        self.behind = None
        self.last_catchup = None
        self.retry_ms = int(config.get("retry_s", 5) * 1000)
        self.reading_ms = int(config.get("reading_s", 5) * 1000)
        self.readings = Readings(self.group_id, device_id, log)
        self.min_free = None
        self.heap_probe = bool(config.get("heap_probe"))
        self.max_lag_ms = 0
        self.rejected = 0
        self.heap_failures = 0  # since the last committed epoch (heap_trouble)
        self.heap_failure_at = None
        self.stages = {}
        self.dropped_seen = 0
        self.memory_drops_seen = 0

    # ------------------------------------------------------------------ state
    def start(self, random_bytes):
        """Load the durable state, or create identity + next seed (first boot)."""
        from groupkey.crypto import ed25519

        self.random_bytes = random_bytes
        payload = self.store.load()
        if self.store.rejected:
            self.log("state_rejected", {"slots": self.store.rejected})
        state = json.loads(payload) if payload else None
        if state is None or state.get("v") != STATE_VERSION:
            state = {"v": STATE_VERSION, "seed": _hex(random_bytes(32)),
                     "next": _hex(random_bytes(32)), "registered": False, "head": None,
                     "member": None, "pending": None, "left": False, "boots": 0}
            created = True
        else:
            created = False
        self.state = state
        self.seed = _unhex(state["seed"])
        self.identity = ed25519.public_key(self.seed)
        if state["member"]:
            from groupkey.tgdh.member import Member as TGDHMember

            self.tgdh = TGDHMember.import_state(_unhex(state["member"]), self.seed)
            self.readings.reset(self.tgdh, self.seed)
            if state.get("sponsor_secret"):
                self.restore_pending(_unhex(state["sponsor_secret"]))
        state["boots"] += 1
        sequence = self.save()
        from groupkey.did import did_from_public_key

        self.log("identity_created" if created else "state_loaded", {
            "did": did_from_public_key(self.identity), "identity": _hex(self.identity),
            "fingerprint": fingerprint(self.identity), "boots": state["boots"],
            "epoch": self.epoch(), "registered": state["registered"], "sequence": sequence})

    def restore_pending(self, secret):
        """A contribution made before a reboot: its leaf secret becomes pending again (the
        path keys are recomputed when its EPOCH arrives)."""
        blinded_key = self.tgdh.restore_pending(secret)
        self.log("pending_restored", {"blinded_key": fingerprint(blinded_key)})

    def save(self):
        """Write the whole state atomically (firmware/durable.py); returns its sequence."""
        self.state["member"] = _hex(self.tgdh.export_state()) if self.tgdh else None
        return self.store.save(json.dumps(self.state).encode())

    def epoch(self):
        """The committed epoch, or None when not a member."""
        return self.tgdh.epoch if self.tgdh is not None else None

    def subscriptions(self):
        """Topic filters this member needs."""
        return [(topics.response(self.group_id, self.device_id), 1),
                (topics.epoch(self.group_id), 1),
                (topics.all_messages(self.group_id), 0)]

    def summary(self):
        """The presence payload: epoch, identity key (gateway rebuild), counters."""
        return {"epoch": self.epoch(), "identity": _hex(self.identity),
                "boots": self.state["boots"], "member": self.tgdh is not None,
                "max_lag_ms": self.max_lag_ms}

    # -------------------------------------------------------------- sending
    async def send(self, payload):
        """One request on our req topic (QoS 1); False when the broker is unreachable."""
        try:
            await self.client.publish(topics.request(self.group_id, self.device_id), payload,
                                      qos=1, timeout_ms=10000)
            return True
        except MQTTError as exc:
            self.log("send_error", repr(exc))
            return False

    def schedule(self, delay_ms=0):
        """Let the driver send the next pending request after ``delay_ms``."""
        self.next_request_at = time.ticks_add(_ticks(), delay_ms)

    async def steps(self, generator):
        """Run a ``*_steps`` generator, yielding to the event loop at every step."""
        import gc

        while True:
            try:
                next(generator)
            except StopIteration as stop:
                return stop.value
            if self.heap_probe:
                gc.collect()
            free = gc.mem_free()
            if self.min_free is None or free < self.min_free:
                self.min_free = free
            await asyncio.sleep(0)

    def probe(self, stage):
        """With ``heap_probe``: the free heap after a collection at ``stage`` of a message's
        handling (logged with the next epoch as ``stages``; docs/firmware.md, "Heap")."""
        if self.heap_probe:
            import gc

            gc.collect()
            self.stages[stage] = gc.mem_free()

    def signed(self, kind, blinded_key=b""):
        """A signed JOIN/LEAVE/REFRESH/FOUND request."""
        from groupkey import relay
        from groupkey.crypto import ed25519

        group = self.group_id.encode()
        signature = ed25519.sign(self.seed, relay.request_message(kind, group, self.identity,
                                                                  blinded_key))
        return relay.signed_request(kind, group, self.identity, signature, blinded_key)

    def pending_secret(self):
        """The stored leaf secret for FOUND/JOIN (created and saved before first use)."""
        if not self.state["pending"]:
            self.state["pending"] = _hex(self.random_bytes(32))
            self.save()
        return _unhex(self.state["pending"])

    async def next_request(self):
        """Send whatever the lifecycle needs next (retried every ``retry_s``)."""
        from groupkey import relay

        self.next_request_at = None
        if self.state["left"]:
            return
        if not self.state["registered"]:
            from groupkey.crypto import ed25519
            from groupkey.ledger import events

            entry = events.inception(self.seed, ed25519.public_key(_unhex(self.state["next"])))
            payload = relay.register(entry)
            what = "register"
        elif self.tgdh is None and self.founder:
            from groupkey.tgdh import keys

            payload = self.signed(relay.FOUND, keys.blinded_key(self.pending_secret()))
            what = "found"
        elif self.tgdh is None:
            from groupkey.tgdh import keys

            payload = self.signed(relay.JOIN, keys.blinded_key(self.pending_secret()))
            what = "join"
        elif self.leaving:
            payload = self.signed(relay.LEAVE)
            what = "leave"
        else:
            return
        self.log("request", {"kind": what})
        await self.send(payload)
        self.schedule(self.retry_ms)

    async def catchup(self):
        """CATCHUP(epoch): the gateway answers FINAL (up to date) or one WELCOME."""
        from groupkey import relay

        self.last_catchup = _ticks()
        self.behind = None
        await self.send(relay.catchup(self.epoch() or 0))

    # ---------------------------------------------------------- runtime hooks
    async def on_connected(self, client):
        """Every (re)connect: resynchronize, resume the lifecycle, start the driver."""
        self.client = client
        if self.driver is None:
            self.driver = asyncio.create_task(self.drive())
        if self.tgdh is not None:
            await self.catchup()
            if self.leaving:
                self.schedule(0)
        else:
            self.schedule(0)

    async def drive(self):
        """Retries, catch-up when a FINAL shows we are behind, readings, commands."""
        next_reading = time.ticks_add(_ticks(), self.reading_ms)
        next_command = _ticks()
        while True:
            before = _ticks()
            await asyncio.sleep_ms(200)
            now = _ticks()
            lag = time.ticks_diff(now, before) - 200  # how long the loop was held by others
            self.max_lag_ms = max(self.max_lag_ms, lag)
            if not self.client.connected():
                continue
            if self.next_request_at is not None and time.ticks_diff(
                    now, self.next_request_at) >= 0:
                await self.next_request()
            dropped = self.client.inbox.dropped
            memory_drops = self.client.stats["memory_drops"]
            if memory_drops != self.memory_drops_seen:
                new_drops = memory_drops - self.memory_drops_seen
                self.memory_drops_seen = memory_drops
                self.heap_trouble("heap_drop", {"memory_drops": memory_drops}, new_drops)
            if dropped != self.dropped_seen:
                # a message the client had to drop (full inbox, no heap for it) may have
                # been an epoch: catch up from the ledger (one proof) as for a FINAL
                self.dropped_seen = dropped
                if self.tgdh is not None and self.behind is None:
                    self.behind = now
            if self.behind is not None and time.ticks_diff(now, self.behind) >= 2000:
                if self.tgdh is not None:
                    await self.catchup()
                self.behind = None
            if self.reading_ms and time.ticks_diff(now, next_reading) >= 0:
                next_reading = time.ticks_add(now, self.reading_ms)
                await self.publish_reading()
            if time.ticks_diff(now, next_command) >= 0:
                next_command = time.ticks_add(now, 1000)
                await self.poll_command()

    async def publish_reading(self):
        """Encrypt and publish one sensor reading (QoS 0: a lost reading is no matter)."""
        if self.readings.messaging is None:
            return
        reader = getattr(self.board, "temperature", None)
        temperature = reader() if reader else None
        message = self.readings.encrypt(temperature)
        try:
            await self.client.publish(topics.message(self.group_id, self.device_id), message,
                                      qos=0)
            self.log("reading_sent", {"epoch": self.tgdh.epoch, "count": self.readings.sent})
        except MQTTError:
            pass

    async def poll_command(self):
        """``<flash>/command``: ``leave`` or ``refresh`` (read once, then removed)."""
        import os

        path = getattr(self.store, "directory", None) or getattr(self.board, "flash_dir",
                                                                  None)
        if path is None:
            return
        path = path + "/command"
        try:
            with open(path) as handle:
                command = handle.read().strip()
            os.remove(path)
        except OSError:
            return
        await self.command(command)

    async def command(self, name):
        """Ask the gateway to remove us (``leave``) or to refresh our leaf (``refresh``);
        ``heap_dump`` prints the heap's block map (diagnostics)."""
        from groupkey import relay

        self.log("command", {"name": name, "member": self.tgdh is not None})
        if name == "heap_dump":  # diagnostics: the GC's block map on the console
            import gc

            import micropython

            gc.collect()
            micropython.mem_info(1)
            return
        if self.tgdh is None:
            return
        if name == "leave":
            self.leaving = True
            self.schedule(0)
        elif name == "refresh":
            await self.send(self.signed(relay.REFRESH))

    # ---------------------------------------------------------------- inbound
    async def handle(self, client, topic, payload):
        """One inbound message: responses, the epoch topic, group data."""
        from groupkey import relay

        self.client = client
        if topic.endswith("/epoch"):
            self.on_final(payload)
            return
        if "/msg/" in topic:
            sender = topics.device_of(topic)
            if sender != self.device_id:
                leaf = self.readings.receive(sender, payload)
                if leaf is not None:
                    await self.send(relay.who(leaf))
            return
        self.probe("received")
        try:
            message = relay.decode(payload)
        except Exception as exc:
            self.log("malformed", {"reason": repr(exc)})
            return
        payload = None  # decoded into copies: free it before the crypto (firmware.md, Heap)
        kind = message.kind
        self.probe("decoded")
        from app import flows

        try:
            try:
                await flows.dispatch(self, message)
            except MemoryError:
                # the cached ledger verifiers (~3 KB a key) may be what the heap lacks: drop
                # them for good and handle the message once more (state is still unchanged)
                if not accept.drop_verifiers():
                    raise
                self.log("verifier_cache_dropped", {"kind": message.kind})
                await flows.dispatch(self, message)
        except Rejected as exc:
            await self.reject(message.kind, str(exc))
        except MemoryError as exc:
            # no heap even uncached: not a verdict on the message (which may be valid), so
            # not a rejection; state is unchanged, drop it and resynchronize (one WELCOME is
            # smaller work than a transition); only repeated failures end the device
            message = None
            await self.out_of_heap(kind, exc)
            return
        except Exception as exc:  # TGDH and crypto errors: state unchanged
            await self.reject(message.kind, "%s: %s" % (type(exc).__name__, exc))

    async def reject(self, kind, reason):
        """One log line with the reason and fingerprints; then resynchronize."""
        self.rejected += 1
        self.log("rejected", {"kind": kind, "reason": reason, "epoch": self.epoch(),
                              "tree": fingerprint(self.tgdh.tree_hash) if self.tgdh else None})
        await self.resync()

    async def out_of_heap(self, kind, exc):
        """A message the heap could not hold the work of: log where (stderr), count it
        (heap_trouble) and resynchronize."""
        import gc
        import sys

        sys.print_exception(exc, sys.stderr)  # where the heap ran out, for the console
        gc.collect()
        self.heap_trouble("no_heap", {"kind": kind, "error": str(exc), "epoch": self.epoch(),
                                      "mem_free": gc.mem_free()})
        await self.resync()

    def heap_trouble(self, event, detail, count=1):
        """Log ``event`` and count it (``count`` failures); at MAX_HEAP_FAILURES since the
        last committed epoch (``commit`` resets the count), none more than HEAP_WINDOW_MS
        after the one before, the heap is too fragmented to make progress: log
        ``heap_reboot`` and reboot the board (without a board, as in tests: MemoryError).
        Counting only since the last epoch, not "in a row": a stuck device alternates
        failures with small successes (a FINAL, a reading) and would otherwise never
        reboot."""
        now = _ticks()
        if self.heap_failure_at is not None and time.ticks_diff(
                now, self.heap_failure_at) > HEAP_WINDOW_MS:
            self.heap_failures = 0  # an isolated failure long ago is not a stuck device
        self.heap_failure_at = now
        self.heap_failures += count
        detail["since_epoch"] = self.heap_failures
        self.log(event, detail)
        if self.heap_failures < MAX_HEAP_FAILURES:
            return
        self.log("heap_reboot", {"failures": self.heap_failures, "epoch": self.epoch()})
        if self.board is not None:
            self.board.reboot()
        raise MemoryError("heap too fragmented: %d failures since the last epoch" %
                          self.heap_failures)

    async def resync(self):
        """Ask for a catch-up (at most one a second) when we are a member."""
        if self.tgdh is not None and (self.last_catchup is None or time.ticks_diff(
                _ticks(), self.last_catchup) > 1000):
            await self.catchup()

    def on_final(self, payload):
        """The retained FINAL: a hint that we may be behind (checked on the CATCHUP answer)."""
        if self.tgdh is None or len(payload) < 12:
            return
        # FINAL = version | type | entry length u32 | entry: version | kind | log id ...
        from groupkey import relay

        self.probe("received")
        try:
            message = relay.decode(payload)
            from app.accept import decode_entry

            sequence = decode_entry(message.entry).sequence
        except Exception:
            return
        if sequence > self.tgdh.epoch and self.behind is None:
            self.behind = _ticks()

    def commit(self, new_member, entry_hash, how, started):
        """Atomically store the accepted epoch, then switch keys and log it."""
        import gc

        self.tgdh = new_member
        self.heap_failures = 0
        self.state["head"] = _hex(entry_hash)
        self.state["pending"] = None
        self.state["sponsor_secret"] = None
        self.state["earlier_secrets"] = None
        self.contribution = None
        try:
            try:
                self.save()
            except MemoryError:
                # the state's JSON is one ~2 KB string: on a fragmented heap free the cached
                # ledger verifiers, collect and write again (the new member is already in use)
                if accept.drop_verifiers():
                    self.log("verifier_cache_dropped", {"kind": "commit"})
                gc.collect()
                self.save()
        except Exception as exc:  # flash error, or still no heap for the record
            # memory is at the new epoch, flash at the old one: restart from flash, which is
            # consistent, and catch up, rather than run keys a power loss would take back
            self.log("save_failed", {"epoch": new_member.epoch, "error": repr(exc)})
            if self.board is not None:
                self.board.reboot()
            raise
        self.probe("saved")
        self.readings.reset(new_member, self.seed)
        key = new_member.export(KEY_FINGERPRINT_LABEL, b"", 8)
        gc.collect()
        self.log("epoch", {"epoch": new_member.epoch, "how": how, "leaf": new_member.leaf,
                           "tree": fingerprint(new_member.tree_hash), "key": _hex(key),
                           "entry": fingerprint(entry_hash),
                           "ms": time.ticks_diff(_ticks(), started),
                           "mem_free": gc.mem_free(), "min_free": self.min_free,
                           "max_lag_ms": self.max_lag_ms,
                           "verifier_cache": accept.caching_verifiers(),
                           "stages": self.stages or None})
        self.min_free = None
        self.stages = {}

    def head(self):
        """Hash of the last accepted ledger entry of the group (None before genesis)."""
        return _unhex(self.state["head"])
