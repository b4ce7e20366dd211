"""Pure tree arithmetic on heap indices: no keys, no storage, only integers.

A TGDH node <level, position> is numbered as in a binary heap: the root is 1, the children of
node i are 2i (left) and 2i+1 (right), so level(i) = bit_length(i) - 1 and position =
i - 2**level. Trees are not complete: a node exists only if the public tree holds it, and every
internal node has exactly two children. Indices stay below 2**31 (MAX_LEVEL = 30) so they fit
a u32 on the wire.

Structural changes move whole subtrees; the index maps below say where a node lands:
``index_after_remove(leaf, i)`` (the leaf's sibling subtree moves up into the parent's place)
and ``index_after_insert(node, i)`` (the subtree at ``node`` moves down to its left child,
the new subtree takes the right child).
"""

from groupkey.tgdh.errors import InvalidEvent

ROOT = 1
MAX_LEVEL = 30
MAX_INDEX = (1 << (MAX_LEVEL + 1)) - 1


def check_index(index):
    """Raise InvalidEvent unless ``index`` is a node index 1..MAX_INDEX."""
    if not isinstance(index, int) or index < 1 or index > MAX_INDEX:
        raise InvalidEvent("node index out of range")
    return index


def level(index):
    """Depth of the node: 0 for the root (no int.bit_length: MicroPython lacks it)."""
    result = 0
    while index >= 256:
        index >>= 8
        result += 8
    while index > 1:
        index >>= 1
        result += 1
    return result


def position(index):
    """Position of the node within its level, 0 = leftmost."""
    return index - (1 << level(index))


def node_at(node_level, node_position):
    """Heap index of <level, position>."""
    return (1 << node_level) + node_position


def parent(index):
    """Parent of a non-root node."""
    if index <= ROOT:
        raise InvalidEvent("the root has no parent")
    return index >> 1


def sibling(index):
    """The other child of the parent."""
    if index <= ROOT:
        raise InvalidEvent("the root has no sibling")
    return index ^ 1


def left(index):
    """Left child index."""
    return index << 1


def right(index):
    """Right child index."""
    return (index << 1) | 1


def is_in_subtree(index, top):
    """True when ``index`` is ``top`` or a descendant of it."""
    shift = level(index) - level(top)
    return shift >= 0 and (index >> shift) == top


def path(index):
    """Nodes from ``index`` up to the root, both included."""
    nodes = [index]
    while index > ROOT:
        index >>= 1
        nodes.append(index)
    return nodes


def copath(index):
    """Siblings of the nodes on the path from ``index`` to the root (root excluded), bottom-up."""
    nodes = []
    while index > ROOT:
        nodes.append(index ^ 1)
        index >>= 1
    return nodes


def common_ancestor(first, second):
    """Lowest common ancestor of two nodes."""
    while level(first) > level(second):
        first >>= 1
    while level(second) > level(first):
        second >>= 1
    while first != second:
        first >>= 1
        second >>= 1
    return first


def move(index, old_top, new_top):
    """Index of ``index`` (inside the subtree at ``old_top``) once that subtree sits at
    ``new_top``: old_top*2**k + j becomes new_top*2**k + j."""
    shift = level(index) - level(old_top)
    return (new_top << shift) | (index - (old_top << shift))


def index_after_remove(leaf, index):
    """Where ``index`` lands when ``leaf`` leaves: its sibling subtree moves up into the
    parent's place. None when the node disappears (the leaf itself or its parent)."""
    if leaf == ROOT:
        raise InvalidEvent("the last member cannot leave")
    up = leaf >> 1
    if index in (leaf, up):
        return None
    other = leaf ^ 1
    if is_in_subtree(index, other):
        return move(index, other, up)
    return index


def index_after_insert(node, index):
    """Where ``index`` lands when a subtree is inserted at ``node``: the old subtree at ``node``
    moves down to the left child; other nodes keep their index."""
    if is_in_subtree(index, node):
        return move(index, node, node << 1)
    return index
