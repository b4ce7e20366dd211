"""Member: the device side of TGDH (light: O(log n) state; full: also the public tree).

A light member holds its leaf secret, the keys and BKs of its path, the (BK, subtree hash) of
its co-path, the tree hash, epoch and epoch hash. A full member also holds a
PublicGroupState and so checks the sponsor rule itself. Both run the same key code.

Processing a transition (``handle`` / ``handle_steps``), in order, on staged copies:
parse; group, epoch and previous epoch hash; sponsor signatures (full: identities from its
tree and the sponsor rule via PublicGroupState; light: identities delivered in the update,
vouched for by the ledger receipts); map its own position through the event; assemble the new
co-path from the old one, the published BKs and the delivered delta; recompute the tree hash
and compare it with the signed one; recompute the changed path keys (at most depth X25519
operations, none of them repeated by a sponsor); check the key confirmation; then commit and
drop the previous leaf secret and node keys. Any failure raises and leaves the member as it
was. ``*_steps`` variants are generators yielding after each X25519 operation (asyncio).
"""

from hashlib import sha256

from groupkey.crypto import ct
from groupkey.tgdh import codec, events, keys, run_steps, transition, tree
from groupkey.tgdh.errors import (
    DecodeError,
    IncompleteView,
    InconsistentBlindedKey,
    InvalidEvent,
    NotReady,
    Removed,
    TreeHashMismatch,
)
from groupkey.tgdh.hashing import climb_hash
from groupkey.tgdh.transition import check_sequence


class Member:
    """One member's TGDH state. Build with ``found`` / ``from_welcome`` / ``import_state``."""

    def __init__(self):
        self.group_id = None
        self.epoch = 0
        self.epoch_hash = None
        self.tree_hash = None
        self.last_transition_digest = b"\x00" * 32
        self.leaf = tree.ROOT
        self.identity = None
        self.signing_seed = None
        self.check_blinded_keys = False
        self.public = None
        self.x25519_operations = 0
        self._secret = None
        self._leaf_key = None
        self._path = {}  # ancestor node -> (node key, BK)
        self._copath = {}  # co-path node -> (BK, subtree hash)
        self._epoch_keys = None
        self._pending = None

    # -------------------------------------------------------------- creation
    @classmethod
    def found_from_parts(cls, group_id, identity, signing_seed, secret, full=True):
        """Founder of a new group (epoch 0, alone in the tree) with a given leaf secret."""
        from groupkey.tgdh import member_setup

        return member_setup.found_from_parts(cls, group_id, identity, signing_seed, secret, full)

    @classmethod
    def found(cls, group_id, identity, signing_seed, full=True):
        """Founder with a leaf secret from groupkey.crypto.rng."""
        from groupkey.crypto import rng

        return cls.found_from_parts(group_id, identity, signing_seed, rng.random_bytes(32), full)

    @classmethod
    def from_welcome_steps(cls, data, identity, secret, signing_seed=None, public_state=None):
        """Generator: a member joining (or merged in) from Welcome bytes and its leaf secret.
        ``public_state`` (PublicGroupState bytes of the new epoch) makes it a full member."""
        from groupkey.tgdh import member_setup

        return (yield from member_setup.from_welcome_steps(cls, data, identity, secret,
                                                           signing_seed, public_state))

    @classmethod
    def from_welcome(cls, data, identity, secret, signing_seed=None, public_state=None):
        """Blocking form of ``from_welcome_steps``."""
        return run_steps(cls.from_welcome_steps(data, identity, secret, signing_seed,
                                                public_state))

    @classmethod
    def from_public_state_steps(cls, state, identity, secret, signing_seed=None,
                                previous_epoch_hash=None, full=False):
        """Generator: recover a member from a TRUSTED public state and its leaf secret (it
        lost its path state, or a simulation builds it). ``previous_epoch_hash`` is the hash
        of the epoch before ``state.epoch`` (zeros for epoch 0)."""
        from groupkey.tgdh import member_setup

        return (yield from member_setup.from_public_state_steps(
            cls, state, identity, secret, signing_seed, previous_epoch_hash, full))

    @classmethod
    def from_public_state(cls, state, identity, secret, signing_seed=None,
                          previous_epoch_hash=None, full=False):
        """Blocking form of ``from_public_state_steps``."""
        return run_steps(cls.from_public_state_steps(state, identity, secret, signing_seed,
                                                     previous_epoch_hash, full))

    # ------------------------------------------------------------ properties
    @property
    def traffic_secret(self):
        """Secret for group data messages of this epoch (sender index = ``leaf``)."""
        return self._epoch_keys.traffic_secret

    @property
    def epoch_secret(self):
        """The epoch secret (root of this epoch's key schedule)."""
        return self._epoch_keys.epoch_secret

    def export(self, label, context, length):
        """Exporter for other purposes, bound to this epoch."""
        return self._epoch_keys.export(label, context, length)

    def identity_of(self, leaf):
        """Identity at ``leaf`` (full members only; None when unknown)."""
        if self.public is None:
            return None
        return self.public.tree.identity.get(leaf)

    def blinded_key(self):
        """This member's leaf BK."""
        return self._leaf_key

    # ---------------------------------------------------------- sponsoring
    def sponsor_request(self, prefix):
        """A full member builds its own SponsorRequest from a transition prefix."""
        if self.public is None:
            raise NotReady("a light member needs the gateway's sponsor request")
        request = self.public.sponsor_request(prefix)
        if request is None:
            raise InvalidEvent("the transition is already complete")
        return request

    def contribute_steps(self, request_bytes, secret):
        """Generator: contribution for a SponsorRequest (bytes) with fresh leaf ``secret``;
        returns the transition bytes with the contribution appended."""
        from groupkey.tgdh import member_setup

        return (yield from member_setup.contribute_steps(self, request_bytes, secret))

    def contribute_from_parts(self, request_bytes, secret):
        """Blocking ``contribute_steps``."""
        return run_steps(self.contribute_steps(request_bytes, secret))

    def contribute(self, request_bytes):
        """Contribution with a leaf secret from groupkey.crypto.rng."""
        from groupkey.crypto import rng

        return self.contribute_from_parts(request_bytes, rng.random_bytes(32))

    def restore_pending(self, secret):
        """After a reboot between contributing and the epoch: make ``secret`` (the leaf
        secret of the contribution, kept in durable storage) pending again. Its path keys
        are recomputed when the transition arrives. Returns its BK (a fingerprint source)."""
        from groupkey.tgdh.sponsor import Pending

        self._pending = Pending(None, secret, keys.blinded_key(secret), {}, None)
        return self._pending.blinded_key

    def leaf_secrets(self):
        """The leaf secrets this member may hold in a later epoch's tree, for catching up
        from a Welcome: the committed one, then a contributed one not yet committed."""
        secrets = [self._secret]
        if self._pending is not None:
            secrets.append(self._pending.secret)
        return secrets

    # ------------------------------------------------------------- handling
    def handle(self, data):
        """Process a transition (full member) or a MemberUpdate (light or full); returns the
        new epoch. Raises a TGDHError and leaves the state unchanged on any failure."""
        return run_steps(self.handle_steps(data))

    def handle_steps(self, data):
        """Generator form of ``handle``: yields after every X25519 operation."""
        if not isinstance(data, (bytes, bytearray)) or len(data) < 2:
            raise DecodeError("expected a transition or a member update")
        if data[1] == codec.TYPE_MEMBER_UPDATE:
            from groupkey.tgdh.messages import MemberUpdate

            update = MemberUpdate.decode(data)
            transition_bytes, identities, delta = update.transition, update.identities, \
                update.entries
        elif data[1] == codec.TYPE_TRANSITION:
            transition_bytes, identities, delta = bytes(data), None, {}
        else:
            raise DecodeError("expected a transition or a member update")
        parsed = transition.decode(transition_bytes)
        self.x25519_operations = 0
        check_sequence(self.group_id, self.epoch, self.epoch_hash, self.last_transition_digest,
                       parsed)
        new_public = None
        leaf = events.map_index(parsed.operations, self.leaf)
        if leaf is None:
            raise Removed("this member is removed by the transition")
        if self.public is not None:
            new_public = self.public.apply(transition_bytes)
            if new_public.tree.leaf_of(self.identity) != leaf:
                raise InvalidEvent("position mismatch")
            delta = new_public.view_entries(leaf, with_path=False)
        elif identities is None:
            raise NotReady("a light member needs a member update, not a bare transition")
        else:
            _verify_signatures(parsed, identities)
        published = parsed.published()
        old_copath = {}
        for node in self._copath:
            moved = events.map_index(parsed.operations, node)
            if moved is not None:
                old_copath[moved] = self._copath[node]
        old_path_keys = {}
        path_blinded = {}
        for node in self._path:
            moved = events.map_index(parsed.operations, node)
            if moved is not None:
                old_path_keys[moved] = self._path[node][0]
                path_blinded[moved] = self._path[node][1]
        entries = {}
        for node in tree.copath(leaf):
            entry = delta.get(node)
            old = old_copath.get(node)
            blinded = entry[0] if entry is not None else None
            digest = entry[1] if entry is not None else None
            if node in published:
                if blinded is not None and blinded != published[node]:
                    raise InconsistentBlindedKey("delta and transition disagree on node %d"
                                                 % node)
                blinded = published[node]
            elif blinded is None and old is not None:
                blinded = old[0]
            if digest is None and old is not None and node not in published:
                digest = old[1]
            entries[node] = (blinded, digest) if blinded is not None and digest else None
        for node in tree.path(leaf)[1:]:
            path_blinded[node] = published.get(node) or path_blinded.get(node)
        pending = None
        if leaf in published:
            pending = self._pending
            if pending is None or pending.blinded_key != published[leaf]:
                raise InconsistentBlindedKey("own leaf key was published by someone else")
        yield from self._commit_steps(parsed, leaf, entries, path_blinded, old_path_keys,
                                      pending, published)
        if new_public is not None:
            self.public = new_public
        return self.epoch

    def _commit_steps(self, parsed, leaf, entries, path_blinded, old_path_keys,  # noqa: PLR0917
                      pending, published=None):
        """Verify the new view and keys against ``parsed``, then replace the state."""
        final = parsed.final()
        copath = {}
        hashes = {}
        for node in tree.copath(leaf):
            entry = entries.get(node)
            if entry is None or entry[0] is None or entry[1] is None:
                raise IncompleteView("no co-path entry for node %d" % node)
            copath[node] = entry
            hashes[node] = entry[1]
        for node in tree.path(leaf)[1:]:
            if path_blinded.get(node) is None:
                raise IncompleteView("no blinded key for path node %d" % node)
        leaf_key = pending.blinded_key if pending is not None else self._leaf_key
        secret = pending.secret if pending is not None else self._secret
        tree_hash = climb_hash(self.identity, leaf, leaf_key, path_blinded, hashes)
        if tree_hash != final.tree_hash:
            raise TreeHashMismatch("recomputed tree hash differs from the signed one")
        if published is None:
            published = parsed.published()
        operations = 0
        key = secret
        reuse = pending is not None
        recomputed = reuse
        path = {}
        child = leaf
        for node in tree.path(leaf)[1:]:
            other = copath[child ^ 1][0]
            if recomputed or node in published or node not in old_path_keys:
                cached = pending.path_keys.get(node) if reuse else None
                if cached is not None and cached[1] == other:
                    key = cached[0]
                else:
                    reuse = False
                    key = keys.combine(key, other)
                    operations += 1
                    yield
                    if self.check_blinded_keys and keys.blinded_key(key) != path_blinded[node]:
                        raise InconsistentBlindedKey("published BK of node %d is wrong" % node)
                    if self.check_blinded_keys:
                        operations += 1
                        yield
                recomputed = True
            else:
                key = old_path_keys[node]
            path[node] = (key, path_blinded[node])
            child = node
        epoch_keys = keys.epoch_keys(key, parsed.group_id, parsed.epoch, tree_hash,
                                     parsed.previous_epoch_hash)
        if not ct.bytes_eq(epoch_keys.confirmation(final.confirmation_digest),
                           final.confirmation):
            raise InconsistentBlindedKey("key confirmation failed")
        # Commit: every check passed. The old secret and node keys are dropped here.
        self.x25519_operations += operations
        self.group_id = parsed.group_id
        self.epoch = parsed.epoch
        self.epoch_hash = keys.epoch_hash(parsed.previous_epoch_hash, parsed.data)
        self.last_transition_digest = sha256(parsed.data).digest()
        self.tree_hash = tree_hash
        self.leaf = leaf
        self._secret = secret
        self._leaf_key = leaf_key
        self._path = path
        self._copath = copath
        self._epoch_keys = epoch_keys
        self._pending = None

    def merge_into(self, data, public_state=None):
        """This member's group merged into another: a new Member from the Welcome bytes,
        keeping this member's leaf secret and keys (the old state stays usable)."""
        return Member.from_welcome(data, self.identity, self._secret, self.signing_seed,
                                   public_state)

    # --------------------------------------------------------------- storage
    def export_state(self):
        """Bytes for durable storage (secret: store encrypted/protected). Layout::

            version | type 0x05 | group_id_length u8 | group_id | epoch u64 | epoch_hash
            | tree_hash | last_transition_digest | leaf u32 | identity | leaf secret
            | leaf BK | epoch_secret | path_count u8 | (node u32 | key | BK) ...
            | copath_count u8 | (node u32 | BK | hash) ... | public_length u32 | public state
        """
        from groupkey.tgdh import member_setup

        return member_setup.export_state(self)

    @classmethod
    def import_state(cls, data, signing_seed=None):
        """Rebuild a Member from ``export_state`` bytes (DecodeError if malformed)."""
        reader = codec.Reader(data)
        reader.header(codec.TYPE_MEMBER_STATE)
        member = cls()
        member.group_id = reader.group_id()
        member.epoch = reader.u64()
        member.epoch_hash = reader.key()
        member.tree_hash = reader.key()
        member.last_transition_digest = reader.key()
        member.leaf = reader.u32()
        member.identity = reader.key()
        member._secret = reader.key()
        member._leaf_key = reader.key()
        member._epoch_keys = keys.EpochKeys(reader.key())
        for _ in range(reader.u8()):
            node = reader.u32()
            member._path[node] = (reader.key(), reader.key())
        for _ in range(reader.u8()):
            node = reader.u32()
            member._copath[node] = (reader.key(), reader.key())
        public = reader.take(reader.u32())
        reader.finish()
        if tree.path(member.leaf)[1:] != sorted(member._path, reverse=True) or sorted(
                tree.copath(member.leaf)) != sorted(member._copath):
            raise DecodeError("path or co-path does not fit the leaf")
        if public:
            from groupkey.tgdh.state import PublicGroupState

            member.public = PublicGroupState.decode(public)
        member.signing_seed = signing_seed
        return member


def _verify_signatures(parsed, identities):
    if len(identities) != len(parsed.contributions):
        raise DecodeError("one sponsor identity per contribution is needed")
    for index in range(len(identities)):
        transition.verify_contribution(parsed.contributions[index], identities[index])
