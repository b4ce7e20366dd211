"""Pure validation of one submitted entry against the ledger state (no storage, no network).

``validate(state, raw) -> Decision`` returns one of five outcomes, each handled differently
by the caller (ledger_node.node):

    accepted      valid and next in its log; ``decision.change`` is the staged state change
    duplicate     the same bytes are already logged at this (log, sequence): return the
                  existing receipt (idempotent)
    out_of_order  the sequence is ahead of the log head (or the log does not exist yet):
                  refused with the expected sequence in the reason; resubmit later
    conflict      a different entry is already logged at this (log, sequence): refused, the
                  submission is kept as equivocation evidence
    invalid       malformed, badly signed, unauthorized or inconsistent: refused with a reason

Checks: format, entry signature, authorization against the group policy and the identity
state (a revoked or unknown key cannot sponsor or join), sequence/epoch continuity, previous
hash, first-seen-wins per (log, sequence), and the public-tree consequence via
ledger_node.tgdh_adapter.
"""

from __future__ import annotations

import hashlib

from groupkey.ledger import bodies
from groupkey.ledger import entry as entries
from groupkey.ledger.errors import DecodeError
from ledger_node import signatures, tgdh_adapter
from ledger_node.state import GROUP, IDENTITY, Change, GroupState, IdentityState, LedgerState

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
OUT_OF_ORDER = "out_of_order"
CONFLICT = "conflict"
INVALID = "invalid"

EVENT_NAMES = {1: "join", 2: "leave", 3: "refresh", 4: "merge", 5: "partition", 6: "batch"}


class Decision:
    """The outcome of validating one entry."""

    def __init__(self, outcome: str, reason: str = "", entry=None, entry_hash: bytes = b"",
                 change: Change | None = None):
        self.outcome = outcome
        self.reason = reason
        self.entry = entry
        self.entry_hash = entry_hash
        self.change = change

    def __repr__(self) -> str:
        return "Decision(%s, %r)" % (self.outcome, self.reason)


class Invalid(Exception):
    """Internal: the entry is invalid for the given reason."""


def log_key_of(entry) -> tuple[bytes, bytes]:
    """(family, log id): identity and group logs live in separate namespaces."""
    return (IDENTITY if entry.kind in entries.IDENTITY_KINDS else GROUP, entry.log_id)


def validate(state: LedgerState, raw: bytes, check_signature: bool = True) -> Decision:
    """Decide what to do with the entry bytes ``raw`` given ``state`` (never mutated).

    ``check_signature=False`` skips every signature check (entry, invitations, TGDH sponsor
    contributions): only for replaying a node's own database, whose entries were fully
    checked when they arrived."""
    try:
        entry = entries.decode(raw)
    except DecodeError as exc:
        return Decision(INVALID, "malformed entry: %s" % exc)
    entry_hash = entry.entry_hash()
    log_key = log_key_of(entry)
    existing = state.hash_at(log_key, entry.sequence)
    if existing is not None:
        if existing == entry_hash:
            return Decision(DUPLICATE, "already logged", entry, entry_hash)
        # Only a correctly signed competitor is evidence; anything else is just invalid.
        if check_signature and not _signature_ok(entry):
            return Decision(INVALID, "bad entry signature", entry, entry_hash)
        return Decision(CONFLICT, "another entry is logged at sequence %d" % entry.sequence,
                        entry, entry_hash)
    expected, head_hash = state.head(log_key)
    if entry.sequence > expected:
        if check_signature and not _signature_ok(entry):
            return Decision(INVALID, "bad entry signature", entry, entry_hash)
        return Decision(OUT_OF_ORDER, "expected sequence %d, got %d" % (expected,
                                                                        entry.sequence),
                        entry, entry_hash)
    try:
        if entry.previous_hash != (head_hash or entries.ZERO_HASH):
            raise Invalid("previous hash does not match the log head")
        if check_signature and not _signature_ok(entry):
            raise Invalid("bad entry signature")
        try:
            body = bodies.decode_body(entry)
        except DecodeError as exc:
            raise Invalid("malformed body: %s" % exc) from None
        change = RULES[entry.kind](state, entry, body, check_signature)
    except Invalid as exc:
        return Decision(INVALID, str(exc), entry, entry_hash)
    change.log_key = log_key
    change.sequence = entry.sequence
    change.entry_hash = entry_hash
    return Decision(ACCEPTED, "", entry, entry_hash, change)


def _signature_ok(entry) -> bool:
    return signatures.is_valid(entry.signer, entry.signed_message(), entry.signature)


def _new_change() -> Change:
    return Change((b"", b""), 0, b"")


# ---- identity events ------------------------------------------------------------------------


def _inception(state: LedgerState, entry, body, verify: bool) -> Change:
    if entry.log_id != body.public_key or entry.signer != body.public_key:
        raise Invalid("inception: log id and signer must be the incepted key")
    if body.public_key in state.key_index:
        raise Invalid("inception: key already in use")
    change = _new_change()
    change.identity = IdentityState(entry.log_id, body.public_key, body.next_key_digest, 0)
    change.key_index = {body.public_key: entry.log_id}
    return change


def _rotation(state: LedgerState, entry, body, verify: bool) -> Change:
    identity = state.identities[entry.log_id]
    if identity.revoked:
        raise Invalid("rotation: identity is revoked")
    if hashlib.sha256(body.public_key).digest() != identity.next_key_digest:
        raise Invalid("rotation: key does not match the pre-rotation commitment")
    if entry.signer != body.public_key:
        raise Invalid("rotation: must be signed by the revealed key")
    if body.public_key in state.key_index:
        raise Invalid("rotation: key already in use")
    change = _new_change()
    change.identity = IdentityState(entry.log_id, body.public_key, body.next_key_digest,
                                    entry.sequence)
    change.key_index = {body.public_key: entry.log_id}
    return change


def _revocation(state: LedgerState, entry, body, verify: bool) -> Change:
    identity = state.identities[entry.log_id]
    if identity.revoked:
        raise Invalid("revocation: already revoked")
    if not body.group_id:
        if entry.signer != identity.current_key:
            raise Invalid("revocation: self-revocation must be signed by the current key")
    else:
        group = state.groups.get(body.group_id)
        if group is None or entry.signer not in group.genesis.admins:
            raise Invalid("revocation: signer is not an admin of the named group")
        if identity.current_key not in group.members:
            raise Invalid("revocation: device is not a member of the admin's group")
    change = _new_change()
    revoked = identity.copy()
    revoked.revoked = True
    revoked.revoked_by = entry.signer
    revoked.sequence = entry.sequence
    change.identity = revoked
    # The ledger marks the device for removal in every group; the rekey is a later leave.
    for group_id in sorted(state.memberships.get(identity.current_key, ())):
        marked = state.groups[group_id].copy()
        marked.pending_removals.add(identity.current_key)
        change.groups.append(marked)
    return change


# ---- group events ---------------------------------------------------------------------------


def _genesis(state: LedgerState, entry, body, verify: bool) -> Change:
    if body.policy not in (entries.POLICY_ALLOW_LIST, entries.POLICY_INVITATION):
        raise Invalid("genesis: unknown policy")
    if not body.admins or len(set(body.admins)) != len(body.admins):
        raise Invalid("genesis: admins must be distinct and at least one")
    if not body.nodes or len(set(body.nodes)) != len(body.nodes):
        raise Invalid("genesis: ledger node keys must be distinct and at least one")
    if not 1 <= body.threshold <= len(body.nodes):
        raise Invalid("genesis: threshold must be in 1..number of nodes")
    if 2 * body.threshold <= len(body.nodes):
        # quorum intersection: with 2t <= n two disjoint sets of honest nodes could each
        # countersign a different transition for the same epoch (a split group)
        raise Invalid("genesis: threshold must be more than half of the ledger nodes")
    if entry.signer not in body.admins:
        raise Invalid("genesis: must be signed by an admin")
    try:
        view = tgdh_adapter.initial_public_state(entry.log_id, body.public_tree)
    except tgdh_adapter.TransitionRejected as exc:
        raise Invalid(str(exc)) from None
    for member in view.members:
        if not state.active_key(member):
            raise Invalid("genesis: member key is unknown or revoked")
    change = _new_change()
    change.group = GroupState(entry.log_id, body, 0, view)
    return change


def _transition(state: LedgerState, entry, body, verify: bool) -> Change:
    group = state.groups[entry.log_id]
    genesis = group.genesis
    if body.event not in EVENT_NAMES:
        raise Invalid("transition: unknown event type")
    members = group.members
    if entry.signer not in members:
        raise Invalid("transition: sponsor is not a member")
    if not state.active_key(entry.signer):
        raise Invalid("transition: sponsor key is revoked or rotated away")
    if len(set(body.joined)) != len(body.joined) or len(set(body.removed)) != len(body.removed):
        raise Invalid("transition: repeated keys")
    if body.event == 3 and (body.joined or body.removed):
        raise Invalid("transition: a refresh changes no membership")
    for key in body.removed:
        if key not in members:
            raise Invalid("transition: removed key is not a member")
        if key == entry.signer:
            raise Invalid("transition: a removed member cannot sponsor")
    invited = _check_invitations(entry.log_id, genesis, body) if verify else set(
        invitation.member for invitation in body.invitations)
    for key in body.joined:
        if key in members:
            raise Invalid("transition: joining key is already a member")
        if not state.active_key(key):
            raise Invalid("transition: joining key is unknown or revoked")
        if genesis.policy == entries.POLICY_ALLOW_LIST and key not in genesis.allowed:
            raise Invalid("transition: joining key is not on the allow-list")
        if genesis.policy == entries.POLICY_INVITATION and key not in invited:
            raise Invalid("transition: joining key has no admin invitation")
    try:
        view = tgdh_adapter.apply_public_transition(group.public_view, body, entry.sequence,
                                                       verify)
    except tgdh_adapter.TransitionRejected as exc:
        raise Invalid("transition: %s" % exc) from None
    updated = GroupState(group.group_id, genesis, entry.sequence, view,
                         group.pending_removals - set(body.removed))
    change = _new_change()
    change.group = updated
    return change


def _check_invitations(group_id: bytes, genesis, body) -> set[bytes]:
    invited = set()
    for invitation in body.invitations:
        if invitation.admin not in genesis.admins:
            raise Invalid("transition: invitation not signed by an admin")
        if not signatures.is_valid(invitation.admin, invitation.message(group_id),
                                   invitation.signature):
            raise Invalid("transition: bad invitation signature")
        invited.add(invitation.member)
    return invited


def _needs_log(rule):
    """Wrap a rule for a non-initial event: its log must exist (else out of order)."""

    def checked(state, entry, body, verify):
        if entry.sequence == 0:
            raise Invalid("%s cannot start a log" % entries.KIND_NAMES[entry.kind])
        return rule(state, entry, body, verify)

    return checked


def _starts_log(rule):
    def checked(state, entry, body, verify):
        if entry.sequence != 0:
            raise Invalid("%s must be sequence 0" % entries.KIND_NAMES[entry.kind])
        return rule(state, entry, body, verify)

    return checked


RULES = {
    entries.INCEPTION: _starts_log(_inception),
    entries.ROTATION: _needs_log(_rotation),
    entries.REVOCATION: _needs_log(_revocation),
    entries.GENESIS: _starts_log(_genesis),
    entries.TRANSITION: _needs_log(_transition),
}
