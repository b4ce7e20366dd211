"""Ledger entries for a real TGDH group, for tests, benchmarks and demos.

``GroupDriver`` runs a groupkey.tgdh Simulation (the public state plus every member's
secrets, in-process) and turns each membership event into the signed ledger entries a
gateway would submit: identity inceptions, the group genesis (the epoch-0 public state) and
one transition entry per TGDH epoch (declared joins/leaves, new tree hash, the TGDH bytes),
signed by a sponsor of the transition who was a member before it.
"""

from __future__ import annotations

from groupkey.crypto import ed25519
from groupkey.ledger import entry as entries
from groupkey.ledger import events as ledger_events
from groupkey.tgdh import events
from groupkey.tgdh.simulation import Simulation

JOIN, LEAVE, REFRESH = 1, 2, 3


class GroupDriver:
    """One TGDH group and the ledger entries describing it."""

    def __init__(self, group_id: bytes, rand, node_keys: list[bytes], threshold: int,
                 policy: int = entries.POLICY_ALLOW_LIST):
        self.group_id = group_id
        self.rand = rand
        self.node_keys = list(node_keys)
        self.threshold = threshold
        self.policy = policy
        self.simulation = Simulation(group_id, rand)
        founder = next(iter(self.simulation.members.values()))
        self.founder = founder.identity
        self.seeds: dict[bytes, bytes] = {founder.identity: founder.signing_seed}
        self.identities: dict[bytes, object] = {}
        self.head: bytes | None = None
        self.epoch = 0

    def inception(self, public_key: bytes) -> bytes:
        """The identity inception entry of a known key (next key: a fresh random one)."""
        next_key = ed25519.public_key(self.rand(32))
        return ledger_events.inception(self.seeds[public_key], next_key)

    def new_identity(self) -> tuple[bytes, bytes]:
        """A fresh device identity able to join: (public key, its inception entry)."""
        identity = self.simulation.new_identity()
        self.identities[identity.public] = identity
        self.seeds[identity.public] = identity.seed
        return identity.public, self.inception(identity.public)

    def genesis(self, allowed: list[bytes] = (), admins: list[bytes] | None = None) -> bytes:
        """Epoch 0: the founder is the admin unless ``admins`` (keys with seeds) is given."""
        admins = list(admins or [self.founder])
        raw = ledger_events.genesis(self.group_id, self.seeds[admins[0]], admins,
                                    self.node_keys, self.threshold,
                                    self.simulation.state.encode(), allowed=list(allowed),
                                    policy=self.policy)
        self.head = entries.decode(raw).entry_hash()
        return raw

    def members(self) -> list[bytes]:
        return self.simulation.state.members()

    def transition(self, joined=(), removed=(), refresh: bytes | None = None,
                   invitations=(), signer: bytes | None = None) -> bytes:
        """Run one TGDH epoch and return its ledger entry (not yet submitted)."""
        before = self.simulation.state
        operations = [self.simulation.join_operation(self.identities[key]) for key in joined]
        operations += [events.leave(before.leaf_of(key)) for key in removed]
        if refresh is not None:
            operations.append(events.refresh(before.leaf_of(refresh)))
        kind = JOIN if joined and not removed else LEAVE if removed and not joined else (
            REFRESH if not joined and not removed else 6)
        data = self.simulation.run(operations)
        after = self.simulation.state
        if signer is None:
            _, _, sponsors = before.replay(data, verify=False)
            old = set(before.members())
            signer = next((key for key in sponsors if key in old and key not in removed),
                          None) or next(key for key in before.members() if key not in removed)
        self.epoch = after.epoch
        raw = ledger_events.transition(self.group_id, after.epoch, self.head,
                                       self.seeds[signer], kind, after.tree_hash(),
                                       joined=list(joined), removed=list(removed),
                                       invitations=invitations, tgdh=data)
        self.head = entries.decode(raw).entry_hash()
        return raw
