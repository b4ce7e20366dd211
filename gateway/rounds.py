"""One TGDH transition driven by the gateway (docs/e2e.md, flow 4, steps 2-6).

``build_operations`` turns a batch of queued requests into TGDH operations (leaves, then
joins, then refreshes, each in arrival order). ``Round`` then runs the transition through its
sponsors (SPONSOR -> CONTRIBUTION), has the first sponsor that was already a member sign the
ledger entry (SIGN_ENTRY -> SIGNED_ENTRY), and leaves the submission and delivery to the
caller (gateway.group). The gateway holds no secret: every step is checked against the
public state, and a sponsor's answer that does not verify aborts the round.
"""

from __future__ import annotations

import asyncio
import time

from groupkey.ledger import bodies
from groupkey.ledger import entry as entries
from groupkey.tgdh import events
from groupkey.tgdh.messages import SponsorRequest

EVENT_JOIN, EVENT_LEAVE, EVENT_REFRESH, EVENT_BATCH = 1, 2, 3, 6


class RoundAborted(Exception):
    """The transition cannot complete now; ``retry`` says whether requesters should retry,
    ``offline`` names a sponsor device that did not answer (to be removed first)."""

    def __init__(self, reason: str, retry: bool = True, offline_identity: bytes | None = None):
        super().__init__(reason)
        self.retry = retry
        self.offline_identity = offline_identity


class Request:
    """A queued membership request: kind (relay JOIN/LEAVE/REFRESH), identity, blinded key,
    requesting device (None for the gateway's own presence removals)."""

    def __init__(self, kind: int, identity: bytes, device: str | None,  # noqa: PLR0917
                 blinded_key: bytes = b"", signature: bytes = b""):
        self.kind = kind
        self.identity = identity
        self.device = device
        self.blinded_key = blinded_key
        self.signature = signature  # the device's request signature (JOIN: sent to sponsors)
        self.arrived = time.monotonic()


def event_code(joined, removed) -> int:
    """Ledger transition event code: join, leave, refresh, or batch (mixed)."""
    if joined and not removed:
        return EVENT_JOIN
    if removed and not joined:
        return EVENT_LEAVE
    if not joined and not removed:
        return EVENT_REFRESH
    return EVENT_BATCH


def build_operations(state, requests):
    """TGDH operations for ``requests`` on ``state``: leaves, joins, refreshes (arrival
    order within each). Returns (operations, joined identities, removed identities)."""
    from groupkey import relay

    removed, refreshed = [], []
    for request in requests:
        if request.kind == relay.LEAVE and request.identity not in removed:
            removed.append(request.identity)
    joining = {}
    for request in requests:  # a repeated JOIN replaces the earlier blinded key
        if request.kind == relay.JOIN and request.identity not in removed:
            joining[request.identity] = request.blinded_key
    joined = list(joining.items())
    for request in requests:
        if request.kind == relay.REFRESH and request.identity not in removed and (
                request.identity not in refreshed):
            refreshed.append(request.identity)
    operations = _leave_operations(state, removed)
    for identity, blinded_key in joined:
        operations.append(events.join(identity, blinded_key))
    if refreshed:
        # a refresh names its leaf in the tree as the leaves and joins before it left it
        staged = events.stage(state.tree, operations, fill=True) if operations else state.tree
        for identity in refreshed:
            operations.append(events.refresh(staged.leaf_of(identity)))
    return operations, [identity for identity, _ in joined], removed


def join_proofs(requests):
    """(identity, blinded_key, signature) of the JOIN requests ``build_operations`` turns into
    join operations (the last JOIN of an identity, none that also leaves): what a member
    sponsor checks every join against before it contributes (relay SPONSOR)."""
    from groupkey import relay

    leaving = [request.identity for request in requests if request.kind == relay.LEAVE]
    proofs = {}
    for request in requests:
        if request.kind == relay.JOIN and request.identity not in leaving:
            proofs[request.identity] = (request.identity, request.blinded_key,
                                        request.signature)
    return list(proofs.values())


def _leave_operations(state, removed):
    """LEAVE operations whose leaf indices follow the tree as each previous leave left it."""
    operations = []
    for identity in removed:
        if operations:
            staged = events.stage(state.tree, operations)
            leaf = staged.leaf_of(identity)
        else:
            leaf = state.leaf_of(identity)
        operations.append(events.leave(leaf))
    return operations


def sponsors_of(state, operations) -> list[bytes]:
    """Identities the sponsor rule names, in order, for ``operations`` on ``state`` (the
    structure alone decides it; placeholder keys stand in for the contributions)."""
    staged = events.stage(state.tree, operations, fill=True)
    names = []
    while True:
        leaf = events.next_sponsor(staged)
        if leaf is None:
            return names
        names.append(staged.identity[leaf])
        events.apply_contribution(staged, leaf, [b"\x09" + b"\x00" * 31]
                                  * events.span(staged, leaf))


def without_joiner_sponsors(state, requests):
    """The longest batch (leaves and refreshes first, then joins in arrival order) whose
    sponsors are all current members; the rest waits for the next round. For devices that
    cannot sponsor before their welcome ([rounds] joiner_sponsors = false)."""
    from groupkey import relay

    others = [request for request in requests if request.kind != relay.JOIN]
    joins = [request for request in requests if request.kind == relay.JOIN]
    members = set(state.members())
    for count in range(len(joins), -1, -1):
        batch = others + joins[:count]
        if not batch:
            break
        operations, _, _ = build_operations(state, batch)
        if all(identity in members for identity in sponsors_of(state, operations)):
            return batch, joins[count:]
    return requests[:1], requests[1:]


def with_member_signer(state, requests):
    """The longest batch (leaves and refreshes first, then joins in arrival order) in which
    at least one sponsor is a current member that stays: the ledger entry must be signed by
    a member before the transition. Without this check a batch whose every sponsor is a
    joiner would be aborted and rebuilt identically forever. The rest waits."""
    from groupkey import relay

    others = [request for request in requests if request.kind != relay.JOIN]
    joins = [request for request in requests if request.kind == relay.JOIN]
    members = set(state.members())
    for count in range(len(joins), -1, -1):
        batch = others + joins[:count]
        if not batch:
            break
        operations, _, removed = build_operations(state, batch)
        if any(identity in members and identity not in removed
               for identity in sponsors_of(state, operations)):
            return batch, joins[count:]
    return requests[:1], requests[1:]


class Round:
    """Drive one transition: ``data = await run()``; then ``signer`` and ``entry`` are set."""

    def __init__(self, group, operations, joined, removed, proofs=()):  # noqa: PLR0917
        self.group = group
        self.proofs = list(proofs)  # joiners' signed JOIN requests, for the sponsors
        self.state = group.state
        self.operations = operations
        self.joined = joined
        self.removed = removed
        self.sponsors: list[bytes] = []
        self.data = b""
        self.started = time.monotonic()

    async def contributions(self) -> bytes:
        """SPONSOR each sponsor the rule names until the transition is complete."""
        state = self.state
        data = state.prepare(self.operations)
        while True:
            request = state.sponsor_request(data)
            if request is None:
                break
            leaf = SponsorRequest.decode(request).leaf
            _, staged, _ = state.replay(data, verify=False, allow_incomplete=True)
            identity = staged.identity[leaf]
            device = self.group.device_of(identity)
            if device is None or not self.group.is_online(device):
                raise RoundAborted("sponsor %s is offline or unknown"
                                   % self.group.fingerprint(identity),
                                   offline_identity=identity if device is not None else None)
            self.group.emit("sponsor", device=device, leaf=leaf,
                            identity=self.group.fingerprint(identity),
                            epoch=state.epoch + 1)
            answer = await self.group.ask(device, "sponsor", request, self.proofs)
            try:
                _, _, identities = state.replay(answer, verify=True, allow_incomplete=True)
            except Exception as exc:  # any TGDH error: the contribution is not acceptable
                raise RoundAborted("contribution of %s rejected: %s: %s" % (
                    device, type(exc).__name__, exc)) from None
            if len(identities) != len(self.sponsors) + 1 or identities[-1] != identity:
                raise RoundAborted("contribution of %s is not the requested one" % device)
            self.sponsors.append(identity)
            data = answer
        self.data = data
        return data

    def signer(self) -> bytes:
        """The first sponsor that was a member before the transition and is not removed."""
        before = set(self.state.members())
        for identity in self.sponsors:
            if identity in before and identity not in self.removed:
                return identity
        raise RoundAborted("no continuing member sponsored the transition", retry=False)

    def unsigned_entry(self, new_state, invitations) -> entries.Entry:
        """The ledger transition entry (kind 17) the signer must sign."""
        body = bodies.Transition(event_code(self.joined, self.removed), new_state.tree_hash(),
                                 self.joined, self.removed, invitations, self.data).encode()
        return entries.Entry(entries.TRANSITION, self.state.group_id, new_state.epoch,
                             self.group.head, body, self.signer())

    async def signed_entry(self, new_state, invitations) -> bytes:
        """SIGN_ENTRY to the signer's device; the answer must be exactly that entry, signed."""
        unsigned = self.unsigned_entry(new_state, invitations)
        device = self.group.device_of(unsigned.signer)
        if device is None:
            raise RoundAborted("the signer's device is unknown")
        answer = await self.group.ask(device, "sign", unsigned.unsigned_bytes())
        try:
            signed = entries.decode(answer)
            if signed.unsigned_bytes() != unsigned.unsigned_bytes():
                raise ValueError("the device signed a different entry")
            signed.verify_signature()
        except Exception as exc:
            raise RoundAborted("signed entry from %s rejected: %s" % (device, exc)) from None
        return answer


async def gather_batch(queue: list[Request], changed: asyncio.Event, window: float,
                       quiet: float, limit: int) -> None:
    """Return when the queued requests should become one transition (adaptive window).

    A round starts when ``limit`` requests are queued, when no new request arrived for
    ``quiet`` seconds, or ``window`` seconds after the oldest queued request arrived,
    whichever comes first. A lone request therefore waits only ``quiet`` (not the whole
    window), while requests that keep arriving close together (joins and leaves sent at the
    same moment) still share one transition; requests that queued up during a running round
    are already older than the window and start at once. ``queue`` is the group's live list;
    ``changed`` is set by every enqueue (and cleared here).
    """
    quiet = min(quiet, window)
    while queue and len(queue) < limit:
        remaining = min(request.arrived for request in queue) + window - time.monotonic()
        if remaining <= 0:
            return
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), min(quiet, remaining))
        except asyncio.TimeoutError:
            return  # quiet: nothing else arrived


async def wait_answer(future: asyncio.Future, timeout: float, device: str,
                      identity: bytes) -> bytes:
    """Await a device's answer; a timeout aborts the round naming the silent device."""
    try:
        return await asyncio.wait_for(future, timeout)
    except asyncio.TimeoutError:
        raise RoundAborted("%s did not answer within %.0f s" % (device, timeout),
                           offline_identity=identity) from None
