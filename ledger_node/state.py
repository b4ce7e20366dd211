"""In-memory ledger state the validator reads: identities, groups and log heads.

The state is rebuilt at start by replaying the stored entries through the validator (the
same code path as live submissions, which is also what ``python -m ledger_node verify``
does). Validation never mutates it: it returns a ``Change`` that ``LedgerState.apply``
merges after the entry is durable.
"""

from __future__ import annotations

IDENTITY = b"I"
GROUP = b"G"


class IdentityState:
    """Resolution of one DID: current key, pre-rotation commitment, status."""

    def __init__(self, log_id: bytes, current_key: bytes, next_key_digest: bytes,  # noqa: PLR0917
                 sequence: int, revoked: bool = False, revoked_by: bytes | None = None):
        self.log_id = log_id
        self.current_key = current_key
        self.next_key_digest = next_key_digest
        self.sequence = sequence
        self.revoked = revoked
        self.revoked_by = revoked_by

    def copy(self) -> IdentityState:
        return IdentityState(self.log_id, self.current_key, self.next_key_digest,
                             self.sequence, self.revoked, self.revoked_by)


class GroupState:
    """A group's configuration (from genesis) and current epoch, members and public tree."""

    def __init__(self, group_id: bytes, genesis, epoch: int, public_view,
                 pending_removals: set[bytes] | None = None):
        self.group_id = group_id
        self.genesis = genesis
        self.epoch = epoch
        self.public_view = public_view
        self.pending_removals = set(pending_removals or ())

    @property
    def members(self) -> list[bytes]:
        return self.public_view.members

    def copy(self) -> GroupState:
        return GroupState(self.group_id, self.genesis, self.epoch, self.public_view,
                          self.pending_removals)


class Change:
    """The staged consequence of one accepted entry."""

    def __init__(self, log_key: tuple[bytes, bytes], sequence: int, entry_hash: bytes,  # noqa: PLR0917
                 identity: IdentityState | None = None, group: GroupState | None = None,
                 groups: list[GroupState] | None = None, key_index: dict | None = None):
        self.log_key = log_key
        self.sequence = sequence
        self.entry_hash = entry_hash
        self.identity = identity
        self.group = group
        self.groups = groups or []
        self.key_index = key_index or {}


class LedgerState:
    """Everything validation needs, keyed by (family, log id)."""

    def __init__(self) -> None:
        self.identities: dict[bytes, IdentityState] = {}
        self.key_index: dict[bytes, bytes] = {}
        self.groups: dict[bytes, GroupState] = {}
        self.memberships: dict[bytes, set[bytes]] = {}
        self.log_hashes: dict[tuple[bytes, bytes], list[bytes]] = {}

    def head(self, log_key: tuple[bytes, bytes]) -> tuple[int, bytes | None]:
        """(next expected sequence, hash of the last entry or None)."""
        hashes = self.log_hashes.get(log_key)
        if not hashes:
            return 0, None
        return len(hashes), hashes[-1]

    def hash_at(self, log_key: tuple[bytes, bytes], sequence: int) -> bytes | None:
        hashes = self.log_hashes.get(log_key)
        if hashes is None or sequence >= len(hashes):
            return None
        return hashes[sequence]

    def identity_for_key(self, public_key: bytes) -> IdentityState | None:
        log_id = self.key_index.get(public_key)
        return self.identities.get(log_id) if log_id is not None else None

    def active_key(self, public_key: bytes) -> bool:
        """True when ``public_key`` is the current key of a non-revoked identity."""
        identity = self.identity_for_key(public_key)
        return (identity is not None and not identity.revoked
                and identity.current_key == public_key)

    def apply(self, change: Change) -> None:
        """Merge a validated change."""
        self.log_hashes.setdefault(change.log_key, []).append(change.entry_hash)
        self.key_index.update(change.key_index)
        if change.identity is not None:
            self.identities[change.identity.log_id] = change.identity
        for group in ([change.group] if change.group is not None else []) + change.groups:
            previous = self.groups.get(group.group_id)
            if previous is not None:
                for key in previous.members:
                    self.memberships.get(key, set()).discard(group.group_id)
            for key in group.members:
                self.memberships.setdefault(key, set()).add(group.group_id)
            self.groups[group.group_id] = group
