"""Everything the gateway keeps about one group, and the flows of docs/e2e.md for it.

Kept in memory only (rebuilt from the ledger at start, gateway.rebuild): the public state
(PublicGroupState) with the previous one and the last transition bytes (for catch-up
welcomes), the last entry, its hash and receipt bundle, the genesis (ledger node keys,
threshold, admins, policy), the identity <-> device map, invitations, presence, and the queue
of membership requests. Nothing secret: the gateway never holds a key that opens a message.

Messages in (``handle_request``, ``handle_admin``, ``handle_presence``) never raise: a bad
input costs one log line and, for a device, an ERROR answer. Transitions run one at a time
(``round_loop``): requests that arrive within the batch window become one transition.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from gateway import rounds
from groupkey import relay
from groupkey.ledger import bodies
from groupkey.ledger import entry as entries
from groupkey.ledger.receipt import decode_bundle, verify_bundle
from groupkey.tgdh.state import PublicGroupState

log = logging.getLogger("gateway.group")

ACCEPTED = ("accepted", "duplicate")
SILENT_ROUNDS = 3


def fingerprint(data: bytes) -> str:
    """First 6 bytes of a key in hex: safe to log (public keys only reach here anyway)."""
    return bytes(data[:6]).hex()


class Group:
    """One group's public state and its request/round machinery."""

    def __init__(self, name: str, service):
        self.name = name
        self.group_id = name.encode()
        self.service = service
        self.settings = service.settings
        self.state: PublicGroupState | None = None
        self.previous_state: PublicGroupState | None = None
        self.last_data = b""
        self.last_entry = b""
        self.head = entries.ZERO_HASH
        self.bundle = b""
        # epoch -> (entry, bundle, state after, TGDH bytes): catch-up replays from here
        self.history: dict[int, tuple[bytes, bytes, PublicGroupState, bytes]] = {}
        self.genesis: bodies.Genesis | None = None
        self.identity_device: dict[bytes, str] = {}
        self.device_identity: dict[str, bytes] = {}
        self.online: dict[str, bool] = {}
        self.offline_since: dict[str, float] = {}
        self.invitations: dict[bytes, bodies.Invitation] = {}
        self.queue: list[rounds.Request] = []
        self.queue_changed = asyncio.Event()
        self.waiting: dict[int, tuple[asyncio.Future, str, str]] = {}
        self.next_request_id = 1
        self.founder_device: str | None = None
        self.round_running = False
        self.silent: dict[str, int] = {}  # device -> sponsor timeouts in a row
        self.catchups: dict[str, tuple[int, int, float]] = {}  # device -> (epoch, n, since)

    # ------------------------------------------------------------------ helpers
    def fingerprint(self, data: bytes) -> str:
        return fingerprint(data)

    def emit(self, event: str, **fields) -> None:
        self.service.emit(event, group=self.name, **fields)

    def topic(self, kind: str, device: str | None = None) -> str:
        return "gk/%s/%s" % (self.name, kind if device is None else kind + "/" + device)

    def send(self, device: str, payload: bytes) -> None:
        self.service.bridge.publish(self.topic("resp", device), payload, qos=1)

    def send_error(self, device: str, code: int, text: str) -> None:
        self.send(device, relay.error(code, text))

    def learn(self, identity: bytes, device: str) -> None:
        """Record that ``device`` speaks for ``identity`` (from a verified signature or the
        device's own presence)."""
        old = self.identity_device.get(identity)
        if old is not None and old != device:
            self.device_identity.pop(old, None)
        self.identity_device[identity] = device
        self.device_identity[device] = identity

    def device_of(self, identity: bytes) -> str | None:
        return self.identity_device.get(identity)

    def is_online(self, device: str) -> bool:
        return self.online.get(device, True)

    def threshold(self) -> int:
        return self.genesis.threshold if self.genesis else self.settings.ledger["threshold"]

    def node_keys(self) -> list[bytes]:
        return self.genesis.nodes if self.genesis else []

    # ------------------------------------------------------------- ledger steps
    async def submit(self, entry: bytes, attempts: int = 3) -> tuple[bytes, list[str]]:
        """Submit to every node until the bundle holds t verified receipts; returns
        (bundle, outcomes); an empty bundle when the quorum was not reached."""
        entry_hash = entries.decode(entry).entry_hash()
        outcomes: list[str] = []
        for attempt in range(attempts):
            outcome = await self.service.ledger.submit_everywhere(entry)
            outcome = await self._heal(outcome, entry)
            outcomes = outcome.outcomes()
            keys = self.node_keys() or self._keys_from_entry(entry)
            if keys and self._bundle_ok(entry_hash, outcome.bundle, keys):
                return outcome.bundle, outcomes
            if "invalid" in outcomes or "conflict" in outcomes:
                break
            await asyncio.sleep(self.settings.timing["retry_delay_s"] * (attempt + 1))
        return b"", outcomes

    async def _heal(self, outcome, entry: bytes):
        """A node that was down answers ``out_of_order`` for the group log: give it the
        entries it missed (from the catch-up window), then this one again."""
        from ledger_node.client import SubmitOutcome

        decoded = entries.decode(entry)
        if decoded.kind not in entries.GROUP_KINDS:
            return outcome
        ledger = self.service.ledger
        results = list(outcome.results)
        healed = False
        for index, result in enumerate(results):
            if result.get("outcome") != "out_of_order":
                continue
            expected = _expected_sequence(result.get("reason", ""))
            if expected is None or expected >= decoded.sequence:
                continue
            url = ledger.urls[index]
            for sequence in range(expected, decoded.sequence):
                kept = self.history.get(sequence)
                if kept is None:
                    break
                answer = await ledger.submit(url, kept[0])
                if answer.get("outcome") not in ACCEPTED:
                    break
            else:
                results[index] = await ledger.submit(url, entry)
                healed = True
                log.info("%s: ledger node %s caught up from epoch %d", self.name, url,
                         expected)
                self.emit("ledger_healed", url=url, from_epoch=expected,
                          to_epoch=decoded.sequence)
        return SubmitOutcome(results) if healed else outcome

    def _keys_from_entry(self, entry: bytes) -> list[bytes]:
        decoded = entries.decode(entry)
        if decoded.kind == entries.GENESIS:
            return bodies.Genesis.decode(decoded.body).nodes
        return []

    def _bundle_ok(self, entry_hash: bytes, bundle: bytes, keys: list[bytes]) -> bool:
        try:
            verify_bundle(entry_hash, decode_bundle(bundle), keys, self.threshold())
            return True
        except Exception:  # too few receipts (or bad ones): not final
            return False

    # ------------------------------------------------------------ device input
    async def handle_request(self, device: str, payload: bytes) -> None:
        """One message on gk/<group>/req/<device>."""
        try:
            message = relay.decode(payload)
        except Exception as exc:
            log.warning("%s: malformed request from %s: %s", self.name, device, exc)
            self.send_error(device, relay.ERROR_MALFORMED, "malformed: %s" % exc)
            return
        kind = message.kind
        try:
            if kind in relay.SIGNED_TYPES:
                await self._signed(device, message)
            elif kind == relay.REGISTER:
                await self._register(device, message.entry)
            elif kind in (relay.CONTRIBUTION, relay.SIGNED_ENTRY):
                self._answer(device, message)
            elif kind == relay.CATCHUP:
                self._catchup(device, message.epoch)
            elif kind == relay.WHO:
                self._who(device, message.leaf)
            else:
                log.warning("%s: %s sent a message of type 0x%02x on its request topic",
                            self.name, device, kind)
                self.send_error(device, relay.ERROR_MALFORMED, "not a request type")
        except Exception as exc:  # never crash on one device's input
            log.exception("%s: request 0x%02x from %s failed: %s", self.name, kind, device, exc)
            self.send_error(device, relay.ERROR_RETRY, "gateway error")

    async def _signed(self, device: str, message) -> None:
        try:
            relay.verify_request(message, self.group_id)
        except Exception:
            log.warning("%s: bad request signature from %s", self.name, device)
            self.send_error(device, relay.ERROR_REJECTED, "bad signature")
            return
        identity = message.identity
        self.learn(identity, device)
        if message.kind == relay.FOUND:
            self._found(device, message)
            return
        if self.state is None:
            self.send_error(device, relay.ERROR_UNKNOWN_GROUP, "no genesis yet")
            return
        member = self.state.leaf_of(identity) is not None
        if message.kind == relay.JOIN:
            if member:
                self.send_error(device, relay.ERROR_REJECTED, "already a member")
                return
            if not self._admitted(identity):
                log.info("%s: join of %s (%s) refused: not invited", self.name, device,
                         fingerprint(identity))
                self.send_error(device, relay.ERROR_REJECTED, "not invited")
                return
        elif not member:
            self.send_error(device, relay.ERROR_REJECTED, "not a member")
            return
        self.enqueue(rounds.Request(message.kind, identity, device,
                                    message.fields.get("blinded_key", b""),
                                    message.fields.get("signature", b"")))

    def _admitted(self, identity: bytes) -> bool:
        if self.genesis is not None and self.genesis.policy == entries.POLICY_ALLOW_LIST:
            return identity in self.genesis.allowed
        return identity in self.invitations

    def enqueue(self, request: rounds.Request) -> None:
        """Add a request (replacing an identical pending one) and wake the round loop."""
        self.queue = [queued for queued in self.queue if not (
            queued.identity == request.identity and queued.kind == request.kind)]
        self.queue.append(request)
        self.emit("request", kind=_kind_name(request.kind), device=request.device,
                  identity=fingerprint(request.identity))
        self.queue_changed.set()

    async def _register(self, device: str, entry: bytes) -> None:
        try:
            decoded = entries.decode(entry)
        except Exception as exc:
            self.send_error(device, relay.ERROR_MALFORMED, "entry: %s" % exc)
            return
        if decoded.kind not in entries.IDENTITY_KINDS:
            self.send_error(device, relay.ERROR_REJECTED, "not an identity entry")
            return
        outcome = await self.service.ledger.submit_everywhere(entry)
        outcomes = outcome.outcomes()
        accepted = sum(1 for name in outcomes if name in ACCEPTED)
        if accepted >= self.threshold():
            if decoded.kind == entries.INCEPTION:
                self.learn(decoded.log_id, device)
            self.send(device, relay.receipts(decoded.entry_hash(), outcome.bundle))
            self.emit("registered", device=device, identity=fingerprint(decoded.log_id),
                      receipts=outcome.receipt_count)
        elif "invalid" in outcomes:
            reasons = [result.get("reason", "") for result in outcome.results
                       if result.get("outcome") == "invalid"]
            self.send_error(device, relay.ERROR_REJECTED, reasons[0] if reasons else "invalid")
        else:
            self.send_error(device, relay.ERROR_RETRY, "ledger quorum unreachable: %s"
                            % ",".join(outcomes))

    def _found(self, device: str, message) -> None:
        if self.state is not None:
            if self.state.members() == [message.identity] and self.last_entry:
                self.send(device, relay.genesis(self.last_entry, self.bundle))
            else:
                self.send_error(device, relay.ERROR_REJECTED, "the group already exists")
            return
        self.founder_device = device
        found_body = relay.signed_request(relay.FOUND, self.group_id, message.identity,
                                          message.signature, message.blinded_key)[2:]
        self.service.bridge.publish(self.topic("admin/offer"), relay.offer(device, found_body))
        self.emit("offer", device=device, identity=fingerprint(message.identity))

    def _answer(self, device: str, message) -> None:
        waiting = self.waiting.get(message.request_id)
        if waiting is None or waiting[1] != device:
            log.warning("%s: unexpected answer %d from %s", self.name, message.request_id,
                        device)
            return
        future, _, _ = waiting
        if not future.done():
            future.set_result(message.data)

    def _catchup(self, device: str, epoch: int) -> None:
        if self.state is None:
            self.send_error(device, relay.ERROR_UNKNOWN_GROUP, "no genesis yet")
            return
        identity = self.device_identity.get(device)
        if identity is None:
            self.send_error(device, relay.ERROR_RETRY, "identity of this device unknown")
            return
        if self.state.leaf_of(identity) is None:
            proof = self.removal_proof(identity, epoch)
            if proof is not None:
                # a device only gives up its state on proof: the receipted transition that
                # removed it (docs/security.md, finding C)
                self.send(device, proof)
                return
            self.send_error(device, relay.ERROR_REJECTED, "not a member")
            return
        if epoch >= self.state.epoch:
            self.send(device, relay.final(self.last_entry, self.bundle))
            return
        if self._stuck(device, identity, epoch):
            return
        updates = self.catchup_updates(identity, epoch)
        if updates is None:
            self.send_error(device, relay.ERROR_RETRY, "too far behind the catch-up window")
            return
        for message in updates:
            self.send(device, message)
        self.emit("catchup", device=device, from_epoch=epoch, to_epoch=self.state.epoch)

    def _stuck(self, device: str, identity: bytes, epoch: int) -> bool:
        """A member that asks to catch up from the same epoch again and again cannot use
        what it is sent (e.g. it lost the leaf secret of its own contribution): remove it,
        so that it joins again with a fresh leaf. True when a removal was queued."""
        now = time.monotonic()
        first_epoch, count, since = self.catchups.get(device, (epoch, 0, now))
        if first_epoch != epoch:
            first_epoch, count, since = epoch, 0, now
        count += 1
        self.catchups[device] = (first_epoch, count, since)
        limit = int(self.settings.timing.get("stuck_catchups", 5))
        if count < limit or now - since < self.settings.timing.get("stuck_after_s", 10.0):
            return False
        del self.catchups[device]
        log.warning("%s: %s asked %d times to catch up from epoch %d: removing it so it can "
                    "join again", self.name, device, count, epoch)
        self.emit("stuck_member", device=device, epoch=epoch, catchups=count)
        self.enqueue(rounds.Request(relay.LEAVE, identity, None))
        return True

    def removal_proof(self, identity: bytes, epoch: int) -> bytes | None:
        """FINAL carrying the first remembered transition after ``epoch`` whose body declares
        ``identity`` removed, with its receipts; None when the catch-up window holds none."""
        for sequence in sorted(self.history):
            if sequence <= epoch:
                continue
            entry, bundle, _, _ = self.history[sequence]
            decoded = entries.decode(entry)
            if decoded.kind != entries.TRANSITION:
                continue
            if identity in bodies.Transition.decode(decoded.body).removed:
                return relay.final(entry, bundle)
        return None

    def catchup_updates(self, identity: bytes, epoch: int) -> list[bytes] | None:
        """The one message bringing a member from ``epoch`` to the current one: the WELCOME
        of the latest transition, with its ledger entry and receipts (docs/e2e.md section 5).
        The member rebuilds its path from its unchanged leaf secret and the fresh co-path,
        checked against the signed tree hash: one proof, whatever it missed, including a
        lost welcome of its own join. None when the latest epoch is not in memory."""
        current = self.state.epoch
        latest = self.history.get(current)
        if latest is None:
            return None
        entry, bundle, state, data = latest
        if current == 0:
            return [relay.genesis(entry, bundle)]
        before = self.history.get(current - 1)
        if before is None:
            return None
        return [relay.welcome(entry, bundle, state.welcome(before[2], data, identity))]

    def remember(self, epoch: int, entry: bytes, bundle: bytes, state, data: bytes) -> None:
        """Keep one epoch for catch-up (bounded by [timing] catchup_window)."""
        self.history[epoch] = (entry, bundle, state, data)
        window = int(self.settings.timing.get("catchup_window", 256))
        for old in [number for number in self.history if number < epoch - window]:
            del self.history[old]

    def _who(self, device: str, leaf: int) -> None:
        if self.state is None or not self.state.tree.is_leaf(leaf):
            self.send_error(device, relay.ERROR_REJECTED, "no member at leaf %d" % leaf)
            return
        tree = self.state.tree
        self.send(device, relay.leaf_proof(self.state.epoch, leaf, tree.identity[leaf],
                                           tree.blinded[leaf], self.state.copath_proof(leaf)))

    # ------------------------------------------------------------ operator input
    async def handle_admin(self, name: str, payload: bytes) -> None:
        """gk/<group>/admin/entry (genesis) or admin/invite (invitation)."""
        try:
            message = relay.decode(payload)
            if name == "entry" and message.kind == relay.ADMIN_ENTRY:
                await self._genesis(message.entry)
            elif name == "invite" and message.kind == relay.INVITATION:
                self._invitation(message.entry)
            elif name != "offer":
                log.warning("%s: unexpected admin message on %s", self.name, name)
        except Exception as exc:
            log.warning("%s: admin message on %s rejected: %s", self.name, name, exc)

    async def _genesis(self, entry: bytes) -> None:
        decoded = entries.decode(entry)
        if decoded.kind != entries.GENESIS or decoded.log_id != self.group_id:
            raise ValueError("not a genesis entry of this group")
        if self.state is not None:
            raise ValueError("the group already has a genesis")
        body = bodies.Genesis.decode(decoded.body)
        state = PublicGroupState.decode(body.public_tree)
        self.genesis = body
        bundle, outcomes = await self.submit(entry)
        if not bundle:
            self.genesis = None
            log.error("%s: genesis not final (%s)", self.name, ",".join(outcomes))
            self.emit("genesis_failed", outcomes=outcomes)
            return
        self.state, self.last_entry, self.bundle = state, entry, bundle
        self.remember(0, entry, bundle, state, b"")
        self.head = decoded.entry_hash()
        founder = self.device_of(state.members()[0]) or self.founder_device
        if founder is not None:
            self.send(founder, relay.genesis(entry, bundle))
        self.service.bridge.publish(self.topic("epoch"), relay.final(entry, bundle),
                                    retain=True)
        self.emit("genesis", device=founder, epoch=0, members=1, height=0)

    def _invitation(self, data: bytes) -> None:
        if len(data) != 128:
            raise ValueError("an invitation is member 32 | admin 32 | signature 64")
        invitation = bodies.Invitation(data[:32], data[32:64], data[64:])
        if self.genesis is not None and invitation.admin not in self.genesis.admins:
            raise ValueError("invitation not signed by an admin of the group")
        from groupkey.crypto import ed25519

        ed25519.verify(invitation.admin, invitation.message(self.group_id),
                       invitation.signature)
        self.invitations[invitation.member] = invitation
        self.emit("invited", identity=fingerprint(invitation.member))

    # ---------------------------------------------------------------- presence
    def handle_presence(self, device: str, payload: bytes) -> None:
        """Retained presence JSON: online flag and (optionally) the identity key."""
        try:
            status = json.loads(payload.decode())
            online = bool(status.get("online"))
        except (ValueError, AttributeError, UnicodeError):
            log.warning("%s: malformed presence from %s", self.name, device)
            return
        identity = status.get("identity")
        if isinstance(identity, str) and len(identity) == 64:
            try:
                self.learn(bytes.fromhex(identity), device)
            except ValueError:
                pass
        was = self.online.get(device)
        self.online[device] = online
        if online:
            self.offline_since.pop(device, None)
        elif was is not False:
            self.offline_since[device] = time.monotonic()
        if was != online:
            self.emit("presence", device=device, online=online)

    def presence_check(self) -> None:
        """Queue a leave for members offline longer than the grace period."""
        if self.state is None:
            return
        grace = self.settings.timing["presence_grace_s"]
        now = time.monotonic()
        for device, since in list(self.offline_since.items()):
            identity = self.device_identity.get(device)
            if now - since < grace or identity is None:
                continue
            if self.state.leaf_of(identity) is None or any(
                    request.identity == identity and request.kind == relay.LEAVE
                    for request in self.queue):
                continue
            log.info("%s: %s offline for %.0f s: removing it", self.name, device, now - since)
            self.emit("presence_timeout", device=device, seconds=round(now - since, 1))
            self.enqueue(rounds.Request(relay.LEAVE, identity, None))

    # ------------------------------------------------------------ asking devices
    async def ask(self, device: str, what: str, body: bytes, join_proofs=()) -> bytes:
        """SPONSOR (with the joiners' signed requests) or SIGN_ENTRY to ``device``; wait for
        its answer (sponsor timeout)."""
        request_id = self.next_request_id
        self.next_request_id = (self.next_request_id + 1) & 0xFFFFFFFF or 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[request_id] = (future, device, what)
        message = relay.sponsor(request_id, body, join_proofs) if what == "sponsor" else (
            relay.sign_entry(request_id, body))
        self.send(device, message)
        try:
            answer = await rounds.wait_answer(future, self.settings.timing["sponsor_timeout_s"],
                                              device, self.device_identity.get(device, b""))
            self.silent.pop(device, None)
            return answer
        finally:
            self.waiting.pop(request_id, None)

    # ---------------------------------------------------------------- the rounds
    async def round_loop(self) -> None:
        """Forever: wait for requests, let the batch fill (rounds.gather_batch: the adaptive
        window), run one transition."""
        window = self.settings.timing["batch_window_ms"] / 1000
        quiet = self.settings.timing["batch_quiet_ms"] / 1000
        while True:
            await self.queue_changed.wait()
            self.queue_changed.clear()
            if not self.queue or self.state is None:
                continue
            limit = max(1, int(self.settings.rounds["max_requests"]))
            await rounds.gather_batch(self.queue, self.queue_changed, window, quiet, limit)
            if not self.queue:
                continue
            batch, self.queue = self.queue[:limit], self.queue[limit:]
            self.round_running = True
            completed = False
            try:
                completed = await self.run_round(batch)
            except Exception as exc:
                log.exception("%s: round failed: %s", self.name, exc)
                self._give_back(batch, relay.ERROR_RETRY, "gateway error")
            finally:
                self.round_running = False
            if not completed:
                await asyncio.sleep(self.settings.timing["retry_delay_s"])
            if self.queue:
                self.queue_changed.set()

    def _valid_now(self, request: rounds.Request) -> bool:
        member = self.state.leaf_of(request.identity) is not None
        return not member if request.kind == relay.JOIN else member

    async def run_round(self, batch: list[rounds.Request]) -> bool:
        """One transition for ``batch`` (docs/e2e.md flow 4); True when an epoch became
        final (nothing to do counts as done)."""
        batch = [request for request in batch if self._valid_now(request)]
        if not batch:
            return True
        if not self.settings.rounds["joiner_sponsors"]:
            batch, later = rounds.without_joiner_sponsors(self.state, batch)
        else:
            batch, later = rounds.with_member_signer(self.state, batch)
        self.queue = later + self.queue
        operations, joined, removed = rounds.build_operations(self.state, batch)
        if len(self.state.members()) - len(removed) < 1:
            self._give_back(batch, relay.ERROR_REJECTED, "the last member cannot leave",
                            requeue=False)
            return True
        current = rounds.Round(self, operations, joined, removed, rounds.join_proofs(batch))
        self.emit("round", epoch=self.state.epoch + 1, joins=len(joined), leaves=len(removed),
                  refreshes=len(operations) - len(joined) - len(removed))
        marks = [time.monotonic()]  # round start, contributions, signed entry, ledger, sent
        try:
            data = await current.contributions()
            marks.append(time.monotonic())
            new_state = self.state.apply(data)
            invitations = [self.invitations[key] for key in joined if key in self.invitations]
            entry = await current.signed_entry(new_state, invitations)
            marks.append(time.monotonic())
        except rounds.RoundAborted as exc:
            self._aborted(batch, exc)
            return False
        bundle, outcomes = await self.submit(entry)
        marks.append(time.monotonic())
        if not bundle:
            log.warning("%s: epoch %d not final: %s", self.name, new_state.epoch, outcomes)
            self.emit("not_final", epoch=new_state.epoch, outcomes=outcomes)
            retry = "invalid" not in outcomes
            self._give_back(batch, relay.ERROR_RETRY if retry else relay.ERROR_REJECTED,
                            "ledger: %s" % ",".join(outcomes), requeue=retry)
            return False
        self.deliver(new_state, data, entry, bundle)
        marks.append(time.monotonic())
        self.emit("epoch", epoch=new_state.epoch, members=len(new_state.members()),
                  height=new_state.tree.height(), joined=[self._name(k) for k in joined],
                  removed=[self._name(k) for k in removed],
                  sponsors=[self._name(k) for k in current.sponsors],
                  signer=self._name(current.signer()),
                  seconds=round(time.monotonic() - min(r.arrived for r in batch), 3),
                  receipts=bundle[0] if bundle else 0,
                  # ms spent waiting for the batch, sponsors, the signer, the ledger, delivery
                  phases_ms=[round(1000 * (marks[0] - min(r.arrived for r in batch)))] + [
                      round(1000 * (marks[i + 1] - marks[i])) for i in range(len(marks) - 1)])
        return True

    def _name(self, identity: bytes) -> str:
        return self.device_of(identity) or fingerprint(identity)

    def deliver(self, new_state, data: bytes, entry: bytes, bundle: bytes) -> None:
        """EPOCH to continuing members, WELCOME to joiners, FINAL retained; commit."""
        previous = self.state
        for identity in new_state.members():
            device = self.device_of(identity)
            if device is None:
                continue
            if previous.leaf_of(identity) is None:
                message = relay.welcome(entry, bundle, new_state.welcome(previous, data,
                                                                          identity))
            else:
                message = relay.epoch_update(entry, bundle,
                                             new_state.member_update(previous, data, identity))
            self.send(device, message)
        self.service.bridge.publish(self.topic("epoch"), relay.final(entry, bundle),
                                    retain=True)
        self.previous_state, self.state = previous, new_state
        self.last_data, self.last_entry, self.bundle = data, entry, bundle
        self.remember(new_state.epoch, entry, bundle, new_state, data)
        self.head = entries.decode(entry).entry_hash()

    def _aborted(self, batch, exc: rounds.RoundAborted) -> None:
        """Requesters retry; a sponsor that is offline (or silent three rounds in a row) is
        removed first, so one dead member cannot block the group."""
        log.warning("%s: transition aborted: %s", self.name, exc)
        self.emit("aborted", reason=str(exc))
        identity = exc.offline_identity
        skip = None
        if identity and self.state.leaf_of(identity) is not None:
            device = self.device_of(identity)
            silent = 0
            if device is not None:
                silent = self.silent[device] = self.silent.get(device, 0) + 1
            if device is None or not self.is_online(device) or silent >= SILENT_ROUNDS:
                log.info("%s: removing sponsor %s (%s)", self.name, device,
                         "offline" if silent < SILENT_ROUNDS else "silent")
                self.queue.insert(0, rounds.Request(relay.LEAVE, identity, None))
                skip = identity
        self._give_back(batch, relay.ERROR_RETRY, str(exc)[:180], requeue=exc.retry,
                        skip=skip)

    def _give_back(self, batch, code: int, text: str, requeue: bool = True,
                   skip: bytes | None = None) -> None:
        """Tell requesters; put their requests back in the queue (retried later)."""
        for request in batch:
            if request.device is not None:
                self.send_error(request.device, code, text)
            if requeue and request.identity != skip:
                self.queue.append(request)


def _expected_sequence(reason: str) -> int | None:
    """The sequence a node expects, from its ``out_of_order`` reason text."""
    words = reason.replace(",", " ").split()
    if "expected" in words and "sequence" in words:
        try:
            return int(words[words.index("sequence") + 1])
        except (IndexError, ValueError):
            return None
    return None


def _kind_name(kind: int) -> str:
    return {relay.JOIN: "join", relay.LEAVE: "leave", relay.REFRESH: "refresh"}.get(kind, "?")
