"""The public TGDH tree: shape, blinded keys, member identities and the tree hash.

Nothing secret lives here. Nodes are heap indices (see tree.py). Every node has a blinded key
(BK, 32 bytes, an X25519 public value); a leaf also has its member identity (the member's
Ed25519 public key). While a transition is staged a BK may be None (the node is "unknown": its
key must be recomputed by a sponsor), and staging marks ride along with their nodes:
``MARK_ANCHOR`` (a subtree moved by this transition: its rightmost member sponsors) and
``MARK_NEW`` (a leaf that joins in this transition).

Tree hash (SHA-256, Merkle-style over shape, every BK and every identity)::

    H(leaf)     = SHA256(0x00 || identity || BK)
    H(internal) = SHA256(0x01 || BK || H(left) || H(right))
    tree_hash   = H(root)

Encoding (TYPE_PUBLIC_TREE, see ``encode``): version | type | nodes in pre-order, each
``0x00 || identity[32] || BK[32]`` for a leaf or ``0x01 || BK[32]`` followed by the left then
the right subtree for an internal node.
"""

from groupkey.tgdh import codec, tree
from groupkey.tgdh.errors import DecodeError, InvalidEvent
from groupkey.tgdh.hashing import leaf_hash, node_hash

MARK_ANCHOR = 1
MARK_NEW = 2
_LEAF_TAG = b"\x00"
_NODE_TAG = b"\x01"


class PublicTree:
    """Shape, blinded keys and identities of one group's tree, with cached hashes and heights."""

    def __init__(self):
        self.blinded = {}  # node index -> BK bytes (None while unknown during staging)
        self.identity = {}  # leaf index -> Ed25519 public key
        self.marks = {}  # node index -> MARK_* bits (staging only)
        self._hash = {}
        self._height = {}
        self._shallow = {}  # node index -> distance to its nearest leaf

    @classmethod
    def single(cls, identity, blinded_key):
        """A one-member tree."""
        result = cls()
        result.blinded[tree.ROOT] = codec.fixed(blinded_key, 32, "blinded key")
        result.identity[tree.ROOT] = codec.fixed(identity, 32, "identity")
        return result

    def copy(self):
        """An independent copy (caches included)."""
        other = PublicTree()
        other.blinded = dict(self.blinded)
        other.identity = dict(self.identity)
        other.marks = dict(self.marks)
        other._hash = dict(self._hash)
        other._height = dict(self._height)
        other._shallow = dict(self._shallow)
        return other

    # ----------------------------------------------------------------- queries
    def size(self):
        """Number of members (leaves)."""
        return len(self.identity)

    def is_leaf(self, index):
        """True when ``index`` is a leaf of this tree."""
        return index in self.identity

    def exists(self, index):
        """True when ``index`` is a node of this tree."""
        return index in self.blinded

    def leaves(self):
        """Leaf indices, left to right."""
        return self.leaves_under(tree.ROOT)

    def leaves_under(self, top):
        """Leaf indices of the subtree at ``top``, left to right."""
        result = []
        stack = [top]
        while stack:
            index = stack.pop()
            if index in self.identity:
                result.append(index)
            elif index in self.blinded:
                stack.append(2 * index + 1)
                stack.append(2 * index)
        return result

    def subtree_nodes(self, top):
        """Every node index in the subtree at ``top``."""
        result = []
        stack = [top]
        while stack:
            index = stack.pop()
            if index in self.blinded:
                result.append(index)
                if index not in self.identity:
                    stack.append(2 * index)
                    stack.append(2 * index + 1)
        return result

    def leaf_of(self, identity):
        """Leaf index of the member with this identity, or None."""
        for index in self.identity:
            if self.identity[index] == identity:
                return index
        return None

    def rightmost_leaf(self, top, skip_marks=0):
        """Rightmost leaf under ``top`` whose marks share no bit with ``skip_marks``, or None."""
        stack = [top]
        while stack:
            index = stack.pop()
            if index in self.identity:
                if not self.marks.get(index, 0) & skip_marks:
                    return index
            elif index in self.blinded:
                stack.append(2 * index)
                stack.append(2 * index + 1)
        return None

    def unknown_nodes(self):
        """Nodes whose BK is not known (staging)."""
        return [index for index in self.blinded if self.blinded[index] is None]

    def height(self, index=tree.ROOT):
        """Height of the subtree at ``index`` (a leaf has height 0)."""
        cached = self._height.get(index)
        if cached is not None:
            return cached
        if index in self.identity:
            value = 0
        else:
            value = 1 + max(self.height(2 * index), self.height(2 * index + 1))
        self._height[index] = value
        return value

    def shallowest_leaf(self, index):
        """Distance from ``index`` down to its nearest leaf."""
        cached = self._shallow.get(index)
        if cached is not None:
            return cached
        if index in self.identity:
            value = 0
        else:
            value = 1 + min(self.shallowest_leaf(2 * index), self.shallowest_leaf(2 * index + 1))
        self._shallow[index] = value
        return value

    def hash(self, index=tree.ROOT):
        """H(node) of the subtree at ``index``; InvalidEvent while a BK in it is unknown."""
        cached = self._hash.get(index)
        if cached is not None:
            return cached
        blinded_key = self.blinded.get(index)
        if blinded_key is None:
            raise InvalidEvent("tree hash needs every blinded key")
        if index in self.identity:
            value = leaf_hash(self.identity[index], blinded_key)
        else:
            value = node_hash(blinded_key, self.hash(2 * index), self.hash(2 * index + 1))
        self._hash[index] = value
        return value

    def tree_hash(self):
        """The public tree hash, H(root)."""
        return self.hash(tree.ROOT)

    def insertion_point(self, subtree_height=0):
        """TGDH join rule: the shallowest, then rightmost, node where hanging a subtree of
        ``subtree_height`` beside it does not grow the tree; the root when there is none."""
        limit = self.height() - 1
        frontier = [tree.ROOT]
        while frontier:
            for index in reversed(frontier):
                node_level = tree.level(index)
                if node_level + max(self.height(index), subtree_height) <= limit:
                    return index
            following = []
            for index in frontier:
                if index in self.identity:
                    continue
                for child in (2 * index, 2 * index + 1):
                    child_level = tree.level(child)
                    if child_level > limit - subtree_height:
                        continue
                    if child_level + self.shallowest_leaf(child) > limit:
                        continue
                    following.append(child)
            frontier = following
        return tree.ROOT

    # ----------------------------------------------------------------- changes
    def _invalidate(self, index):
        while index >= tree.ROOT:
            self._hash.pop(index, None)
            self._height.pop(index, None)
            self._shallow.pop(index, None)
            index >>= 1

    def set_blinded_key(self, index, blinded_key):
        """Set (or clear, with None) the BK of an existing node."""
        if index not in self.blinded:
            raise InvalidEvent("no node %d" % index)
        self.blinded[index] = blinded_key
        while index >= tree.ROOT:
            self._hash.pop(index, None)
            index >>= 1

    def clear_path(self, index):
        """Mark ``index`` and all its ancestors unknown (their keys must be recomputed)."""
        while index >= tree.ROOT:
            self.blinded[index] = None
            self._hash.pop(index, None)
            index >>= 1

    def add_mark(self, index, mark):
        """Set staging mark bits on a node."""
        self.marks[index] = self.marks.get(index, 0) | mark

    def clear_marks(self):
        """Forget every staging mark."""
        self.marks = {}

    def _take(self, top):
        moved = []
        for index in self.subtree_nodes(top):
            moved.append((index, self.blinded.pop(index), self.identity.pop(index, None),
                          self.marks.pop(index, None), self._hash.pop(index, None),
                          self._height.pop(index, None), self._shallow.pop(index, None)))
        return moved

    def _put(self, moved, old_top, new_top):
        for index, blinded_key, identity, mark, digest, height, shallow in moved:
            target = tree.move(index, old_top, new_top)
            if tree.level(target) > tree.MAX_LEVEL:
                raise InvalidEvent("tree deeper than %d levels" % tree.MAX_LEVEL)
            self.blinded[target] = blinded_key
            if identity is not None:
                self.identity[target] = identity
            if mark is not None:
                self.marks[target] = mark
            for cache, value in ((self._hash, digest), (self._height, height),
                                 (self._shallow, shallow)):
                if value is None:
                    cache.pop(target, None)
                else:
                    cache[target] = value

    def insert(self, index, subtree):
        """Hang ``subtree`` (a PublicTree) beside the subtree at ``index``: the old subtree
        moves to the left child, ``subtree`` becomes the right child, ``index`` becomes a new
        internal node with unknown BK (and so do its ancestors)."""
        if index not in self.blinded:
            raise InvalidEvent("insertion point %d is not a node" % index)
        self._put(self._take(index), index, 2 * index)
        self._put(subtree.copy()._take(tree.ROOT), tree.ROOT, 2 * index + 1)
        self.blinded[index] = None
        self._invalidate(index)
        self.clear_path(index)

    def remove_leaf(self, leaf):
        """Remove a member: its sibling subtree moves up into the parent's place; the new
        position's ancestors become unknown. Returns the sibling subtree's new index."""
        if leaf not in self.identity:
            raise InvalidEvent("leaf %d is not a member" % leaf)
        if leaf == tree.ROOT:
            raise InvalidEvent("the last member cannot leave")
        up = leaf >> 1
        del self.blinded[leaf]
        del self.identity[leaf]
        self.marks.pop(leaf, None)
        del self.blinded[up]
        self.marks.pop(up, None)
        for cache in (self._hash, self._height, self._shallow):
            cache.pop(leaf, None)
            cache.pop(up, None)
        self._put(self._take(leaf ^ 1), leaf ^ 1, up)
        if up > tree.ROOT:
            self._invalidate(up >> 1)
            self.clear_path(up >> 1)
        return up

    # ---------------------------------------------------------------- encoding
    def encode_nodes(self):
        """Pre-order node stream (the body of ``encode``)."""
        parts = []
        stack = [tree.ROOT]
        while stack:
            index = stack.pop()
            blinded_key = self.blinded[index]
            if blinded_key is None:
                raise InvalidEvent("cannot encode a tree with unknown blinded keys")
            if index in self.identity:
                parts.append(_LEAF_TAG + self.identity[index] + blinded_key)
            else:
                parts.append(_NODE_TAG + blinded_key)
                stack.append(2 * index + 1)
                stack.append(2 * index)
        return b"".join(parts)

    def encode(self):
        """version | TYPE_PUBLIC_TREE | pre-order nodes."""
        return codec.header(codec.TYPE_PUBLIC_TREE) + self.encode_nodes()

    @classmethod
    def decode_nodes(cls, reader):
        """Read a pre-order node stream from ``reader``."""
        result = cls()
        stack = [tree.ROOT]
        seen = set()
        while stack:
            index = stack.pop()
            if tree.level(index) > tree.MAX_LEVEL:
                raise DecodeError("tree deeper than %d levels" % tree.MAX_LEVEL)
            tag = reader.u8()
            if tag == 0:
                identity = reader.key()
                if identity in seen:
                    raise DecodeError("duplicate member identity in tree")
                seen.add(identity)
                result.identity[index] = identity
                result.blinded[index] = reader.key()
            elif tag == 1:
                result.blinded[index] = reader.key()
                stack.append(2 * index + 1)
                stack.append(2 * index)
            else:
                raise DecodeError("bad node tag %d" % tag)
        return result

    @classmethod
    def decode(cls, data):
        """Parse ``encode`` output; DecodeError on any malformation or trailing bytes."""
        reader = codec.Reader(data)
        reader.header(codec.TYPE_PUBLIC_TREE)
        result = cls.decode_nodes(reader)
        reader.finish()
        return result
