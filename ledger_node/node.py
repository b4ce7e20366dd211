"""One ledger node: validate, persist durably, then countersign (sign a checkpoint).

``LedgerNode.submit_batch(raws)`` is the write path used by the network API, the CLI and the
benchmark. For a batch: validate each entry in order against the in-memory state, insert the
accepted ones in ONE durable SQLite transaction (fsync), sign ONE checkpoint over the new tree,
store it, and only then hand out receipts (checkpoint + inclusion proof). A batch of one is
the unbatched mode. Conflicts are stored as equivocation evidence.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from groupkey import did as dids
from groupkey.ledger.receipt import Checkpoint, Receipt
from ledger_node import validation
from ledger_node.merkle_tree import MerkleTree
from ledger_node.state import GROUP, LedgerState
from ledger_node.storage import Storage

log = logging.getLogger("ledger_node")


def fingerprint(key: bytes) -> str:
    """Short, loggable fingerprint of a public key or hash (never log secrets)."""
    return key[:6].hex()


class Result:
    """What a submitter gets back for one entry."""

    def __init__(self, outcome: str, reason: str = "", entry_hash: bytes = b"",
                 leaf_index: int | None = None, receipt: bytes | None = None):
        self.outcome = outcome
        self.reason = reason
        self.entry_hash = entry_hash
        self.leaf_index = leaf_index
        self.receipt = receipt

    def as_json(self) -> dict:
        return {"outcome": self.outcome, "reason": self.reason,
                "entry_hash": self.entry_hash.hex(), "leaf_index": self.leaf_index,
                "receipt": self.receipt.hex() if self.receipt else None}


class Signer:
    """The node's Ed25519 key (uses a cached SigningKey object when the crypto API has one)."""

    def __init__(self, seed: bytes):
        from groupkey.crypto import ed25519

        self.public_key = ed25519.public_key(seed)
        if hasattr(ed25519, "SigningKey"):
            self._sign = ed25519.SigningKey(seed).sign
        else:
            self._sign = lambda message: ed25519.sign(seed, message)

    def sign(self, message: bytes) -> bytes:
        return self._sign(message)


class LedgerNode:
    """State + tree + storage + key of one node. Not thread-safe: call from one thread."""

    def __init__(self, database: str | Path, seed: bytes, clock=time.time,
                 synchronous: str = "FULL"):
        self.signer = Signer(seed)
        self.public_key = self.signer.public_key
        self.clock = clock
        self.storage = Storage(database, synchronous)
        self.state = LedgerState()
        self.tree = MerkleTree()
        self._load()

    # ---- start-up -----------------------------------------------------------------------

    def _load(self) -> None:
        """Replay stored entries through the validator (signatures were checked on entry)."""
        for leaf_index, entry_hash, raw in self.storage.iter_entries():
            decision = validation.validate(self.state, raw, check_signature=False)
            if decision.outcome != validation.ACCEPTED or decision.entry_hash != entry_hash:
                raise RuntimeError("stored entry %d does not replay: %s" % (leaf_index,
                                                                            decision.reason))
            self.state.apply(decision.change)
            self.tree.append_leaf_hash(entry_hash)
        latest = self.storage.latest_checkpoint()
        if latest is not None:
            checkpoint = Checkpoint.decode(latest)
            if checkpoint.tree_size > self.tree.size or checkpoint.root != self.tree.root(
                    checkpoint.tree_size):
                raise RuntimeError("latest checkpoint does not match the stored entries")
        if self.tree.size and (latest is None or Checkpoint.decode(latest).tree_size
                               != self.tree.size):
            # Durable entries from a batch interrupted before its checkpoint: sign now.
            self._sign_checkpoint()
        log.info("node %s loaded %d entries", fingerprint(self.public_key), self.tree.size)

    # ---- write path ---------------------------------------------------------------------

    def submit(self, raw: bytes) -> Result:
        return self.submit_batch([raw])[0]

    def submit_batch(self, raws: list[bytes]) -> list[Result]:
        """Validate, persist (one fsync), countersign (one signature) and answer each entry."""
        results: list[Result] = []
        rows = []
        pending: list[tuple[int, Result]] = []
        start_size = self.tree.size
        try:
            for raw in raws:
                decision = validation.validate(self.state, bytes(raw))
                result = Result(decision.outcome, decision.reason, decision.entry_hash)
                results.append(result)
                if decision.outcome == validation.ACCEPTED:
                    change = decision.change
                    self.state.apply(change)
                    leaf_index = self.tree.append_leaf_hash(decision.entry_hash)
                    family, log_id = change.log_key
                    rows.append((leaf_index, family, log_id, change.sequence,
                                 decision.entry_hash, bytes(raw)))
                    result.leaf_index = leaf_index
                    pending.append((len(results) - 1, result))
                elif decision.outcome == validation.DUPLICATE:
                    self._fill_existing(result)
                elif decision.outcome == validation.CONFLICT:
                    self._keep_evidence(decision, bytes(raw))
            self.storage.append_entries(rows)
        except BaseException:
            # Never keep in memory what is not on disk: rebuild from the database.
            self.state = LedgerState()
            self.tree = MerkleTree()
            self._load()
            raise
        if rows:
            checkpoint = self._sign_checkpoint()
            for _, result in pending:
                path = self.tree.inclusion_proof(result.leaf_index, checkpoint.tree_size)
                result.receipt = Receipt(checkpoint, result.leaf_index, path).encode()
            log.debug("appended %d entries (tree %d -> %d)", len(rows), start_size,
                      self.tree.size)
        return results

    def _sign_checkpoint(self) -> Checkpoint:
        size = self.tree.size
        checkpoint = Checkpoint(self.public_key, size, self.tree.root(size),
                                int(self.clock() * 1000))
        checkpoint.signature = self.signer.sign(checkpoint.signed_message())
        # The covered entries are already fsynced; the checkpoint itself need not wait for
        # fsync (see Storage.store_checkpoint): one fsync per batch, not two.
        self.storage.store_checkpoint(size, checkpoint.encode(), durable=False)
        return checkpoint

    def _fill_existing(self, result: Result) -> None:
        row = self.storage.entry_by_hash(result.entry_hash)
        if row is None:
            return
        result.leaf_index = row[0]
        result.receipt = self.receipt(result.entry_hash)

    def _keep_evidence(self, decision, raw: bytes) -> None:
        family, log_id = validation.log_key_of(decision.entry)
        logged = self.state.hash_at((family, log_id), decision.entry.sequence)
        self.storage.store_evidence(family, log_id, decision.entry.sequence, logged, raw,
                                    int(self.clock() * 1000))
        log.warning("conflicting entry %s for log %s sequence %d kept as evidence",
                    fingerprint(decision.entry_hash), fingerprint(log_id),
                    decision.entry.sequence)

    # ---- read path ----------------------------------------------------------------------

    def receipt(self, entry_hash: bytes) -> bytes | None:
        """The receipt of a logged entry: first checkpoint covering it + inclusion proof."""
        row = self.storage.entry_by_hash(entry_hash)
        if row is None:
            return None
        leaf_index = row[0]
        raw_checkpoint = self.storage.checkpoint_covering(leaf_index)
        if raw_checkpoint is None:
            return None
        checkpoint = Checkpoint.decode(raw_checkpoint)
        path = self.tree.inclusion_proof(leaf_index, checkpoint.tree_size)
        return Receipt(checkpoint, leaf_index, path).encode()

    def latest_checkpoint(self) -> bytes | None:
        return self.storage.latest_checkpoint()

    def entry(self, entry_hash: bytes):
        return self.storage.entry_by_hash(entry_hash)

    def entry_at(self, family: bytes, log_id: bytes, sequence: int):
        return self.storage.entry_by_log(family, log_id, sequence)

    def group_state(self, group_id: bytes) -> dict | None:
        group = self.state.groups.get(group_id)
        if group is None:
            return None
        genesis = group.genesis
        head = self.state.hash_at((GROUP, group_id), group.epoch)
        return {"group_id": group_id.hex(), "epoch": group.epoch,
                "head_hash": head.hex() if head else None,
                "tree_hash": group.public_view.tree_hash.hex(),
                "members": [key.hex() for key in group.members],
                "pending_removals": sorted(key.hex() for key in group.pending_removals),
                "admins": [key.hex() for key in genesis.admins],
                "ledger_nodes": [key.hex() for key in genesis.nodes],
                "threshold": genesis.threshold, "policy": genesis.policy}

    def resolve(self, did: str) -> dict | None:
        """Current key and status of a DID: the did:key of its inception key, or of any key
        the identity has held (a rotated-away key resolves to the identity's current key)."""
        public_key = dids.public_key_from_did(did)
        identity = self.state.identities.get(public_key) or self.state.identity_for_key(
            public_key)
        if identity is None:
            return None
        return {"did": dids.did_from_public_key(identity.log_id),
                "current_key": identity.current_key.hex(),
                "current_did": dids.did_from_public_key(identity.current_key),
                "sequence": identity.sequence,
                "status": "revoked" if identity.revoked else "active",
                "groups": sorted(group_id.hex() for group_id in
                                 self.state.memberships.get(identity.current_key, ()))}

    def evidence(self) -> list[dict]:
        return [{"family": family.decode(), "log_id": log_id.hex(), "sequence": sequence,
                 "logged_hash": logged.hex(), "entry": raw.hex(), "received_ms": received}
                for family, log_id, sequence, logged, raw, received in
                self.storage.evidence()]

    def close(self) -> None:
        self.storage.close()

