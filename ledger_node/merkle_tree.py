"""The node's append-only RFC 9162 Merkle tree over all its entries, with proof generation.

The tree keeps every complete, aligned subtree hash: ``levels[k][i]`` is the root of leaves
``[i * 2**k, (i + 1) * 2**k)``. Appending a leaf adds at most log2(n) hashes, and the root of
any earlier size and every proof need only O(log n) lookups and hashes, because RFC 9162's
recursive split (the largest power of two below the size) always yields aligned complete
subtrees on the left. Memory: about two hashes per leaf.
"""

from __future__ import annotations

from groupkey.ledger.merkle import empty_root, leaf_hash, node_hash


def _split(size: int) -> int:
    """Largest power of two strictly smaller than ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class MerkleTree:
    """In-memory tree over leaf hashes; the storage layer reloads it from disk at start."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append_entry(self, entry: bytes) -> int:
        """Append an entry's bytes; return its leaf index."""
        return self.append_leaf_hash(leaf_hash(entry))

    def append_leaf_hash(self, value: bytes) -> int:
        """Append a precomputed leaf hash; return its leaf index."""
        index = len(self.levels[0])
        self.levels[0].append(value)
        level = 0
        position = index
        while position & 1:
            left = self.levels[level][position - 1]
            right = self.levels[level][position]
            level += 1
            if len(self.levels) == level:
                self.levels.append([])
            self.levels[level].append(node_hash(left, right))
            position >>= 1
        return index

    def leaf(self, index: int) -> bytes:
        return self.levels[0][index]

    def subtree_root(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end) where start is aligned as RFC 9162's recursion yields."""
        count = end - start
        if count == 0:
            return empty_root()
        if count & (count - 1) == 0 and start % count == 0:
            level = count.bit_length() - 1
            return self.levels[level][start >> level]
        split = _split(count)
        return node_hash(self.subtree_root(start, start + split),
                         self.subtree_root(start + split, end))

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the first ``size`` leaves (default: all)."""
        if size is None:
            size = self.size
        self._check_size(size)
        return self.subtree_root(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 section 2.1.3.1 PATH(index, D[0:size])."""
        self._check_size(size)
        if index < 0 or index >= size:
            raise ValueError("leaf index outside the tree")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            split = _split(end - start)
            if index < start + split:
                path.append(self.subtree_root(start + split, end))
                end = start + split
            else:
                path.append(self.subtree_root(start, start + split))
                start = start + split
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 section 2.1.4.1 PROOF(old_size, D[0:new_size])."""
        self._check_size(new_size)
        if old_size < 0 or old_size > new_size:
            raise ValueError("old size larger than new size")
        if old_size in (0, new_size):
            return []
        path: list[bytes] = []
        self._subproof(old_size, 0, new_size, True, path)
        return path

    def _subproof(self, old_size: int, start: int, end: int, complete: bool,
                  path: list[bytes]) -> None:
        count = end - start
        if old_size == count:
            if not complete:
                path.append(self.subtree_root(start, end))
            return
        split = _split(count)
        if old_size <= split:
            self._subproof(old_size, start, start + split, complete, path)
            path.append(self.subtree_root(start + split, end))
        else:
            self._subproof(old_size - split, start + split, end, False, path)
            path.append(self.subtree_root(start, start + split))

    def _check_size(self, size: int) -> None:
        if size < 0 or size > self.size:
            raise ValueError("tree size %d outside 0..%d" % (size, self.size))
