"""In-process group simulation: one PublicGroupState (the gateway and ledger role) driving
Member objects through transitions. Used by tests, benchmarks and the MicroPython scenario;
it shows the message flow a real gateway follows:

1. ``state.prepare(operations)`` -> transition prefix (insertion points filled in);
2. while ``state.sponsor_request(data)`` names a sponsor: that member's ``contribute``;
3. ``state.apply(data)`` -> the new public state (what the ledger validates and records);
4. each remaining member gets ``member_update`` (light) or the transition (full); each joiner
   a ``welcome``.

Randomness comes from ``rand(length)``, so a seeded generator reproduces every byte.
"""

from groupkey.crypto import ed25519
from groupkey.tgdh import events, keys, sponsor, tree
from groupkey.tgdh.member import Member
from groupkey.tgdh.messages import SponsorRequest
from groupkey.tgdh.state import PublicGroupState


def sequential_leaves(leaves):
    """Leave operations for several leaves (indices in the current tree), each later index
    mapped through the earlier removals, as one batch of ``Simulation.run`` expects."""
    operations = []
    remaining = list(leaves)
    while remaining:
        leaf = remaining.pop(0)
        operations.append(events.leave(leaf))
        remaining = [tree.index_after_remove(leaf, other) for other in remaining]
    return operations


class Identity:
    """A simulated device identity: signing seed, public key and a leaf secret to join with."""

    def __init__(self, rand):
        self.seed = rand(32)
        self.public = ed25519.public_key(self.seed)
        self.secret = rand(32)
        self._blinded_key = None

    def blinded_key(self):
        """BK of ``secret`` (cached)."""
        if self._blinded_key is None:
            self._blinded_key = keys.blinded_key(self.secret)
        return self._blinded_key


class Simulation:
    """A group: public state plus members keyed by identity public key."""

    def __init__(self, group_id, rand, full=False):
        self.group_id = group_id
        self.rand = rand
        self.full = full
        self.members = {}
        self.pending_joiners = {}
        founder = Identity(rand)
        member = Member.found_from_parts(group_id, founder.public, founder.seed, founder.secret,
                                         full)
        self.members[founder.public] = member
        self.state = PublicGroupState.genesis(group_id, founder.public, member.blinded_key())
        self.last_bytes = {}

    def new_identity(self):
        """A fresh identity to join with."""
        identity = Identity(self.rand)
        self.pending_joiners[identity.public] = identity
        return identity

    def join_operation(self, identity):
        """events.join for a simulated identity."""
        return events.join(identity.public, identity.blinded_key())

    def leaf_of(self, identity_public):
        """Current leaf of a member."""
        return self.state.leaf_of(identity_public)

    def run(self, operations, merged=None):
        """Run one transition through sponsors and members; returns its bytes.

        ``merged`` is another Simulation whose tree the operations merge in (its members then
        join this group through welcomes)."""
        return self.deliver(self.build(operations), merged)

    def build(self, operations):
        """Collect every contribution of a transition (sponsors keep their pending secret)."""
        data = self.state.prepare(operations)
        while True:
            request = self.state.sponsor_request(data)
            if request is None:
                break
            decoded = SponsorRequest.decode(request)
            _, staged, _ = self.state.replay(data, verify=False, allow_incomplete=True)
            public = staged.identity[decoded.leaf]
            secret = self.rand(32)
            if public in self.members:
                data = self.members[public].contribute_from_parts(request, secret)
            else:
                joiner = self.pending_joiners[public]
                data, _ = sponsor.run_steps(sponsor.contribute_steps(
                    decoded, public, joiner.seed, secret))
                joiner.secret = secret
        return data

    def deliver(self, data, merged=None):
        """Apply a complete transition to the public state and every member; returns it."""
        new_state = self.state.apply(data)
        self.last_bytes = {}
        for public in list(self.members):
            if new_state.leaf_of(public) is None:
                del self.members[public]
                continue
            member = self.members[public]
            if member.public is not None:
                message = data
            else:
                message = new_state.member_update(self.state, data, public)
            self.last_bytes[public] = len(message)
            member.handle(message)
        public_bytes = new_state.encode() if self.full else None
        for public in new_state.members():
            if public in self.members:
                continue
            welcome = new_state.welcome(self.state, data, public)
            self.last_bytes[public] = len(welcome)
            if merged is not None and public in merged.members:
                self.members[public] = merged.members[public].merge_into(welcome, public_bytes)
            else:
                joiner = self.pending_joiners.pop(public)
                self.members[public] = Member.from_welcome(welcome, public, joiner.secret,
                                                           joiner.seed, public_bytes)
        self.state = new_state
        return data

    def check_agreement(self):
        """Raise AssertionError-free ValueError unless every member agrees with the state."""
        epoch_secret = None
        for public, member in self.members.items():
            if member.epoch != self.state.epoch or member.tree_hash != self.state.tree_hash():
                raise ValueError("member disagrees on epoch or tree hash")
            if member.leaf != self.state.leaf_of(public):
                raise ValueError("member disagrees on its leaf")
            if epoch_secret is None:
                epoch_secret = member.epoch_secret
            elif member.epoch_secret != epoch_secret:
                raise ValueError("members disagree on the epoch secret")
        return epoch_secret


def synthetic_group(group_id, size, rand):
    """SIMULATION ONLY: epoch 0 of a ``size``-member group built directly, as if every member
    had joined by the TGDH rule, with all node keys computed by a builder that knows every
    leaf secret (no real group starts like this). Returns (PublicGroupState, {identity public
    key: Identity}); members are materialized with ``Member.from_public_state``."""
    from groupkey.tgdh import tree
    from groupkey.tgdh.public_tree import PublicTree

    identities = [Identity(rand) for _ in range(size)]
    public_tree = PublicTree.single(identities[0].public, identities[0].blinded_key())
    for identity in identities[1:]:
        public_tree.insert(public_tree.insertion_point(0),
                           PublicTree.single(identity.public, identity.blinded_key()))
    node_keys = {}
    for identity in identities:
        node_keys[public_tree.leaf_of(identity.public)] = identity.secret
    internal = sorted(public_tree.unknown_nodes(), key=tree.level, reverse=True)
    for node in internal:
        key = keys.combine(node_keys[2 * node], public_tree.blinded[2 * node + 1])
        node_keys[node] = key
        public_tree.blinded[node] = keys.blinded_key(key)
    public_tree.clear_marks()
    state = PublicGroupState(group_id, 0, keys.genesis_epoch_hash(group_id,
                                                                  public_tree.tree_hash()),
                             public_tree)
    return state, dict((identity.public, identity) for identity in identities)


class DeterministicRandom:
    """Reproducible bytes for tests and vectors ONLY (SHA-256 in counter mode over a seed):
    the same seed gives the same group on CPython and on MicroPython."""

    def __init__(self, seed):
        self.seed = bytes(seed)
        self.counter = 0

    def __call__(self, length):
        from hashlib import sha256

        out = b""
        while len(out) < length:
            out += sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        return out[:length]
