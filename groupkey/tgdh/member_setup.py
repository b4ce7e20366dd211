"""Member operations a light device seldom runs (founding, joining from a welcome, recovery,
sponsoring, storage export), kept apart from member.py so the everyday path (import_state,
handle) loads less bytecode into a small heap. Each function is the body of the Member method
of the same name (``cls`` / ``self`` is the Member class or instance).
"""


from groupkey.tgdh import codec, events, keys, transition, tree
from groupkey.tgdh import member as member_module
from groupkey.tgdh.errors import (
    InconsistentBlindedKey,
    InvalidEvent,
    NotSponsor,
)
from groupkey.tgdh.transition import check_sequence


def found_from_parts(cls, group_id, identity, signing_seed, secret, full=True):
    """Founder of a new group (epoch 0, alone in the tree) with a given leaf secret."""
    member = cls()
    member.group_id = bytes(group_id)
    member.identity = codec.fixed(identity, 32, "identity")
    member.signing_seed = signing_seed
    member._secret = codec.fixed(secret, 32, "leaf secret")
    member._leaf_key = keys.blinded_key(secret)
    from groupkey.tgdh.state import PublicGroupState

    state = PublicGroupState.genesis(group_id, identity, member._leaf_key)
    member.tree_hash = state.tree_hash()
    member.epoch_hash = state.epoch_hash
    member._epoch_keys = keys.epoch_keys(secret, member.group_id, 0, member.tree_hash,
                                         b"\x00" * 32)
    if full:
        member.public = state
    return member


def from_welcome_steps(cls, data, identity, secret, signing_seed=None, public_state=None):
    """Generator: a member joining (or merged in) from Welcome bytes and its leaf secret, or
    a member that missed epochs resynchronizing from the latest Welcome (one proof).
    ``public_state`` (PublicGroupState bytes of the new epoch) makes it a full member."""
    from groupkey.tgdh.messages import Welcome

    welcome = Welcome.decode(data)
    parsed = transition.decode(welcome.transition)
    member_module._verify_signatures(parsed, welcome.identities)
    member = cls()
    member.group_id = parsed.group_id
    member.identity = codec.fixed(identity, 32, "identity")
    member.signing_seed = signing_seed
    member._secret = codec.fixed(secret, 32, "leaf secret")
    member.leaf = welcome.leaf
    leaf_key = keys.blinded_key(secret)
    member.x25519_operations = 1
    yield
    expected = parsed.published().get(welcome.leaf) or _joined_key(parsed, identity)
    if expected is None:
        # A returning member catching up (docs/e2e.md section 5): this transition did not
        # touch its leaf. _commit_steps recomputes the signed tree hash from (identity, this
        # BK, the co-path) and checks the key confirmation, so a wrong secret or a leaf that
        # is not this member's fails there, and nothing is committed.
        expected = leaf_key
    if expected != leaf_key:
        raise InconsistentBlindedKey("welcome does not hold this member's leaf key")
    member._leaf_key = leaf_key
    entries = {}
    for node in tree.copath(welcome.leaf):
        entries[node] = welcome.entries.get(node)
    path_keys = {}
    for node in tree.path(welcome.leaf)[1:]:
        entry = welcome.entries.get(node)
        path_keys[node] = entry[0] if entry else None
    yield from member._commit_steps(parsed, welcome.leaf, entries, path_keys, {}, None)
    if public_state is not None:
        from groupkey.tgdh.state import PublicGroupState

        state = PublicGroupState.decode(public_state)
        if state.epoch != member.epoch or state.tree_hash() != member.tree_hash:
            raise InvalidEvent("public state does not match the welcome")
        member.public = state
    return member


def from_public_state_steps(cls, state, identity, secret, signing_seed=None,
                            previous_epoch_hash=None, full=False):
    """Generator: recover a member from a TRUSTED public state and its leaf secret (it
    lost its path state, or a simulation builds it). ``previous_epoch_hash`` is the hash
    of the epoch before ``state.epoch`` (zeros for epoch 0)."""
    leaf = state.leaf_of(identity)
    if leaf is None:
        raise InvalidEvent("identity is not a member of this state")
    member = cls()
    member.group_id = state.group_id
    member.identity = codec.fixed(identity, 32, "identity")
    member.signing_seed = signing_seed
    member._secret = codec.fixed(secret, 32, "leaf secret")
    member._leaf_key = keys.blinded_key(secret)
    operations = 1
    yield
    if member._leaf_key != state.tree.blinded[leaf]:
        raise InconsistentBlindedKey("leaf secret does not match the public tree")
    key = secret
    child = leaf
    for node in tree.path(leaf)[1:]:
        key = keys.combine(key, state.tree.blinded[child ^ 1])
        operations += 1
        yield
        member._path[node] = (key, state.tree.blinded[node])
        member._copath[child ^ 1] = (state.tree.blinded[child ^ 1],
                                     state.tree.hash(child ^ 1))
        child = node
    member.leaf = leaf
    member.epoch = state.epoch
    member.epoch_hash = state.epoch_hash
    member.tree_hash = state.tree_hash()
    member.last_transition_digest = state.last_transition_digest
    member._epoch_keys = keys.epoch_keys(key, member.group_id, state.epoch,
                                         member.tree_hash,
                                         previous_epoch_hash or b"\x00" * 32)
    member.x25519_operations = operations
    if full:
        member.public = state
    return member


def contribute_steps(self, request_bytes, secret):
    """Generator: contribution for a SponsorRequest (bytes) with fresh leaf ``secret``;
    returns the transition bytes with the contribution appended."""
    from groupkey.tgdh import sponsor
    from groupkey.tgdh.messages import SponsorRequest

    request = SponsorRequest.decode(request_bytes)
    parsed = transition.decode(request.prefix, allow_incomplete=True)
    check_sequence(self.group_id, self.epoch, self.epoch_hash,
                   self.last_transition_digest, parsed)
    mine = events.map_index(parsed.operations, self.leaf)
    if mine != request.leaf:
        raise NotSponsor("the request names leaf %d, this member is at %r"
                         % (request.leaf, mine))
    counter = [0]
    data, pending = yield from sponsor.contribute_steps(request, self.identity,
                                                        self.signing_seed, secret, counter)
    self.x25519_operations = counter[0]
    self._pending = pending
    return data


def export_state(self):
    """Bytes for durable storage (secret: store encrypted/protected). Layout::

        version | type 0x05 | group_id_length u8 | group_id | epoch u64 | epoch_hash
        | tree_hash | last_transition_digest | leaf u32 | identity | leaf secret
        | leaf BK | epoch_secret | path_count u8 | (node u32 | key | BK) ...
        | copath_count u8 | (node u32 | BK | hash) ... | public_length u32 | public state
    """
    parts = [codec.header(codec.TYPE_MEMBER_STATE), codec.group_id_field(self.group_id),
             codec.u64(self.epoch), self.epoch_hash, self.tree_hash,
             self.last_transition_digest, codec.u32(self.leaf), self.identity, self._secret,
             self._leaf_key, self._epoch_keys.epoch_secret, codec.u8(len(self._path))]
    for node in sorted(self._path):
        parts.append(codec.u32(node) + self._path[node][0] + self._path[node][1])
    parts.append(codec.u8(len(self._copath)))
    for node in sorted(self._copath):
        parts.append(codec.u32(node) + self._copath[node][0] + self._copath[node][1])
    public = self.public.encode() if self.public is not None else b""
    parts.append(codec.u32(len(public)) + public)
    return b"".join(parts)


def _joined_key(parsed, identity):
    """BK with which ``identity`` entered in this transition (join or merged tree)."""
    for operation in parsed.operations:
        if operation.kind == events.JOIN and operation.identity == identity:
            return operation.blinded_key
        if operation.kind == events.MERGE:
            found = operation.subtree.leaf_of(identity)
            if found is not None:
                return operation.subtree.blinded[found]
    return None
