"""Membership operations, staging them on a public tree, and the deterministic sponsor rule.

An event is an ordered list of operations; each one's indices refer to the tree as left by the
previous ones. Batched joins and leaves, partitions (many leaves) and merges are lists too.

Operation wire encoding (inside a transition)::

    JOIN     0x01 | identity[32] | blinded_key[32] | insertion_node u32
    LEAVE    0x02 | leaf u32
    REFRESH  0x03 | leaf u32
    MERGE    0x04 | insertion_node u32 | length u32 | pre-order node stream of the other tree

Staging (``stage``): joins and merges hang the new subtree beside the node the TGDH rule names
(PublicTree.insertion_point: shallowest, then rightmost, node that does not grow the height,
else the root); a leave moves the sibling subtree up; a refresh clears the member's leaf. Every
node whose key must change gets an unknown (None) blinded key.

Sponsor rule (``next_sponsor``), applied after the structural changes and again after each
contribution, so the ledger, the gateway and every full member name the same sponsors:

1. no unknown node left: the transition is complete;
2. v = the deepest unknown node, rightmost among equals (largest heap index at that level);
3. if v is a leaf (a refresh) the sponsor is v itself;
4. otherwise, if exactly one child of v is an anchor (a subtree moved by this transition: the
   old subtree at a join point, the sibling that moved up after a leave), the sponsor is that
   child's rightmost member that is not joining now; else v's rightmost such member; if v's
   subtree holds only joining members, its rightmost joining member.

The sponsor refreshes its leaf and publishes the BKs of its path up to the highest node it
can compute (``span``: it stops below a node whose other child is still unknown).
"""

from groupkey.tgdh import codec, tree
from groupkey.tgdh.errors import DecodeError, InvalidEvent

MARK_ANCHOR = 1  # same values as public_tree.MARK_* (not imported: light members skip it)
MARK_NEW = 2
JOIN = 1
LEAVE = 2
REFRESH = 3
MERGE = 4
MAX_OPERATIONS = 255


class Operation:
    """One membership operation. ``node`` is the leaf (leave, refresh) or insertion point
    (join, merge; None asks ``stage`` to fill in the rule's choice)."""

    def __init__(self, kind, node=None, identity=None, blinded_key=None, subtree=None):
        self.kind = kind
        self.node = node
        self.identity = identity
        self.blinded_key = blinded_key
        self.subtree = subtree

    def encode(self):
        """Wire bytes of this operation."""
        if self.kind == JOIN:
            return (codec.u8(JOIN) + codec.fixed(self.identity, 32, "identity")
                    + codec.fixed(self.blinded_key, 32, "blinded key") + codec.u32(self.node))
        if self.kind in (LEAVE, REFRESH):
            return codec.u8(self.kind) + codec.u32(self.node)
        if self.kind == MERGE:
            body = self.subtree.encode_nodes()
            return codec.u8(MERGE) + codec.u32(self.node) + codec.u32(len(body)) + body
        raise InvalidEvent("unknown operation kind %r" % (self.kind,))

    @classmethod
    def decode(cls, reader):
        """Read one operation from a codec.Reader."""
        kind = reader.u8()
        if kind == JOIN:
            identity = reader.key()
            blinded_key = reader.key()
            return cls(JOIN, reader.u32(), identity, blinded_key)
        if kind in (LEAVE, REFRESH):
            return cls(kind, reader.u32())
        if kind == MERGE:
            from groupkey.tgdh.public_tree import PublicTree

            node = reader.u32()
            body = codec.Reader(reader.take(reader.u32()))
            subtree = PublicTree.decode_nodes(body)
            body.finish()
            return cls(MERGE, node, subtree=subtree)
        raise DecodeError("unknown operation kind %d" % kind)


def join(identity, blinded_key, node=None):
    """A member with ``identity`` joins with leaf blinded key ``blinded_key``."""
    return Operation(JOIN, node, codec.fixed(identity, 32, "identity"),
                     codec.fixed(blinded_key, 32, "blinded key"))


def leave(leaf):
    """The member at ``leaf`` leaves (or is removed)."""
    return Operation(LEAVE, leaf)


def refresh(leaf):
    """The member at ``leaf`` rotates its leaf secret (post-compromise security)."""
    return Operation(REFRESH, leaf)


def merge(subtree, node=None):
    """Another group's public tree ``subtree`` merges into this one."""
    return Operation(MERGE, node, subtree=subtree)


def _check_member(staged, leaf):
    if not isinstance(leaf, int) or not staged.is_leaf(leaf):
        raise InvalidEvent("leaf %r is not a member" % (leaf,))
    if staged.marks.get(leaf, 0) & MARK_NEW:
        raise InvalidEvent("leaf %d joins in this transition" % leaf)


def _check_point(operation, expected, fill):
    if operation.node is None and fill:
        operation.node = expected
    elif operation.node != expected:
        raise InvalidEvent("insertion point %r is not the rule's %d" % (operation.node, expected))


def stage(public_tree, operations, fill=False):
    """Apply the structure of ``operations`` to a copy of ``public_tree``.

    Returns the staged copy (unknown BKs for nodes to recompute, staging marks set). Raises
    InvalidEvent when an operation cannot apply or names another insertion point than the
    rule; with ``fill`` a missing (None) insertion point is filled in with the rule's choice.
    """
    from groupkey.tgdh.public_tree import PublicTree

    if not operations or len(operations) > MAX_OPERATIONS:
        raise InvalidEvent("an event holds 1..255 operations")
    staged = public_tree.copy()
    staged.clear_marks()
    for operation in operations:
        if operation.kind == JOIN:
            if staged.leaf_of(operation.identity) is not None:
                raise InvalidEvent("identity is already a member")
            _check_point(operation, staged.insertion_point(0), fill)
            staged.insert(operation.node,
                          PublicTree.single(operation.identity, operation.blinded_key))
            staged.add_mark(2 * operation.node, MARK_ANCHOR)
            staged.add_mark(2 * operation.node + 1, MARK_NEW)
        elif operation.kind == LEAVE:
            _check_member(staged, operation.node)
            if staged.size() < 2:
                raise InvalidEvent("the last member cannot leave")
            moved = staged.remove_leaf(operation.node)
            staged.add_mark(moved, MARK_ANCHOR)
            if moved == tree.ROOT:
                # Nothing above the moved subtree: its sponsor still refreshes.
                staged.clear_path(staged.rightmost_leaf(tree.ROOT, MARK_NEW)
                                  or staged.rightmost_leaf(tree.ROOT))
        elif operation.kind == REFRESH:
            _check_member(staged, operation.node)
            staged.clear_path(operation.node)
        elif operation.kind == MERGE:
            subtree = operation.subtree
            for leaf in subtree.identity:
                if staged.leaf_of(subtree.identity[leaf]) is not None:
                    raise InvalidEvent("merged tree shares a member with this tree")
            _check_point(operation, staged.insertion_point(subtree.height()), fill)
            staged.insert(operation.node, subtree)
            staged.add_mark(2 * operation.node, MARK_ANCHOR)
            for leaf in staged.leaves_under(2 * operation.node + 1):
                staged.add_mark(leaf, MARK_NEW)
        else:
            raise InvalidEvent("unknown operation kind")
    return staged


def next_sponsor(staged):
    """Leaf index of the member that must contribute next, or None when nothing is unknown."""
    unknown = staged.unknown_nodes()
    if not unknown:
        return None
    deepest = unknown[0]
    for index in unknown:
        if tree.level(index) > tree.level(deepest) or (
                tree.level(index) == tree.level(deepest) and index > deepest):
            deepest = index
    if staged.is_leaf(deepest):
        return deepest
    left_anchor = staged.marks.get(2 * deepest, 0) & MARK_ANCHOR
    right_anchor = staged.marks.get(2 * deepest + 1, 0) & MARK_ANCHOR
    top = deepest
    if left_anchor and not right_anchor:
        top = 2 * deepest
    elif right_anchor and not left_anchor:
        top = 2 * deepest + 1
    found = staged.rightmost_leaf(top, MARK_NEW)
    if found is None:
        found = staged.rightmost_leaf(deepest, MARK_NEW)
    if found is None:
        found = staged.rightmost_leaf(deepest)
    return found


def span(staged, sponsor):
    """How many BKs the sponsor publishes: its leaf, then each ancestor while the other child's
    BK is known (the root included when reached)."""
    count = 1
    index = sponsor
    while index > tree.ROOT and staged.blinded.get(index ^ 1) is not None:
        index >>= 1
        count += 1
    return count


def apply_contribution(staged, sponsor, blinded_keys):
    """Set the published BKs on the sponsor's path (leaf first)."""
    index = sponsor
    for blinded_key in blinded_keys:
        staged.set_blinded_key(index, blinded_key)
        index >>= 1


def map_index(operations, index):
    """Where a node of the pre-event tree lands after the event's structural changes (None if
    it disappears). Uses only the operations, not the tree: light members rely on it."""
    for operation in operations:
        if index is None:
            return None
        if operation.kind in (JOIN, MERGE):
            index = tree.index_after_insert(operation.node, index)
        elif operation.kind == LEAVE:
            index = tree.index_after_remove(operation.node, index)
    return index
