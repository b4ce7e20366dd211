"""PublicGroupState: the public side of a group, for whoever holds no secret (ledger, gateway).

It validates a transition completely except the key confirmation (which needs the group key):
group, epoch continuity, previous epoch hash, the event against the TGDH rules, that every
contribution comes from the sponsor the rule names and is signed by that member's identity
key, that each publishes exactly the path the rule allows, and the new tree hash. ``apply``
returns a NEW state and never changes ``self``.

State encoding::

    version 0x01 | type 0x07 | group_id_length u8 | group_id | epoch u64 | epoch_hash[32]
    | last_transition_digest[32] | public tree node stream (public_tree.py)

Concurrent proposals for one epoch: the ledger finalizes the first it sees (an honest ledger
node never countersigns two transitions for one (group, epoch)); before finality a member that
holds two valid candidates prefers the one with the lower SHA-256 (``preferred``).
"""

from hashlib import sha256

from groupkey.tgdh import codec, events, keys, transition, tree
from groupkey.tgdh.errors import InvalidEvent, NotSponsor, TreeHashMismatch
from groupkey.tgdh.messages import MemberUpdate, SponsorRequest, Welcome
from groupkey.tgdh.public_tree import PublicTree
from groupkey.tgdh.transition import check_sequence

TYPE_PUBLIC_STATE = 0x07
ZERO_HASH = b"\x00" * 32


def preferred(first, second):
    """Of two valid transitions for the same epoch, the one every member prefers locally
    (lowest SHA-256) until the ledger finalizes one."""
    return first if sha256(first).digest() <= sha256(second).digest() else second


class PublicGroupState:
    """Group id, epoch, epoch hash and the public tree of one group."""

    def __init__(self, group_id, epoch, epoch_hash, public_tree, last_transition_digest=None):
        self.group_id = bytes(group_id)
        self.epoch = epoch
        self.epoch_hash = epoch_hash
        self.tree = public_tree
        self.last_transition_digest = last_transition_digest or ZERO_HASH

    @classmethod
    def genesis(cls, group_id, identity, blinded_key):
        """Epoch 0 of a group whose founder has ``identity`` and leaf BK ``blinded_key``."""
        codec.group_id_field(group_id)
        public_tree = PublicTree.single(identity, blinded_key)
        return cls(group_id, 0, keys.genesis_epoch_hash(group_id, public_tree.tree_hash()),
                   public_tree)

    def tree_hash(self):
        """The public tree hash of this epoch."""
        return self.tree.tree_hash()

    def members(self):
        """Member identities, left to right."""
        return [self.tree.identity[leaf] for leaf in self.tree.leaves()]

    def leaf_of(self, identity):
        """Leaf index of ``identity`` or None."""
        return self.tree.leaf_of(identity)

    # ------------------------------------------------------------ validation
    def prepare(self, operations):
        """Fill in the rule's insertion points and return the transition prefix bytes for
        the next epoch (raises InvalidEvent if the event cannot apply)."""
        events.stage(self.tree, operations, fill=True)
        return transition.encode_prefix(self.group_id, self.epoch + 1, self.epoch_hash,
                                        operations)

    def replay(self, data, verify=True, allow_incomplete=False):
        """Parse and check a (possibly incomplete) transition against this state.

        Returns (parsed transition, staged tree, sponsor identities in order)."""
        parsed = transition.decode(data, allow_incomplete)
        check_sequence(self.group_id, self.epoch, self.epoch_hash, self.last_transition_digest,
                       parsed)
        staged = events.stage(self.tree, parsed.operations)
        identities = []
        for contribution in parsed.contributions:
            expected = events.next_sponsor(staged)
            if contribution.sponsor != expected:
                raise NotSponsor("leaf %d contributed, the rule names %r"
                                 % (contribution.sponsor, expected))
            if len(contribution.blinded_keys) != events.span(staged, expected):
                raise InvalidEvent("contribution does not cover the sponsor's computable path")
            identity = staged.identity[expected]
            if verify:
                transition.verify_contribution(contribution, identity)
            events.apply_contribution(staged, contribution.sponsor, contribution.blinded_keys)
            identities.append(identity)
            if contribution.final != (events.next_sponsor(staged) is None):
                raise InvalidEvent("final flag does not match the remaining work")
        if parsed.final() is not None and staged.tree_hash() != parsed.final().tree_hash:
            raise TreeHashMismatch("signed tree hash differs from the staged tree")
        return parsed, staged, identities

    def apply(self, data, verify=True):
        """Validate transition bytes and return the next PublicGroupState (self unchanged)."""
        parsed, staged, _ = self.replay(data, verify)
        staged.clear_marks()
        return PublicGroupState(self.group_id, parsed.epoch,
                                keys.epoch_hash(self.epoch_hash, parsed.data), staged,
                                sha256(parsed.data).digest())

    # --------------------------------------------------- serving the members
    def sponsor_for(self, operations):
        """Leaf index (in the staged tree) of the first sponsor of an event."""
        return events.next_sponsor(events.stage(self.tree, operations, fill=True))

    def sponsor_request(self, prefix):
        """SponsorRequest bytes for the next sponsor of the partial transition ``prefix``, or
        None when it is complete. The view holds the sponsor's staged co-path (BK if known,
        subtree hash when the contribution is final)."""
        _, staged, _ = self.replay(prefix, verify=False, allow_incomplete=True)
        sponsor = events.next_sponsor(staged)
        if sponsor is None:
            return None
        count = events.span(staged, sponsor)
        probe = staged.copy()
        events.apply_contribution(probe, sponsor, [b"\x09" + b"\x00" * 31] * count)
        final = events.next_sponsor(probe) is None
        entries = {}
        for node in tree.copath(sponsor):
            blinded_key = staged.blinded.get(node)
            digest = staged.hash(node) if final else None
            entries[node] = (blinded_key, digest)
        return SponsorRequest(sponsor, final, prefix, entries).encode()

    def view_entries(self, leaf, with_path=True):
        """A member's full view: co-path nodes with BK and hash, path nodes with BK."""
        entries = {}
        for node in tree.copath(leaf):
            entries[node] = (self.tree.blinded[node], self.tree.hash(node))
        if with_path:
            for node in tree.path(leaf)[1:]:
                entries[node] = (self.tree.blinded[node], None)
        return entries

    def copath_proof(self, leaf):
        """Node list bytes: the co-path (BK, hash) and path BKs of ``leaf``; a light member
        recomputes the tree hash from them and its own leaf."""
        from groupkey.tgdh.messages import encode_node_list

        if not self.tree.is_leaf(leaf):
            raise InvalidEvent("leaf %d is not a member" % leaf)
        return encode_node_list(self.view_entries(leaf))

    def member_update(self, previous, data, identity):
        """MemberUpdate bytes for the member ``identity`` (``self`` is the state after the
        transition ``data``, ``previous`` the one before): only co-path entries that changed,
        and the hash alone when the BK is already in the transition."""
        parsed, _, identities = previous.replay(data, verify=False)
        leaf = self.tree.leaf_of(identity)
        old_leaf = previous.tree.leaf_of(identity)
        if leaf is None or old_leaf is None:
            raise InvalidEvent("not a member before and after the transition")
        known = {}
        for node in tree.copath(old_leaf):
            moved = events.map_index(parsed.operations, node)
            if moved is not None:
                known[moved] = (previous.tree.blinded[node], previous.tree.hash(node))
        published = parsed.published()
        entries = {}
        for node in tree.copath(leaf):
            current = (self.tree.blinded[node], self.tree.hash(node))
            if known.get(node) != current:
                if published.get(node) == current[0]:
                    current = (None, current[1])
                entries[node] = current
        return MemberUpdate(data, identities, entries).encode()

    def welcome(self, previous, data, identity):
        """Welcome bytes for a member joining (or merged in) by ``data``."""
        _, _, identities = previous.replay(data, verify=False)
        leaf = self.tree.leaf_of(identity)
        if leaf is None:
            raise InvalidEvent("identity is not a member after the transition")
        return Welcome(leaf, data, identities, self.view_entries(leaf)).encode()

    # ---------------------------------------------------------------- encoding
    def encode(self):
        """Wire bytes (see module docstring)."""
        return (codec.header(TYPE_PUBLIC_STATE) + codec.group_id_field(self.group_id)
                + codec.u64(self.epoch) + self.epoch_hash + self.last_transition_digest
                + self.tree.encode_nodes())

    @classmethod
    def decode(cls, data):
        """Parse ``encode`` output."""
        reader = codec.Reader(data)
        reader.header(TYPE_PUBLIC_STATE)
        group_id = reader.group_id()
        epoch = reader.u64()
        epoch_hash = reader.key()
        last = reader.key()
        public_tree = PublicTree.decode_nodes(reader)
        reader.finish()
        return cls(group_id, epoch, epoch_hash, public_tree, last)
