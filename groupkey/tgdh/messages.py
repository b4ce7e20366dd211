"""Wire structures around a transition: node lists, member updates, welcomes, sponsor requests.

Node list (co-path proof or delta; also embedded, without its 2-byte header, below)::

    version 0x01 | type 0x03 | count u8 | count x entry
    entry := node u32 | flags u8 (bit 0: BK present, bit 1: hash present)
             | [blinded_key[32]] | [subtree_hash[32]]

Member update: what the gateway sends one member for one transition. A light member gets the
co-path entries that changed (delta), a full member may get none::

    version 0x01 | type 0x06 | transition_length u16 | transition
    | sponsor_count u8 | sponsor_count x identity[32] (one per contribution, in order)
    | node list body (count u8 | entries)

Welcome: what a joining (or merged-in) member needs: its leaf, the transition, the identities
of its sponsors and its whole view of the new tree (co-path BK + hash, path BKs)::

    version 0x01 | type 0x02 | leaf u32 | transition_length u32 | transition
    | sponsor_count u8 | identities | node list body

Sponsor request: the gateway asks the named sponsor to contribute; ``view`` holds the staged
co-path BKs (absent while unknown) and, when this contribution is final, the subtree hashes::

    version 0x01 | type 0x08 | leaf u32 | flags u8 (bit 0: final) | prefix_length u32
    | prefix (the transition so far) | node list body
"""

from groupkey.tgdh import codec
from groupkey.tgdh.errors import DecodeError

TYPE_SPONSOR_REQUEST = 0x08
HAS_KEY = 1
HAS_HASH = 2
MAX_ENTRIES = 255


def encode_nodes(entries):
    """Node list body from {node: (blinded_key or None, hash or None)} (ascending node order)."""
    if len(entries) > MAX_ENTRIES:
        raise DecodeError("too many node entries")
    parts = [codec.u8(len(entries))]
    for node in sorted(entries):
        blinded_key, digest = entries[node]
        flags = (HAS_KEY if blinded_key is not None else 0) | (HAS_HASH if digest else 0)
        parts.append(codec.u32(node) + codec.u8(flags))
        if blinded_key is not None:
            parts.append(codec.fixed(blinded_key, 32, "blinded key"))
        if digest is not None:
            parts.append(codec.fixed(digest, 32, "hash"))
    return b"".join(parts)


def decode_nodes(reader):
    """Read a node list body; DecodeError on bad flags or repeated nodes."""
    entries = {}
    for _ in range(reader.u8()):
        node = reader.u32()
        flags = reader.u8()
        if flags & ~(HAS_KEY | HAS_HASH) or node == 0 or node in entries:
            raise DecodeError("bad node list entry")
        blinded_key = reader.key() if flags & HAS_KEY else None
        digest = reader.key() if flags & HAS_HASH else None
        entries[node] = (blinded_key, digest)
    return entries


def encode_node_list(entries):
    """A standalone node list (co-path proof)."""
    return codec.header(codec.TYPE_NODE_LIST) + encode_nodes(entries)


def decode_node_list(data):
    """Parse ``encode_node_list`` output."""
    reader = codec.Reader(data)
    reader.header(codec.TYPE_NODE_LIST)
    entries = decode_nodes(reader)
    reader.finish()
    return entries


def _identities(identities):
    if len(identities) > 255:
        raise DecodeError("too many sponsor identities")
    return codec.u8(len(identities)) + b"".join(codec.fixed(i, 32, "identity")
                                                for i in identities)


def _read_identities(reader):
    return [reader.key() for _ in range(reader.u8())]


class MemberUpdate:
    """Decoded member update: ``transition`` bytes, ``identities``, ``entries``."""

    def __init__(self, transition, identities, entries):
        self.transition = transition
        self.identities = identities
        self.entries = entries

    def encode(self):
        """Wire bytes."""
        return (codec.header(codec.TYPE_MEMBER_UPDATE) + codec.u16(len(self.transition))
                + self.transition + _identities(self.identities) + encode_nodes(self.entries))

    @classmethod
    def decode(cls, data):
        """Parse; DecodeError on malformation."""
        reader = codec.Reader(data)
        reader.header(codec.TYPE_MEMBER_UPDATE)
        transition = reader.take(reader.u16())
        identities = _read_identities(reader)
        entries = decode_nodes(reader)
        reader.finish()
        return cls(transition, identities, entries)


class Welcome:
    """Decoded welcome: ``leaf``, ``transition`` bytes, ``identities``, ``entries``."""

    def __init__(self, leaf, transition, identities, entries):
        self.leaf = leaf
        self.transition = transition
        self.identities = identities
        self.entries = entries

    def encode(self):
        """Wire bytes."""
        return (codec.header(codec.TYPE_WELCOME) + codec.u32(self.leaf)
                + codec.u32(len(self.transition)) + self.transition
                + _identities(self.identities) + encode_nodes(self.entries))

    @classmethod
    def decode(cls, data):
        """Parse; DecodeError on malformation."""
        reader = codec.Reader(data)
        reader.header(codec.TYPE_WELCOME)
        leaf = reader.u32()
        transition = reader.take(reader.u32())
        identities = _read_identities(reader)
        entries = decode_nodes(reader)
        reader.finish()
        return cls(leaf, transition, identities, entries)


class SponsorRequest:
    """Decoded sponsor request: ``leaf``, ``final``, ``prefix`` bytes, ``entries``."""

    def __init__(self, leaf, final, prefix, entries):
        self.leaf = leaf
        self.final = final
        self.prefix = prefix
        self.entries = entries

    def encode(self):
        """Wire bytes."""
        return (codec.header(TYPE_SPONSOR_REQUEST) + codec.u32(self.leaf)
                + codec.u8(1 if self.final else 0) + codec.u32(len(self.prefix)) + self.prefix
                + encode_nodes(self.entries))

    @classmethod
    def decode(cls, data):
        """Parse; DecodeError on malformation."""
        reader = codec.Reader(data)
        reader.header(TYPE_SPONSOR_REQUEST)
        leaf = reader.u32()
        flags = reader.u8()
        if flags & ~1:
            raise DecodeError("unknown sponsor request flags")
        prefix = reader.take(reader.u32())
        entries = decode_nodes(reader)
        reader.finish()
        return cls(leaf, bool(flags), prefix, entries)
