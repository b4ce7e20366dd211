"""The transition: one epoch change = the event + the ordered, signed sponsor contributions.

Byte layout (integers big-endian)::

    version 0x01 | type 0x01 | group_id_length u8 | group_id | epoch u64 (the NEW epoch)
    | previous_epoch_hash[32] | operation_count u8 | operations (events.py)
    | contribution ... contribution

    contribution := flags u8 (bit 0: final) | sponsor_leaf u32 | count u8 (1..31)
                    | count x blinded_key[32]        (sponsor's leaf first, then ancestors)
                    | final only: tree_hash[32] | confirmation[32]
                    | signature[64]

Each signature is Ed25519 by the sponsor's identity key over
``"groupkey tgdh v1 contribution" || SHA256(every transition byte before the signature)``, so
a sponsor signs the event and every earlier contribution. The confirmation is
HMAC(confirm_key, SHA256(every byte before the confirmation field)) (keys.py). Exactly the last
contribution is final. Indices in contributions refer to the staged tree (after the whole
event's structural changes).
"""

from hashlib import sha256

from groupkey.crypto.errors import CryptoError
from groupkey.tgdh import codec, events, tree
from groupkey.tgdh.errors import (
    BadSignature,
    DecodeError,
    Duplicate,
    WrongEpoch,
    WrongGroup,
)

SIGNATURE_LABEL = b"groupkey tgdh v1 contribution"
FLAG_FINAL = 1
MAX_CONTRIBUTIONS = 512


class Contribution:
    """One sponsor's published path, as decoded (``signed_digest`` is what was signed)."""

    def __init__(self, sponsor, blinded_keys, final=False, tree_hash=None,  # noqa: PLR0917
                 confirmation=None,
                 signature=None):
        self.sponsor = sponsor
        self.blinded_keys = blinded_keys
        self.final = final
        self.tree_hash = tree_hash
        self.confirmation = confirmation
        self.signature = signature
        self.signed_digest = None
        self.confirmation_digest = None

    def nodes(self):
        """(node, blinded_key) pairs, leaf first."""
        index = self.sponsor
        pairs = []
        for blinded_key in self.blinded_keys:
            pairs.append((index, blinded_key))
            index >>= 1
        return pairs


class Transition:
    """A decoded transition. ``data`` keeps the exact bytes (hashed into the epoch hash)."""

    def __init__(self, group_id, epoch, previous_epoch_hash, operations,  # noqa: PLR0917
                 contributions,
                 data=None):
        self.group_id = group_id
        self.epoch = epoch
        self.previous_epoch_hash = previous_epoch_hash
        self.operations = operations
        self.contributions = contributions
        self.data = data

    def final(self):
        """The final contribution (tree hash, confirmation) or None if incomplete."""
        if self.contributions and self.contributions[-1].final:
            return self.contributions[-1]
        return None

    def published(self):
        """node -> blinded key over all contributions (a later one overrides an earlier)."""
        result = {}
        for contribution in self.contributions:
            for index, blinded_key in contribution.nodes():
                result[index] = blinded_key
        return result


def encode_prefix(group_id, epoch, previous_epoch_hash, operations):
    """The bytes before the first contribution."""
    if not operations or len(operations) > events.MAX_OPERATIONS:
        raise DecodeError("an event holds 1..255 operations")
    parts = [codec.header(codec.TYPE_TRANSITION), codec.group_id_field(group_id),
             codec.u64(epoch), codec.fixed(previous_epoch_hash, 32, "previous epoch hash"),
             codec.u8(len(operations))]
    for operation in operations:
        parts.append(operation.encode())
    return b"".join(parts)


def contribution_body(sponsor, blinded_keys, final):
    """flags | sponsor | count | BKs (what precedes tree hash/confirmation/signature)."""
    if not 0 < len(blinded_keys) <= tree.MAX_LEVEL + 1:
        raise DecodeError("a contribution holds 1..31 blinded keys")
    return (codec.u8(FLAG_FINAL if final else 0) + codec.u32(tree.check_index(sponsor))
            + codec.u8(len(blinded_keys)) + b"".join(blinded_keys))


def signature_message(prefix):
    """What a sponsor signs for a contribution preceded by ``prefix`` bytes."""
    return SIGNATURE_LABEL + sha256(prefix).digest()


def sign_contribution(prefix, signing_seed):
    """``prefix`` (everything up to the signature) followed by the sponsor's signature."""
    from groupkey.crypto import ed25519

    return prefix + ed25519.sign(signing_seed, signature_message(prefix))


def verify_contribution(contribution, identity):
    """Raise BadSignature unless ``identity`` signed ``contribution``."""
    from groupkey.crypto import ed25519

    try:
        ed25519.verify(identity, contribution.signed_digest, contribution.signature)
    except CryptoError:
        raise BadSignature("contribution of leaf %d: bad signature" % contribution.sponsor)


def decode(data, allow_incomplete=False):
    """Parse a transition; DecodeError on any malformation. With ``allow_incomplete`` the
    bytes may stop after any contribution (a transition still being collected)."""
    reader = codec.Reader(data)
    raw = reader.data
    reader.header(codec.TYPE_TRANSITION)
    group_id = reader.group_id()
    epoch = reader.u64()
    previous_epoch_hash = reader.key()
    count = reader.u8()
    if count == 0:
        raise DecodeError("an event holds at least one operation")
    operations = []
    for _ in range(count):
        operations.append(events.Operation.decode(reader))
    contributions = []
    while reader.remaining():
        if len(contributions) >= MAX_CONTRIBUTIONS:
            raise DecodeError("too many contributions")
        if contributions and contributions[-1].final:
            raise DecodeError("bytes after the final contribution")
        flags = reader.u8()
        if flags & ~FLAG_FINAL:
            raise DecodeError("unknown contribution flags")
        sponsor = reader.u32()
        if sponsor < 1 or sponsor > tree.MAX_INDEX:
            raise DecodeError("sponsor index out of range")
        size = reader.u8()
        if size == 0 or size > tree.level(sponsor) + 1:
            raise DecodeError("contribution length does not fit the sponsor's path")
        blinded_keys = [reader.key() for _ in range(size)]
        contribution = Contribution(sponsor, blinded_keys, bool(flags & FLAG_FINAL))
        if contribution.final:
            contribution.tree_hash = reader.key()
            contribution.confirmation_digest = sha256(raw[:reader.offset]).digest()
            contribution.confirmation = reader.key()
        contribution.signed_digest = signature_message(raw[:reader.offset])
        contribution.signature = reader.take(codec.SIGNATURE_SIZE)
        contributions.append(contribution)
    if not contributions and not allow_incomplete:
        raise DecodeError("a transition needs a contribution")
    if not allow_incomplete and not contributions[-1].final:
        raise DecodeError("the last contribution is not final")
    reader.finish()
    return Transition(group_id, epoch, previous_epoch_hash, operations, contributions, raw)


def check_sequence(group_id, epoch, epoch_hash, last_digest, parsed):
    """Group, epoch and previous-hash checks shared by public state and members."""
    if parsed.group_id != group_id:
        raise WrongGroup("transition for another group")
    if parsed.epoch <= epoch:
        if parsed.epoch == epoch and sha256(parsed.data).digest() == last_digest:
            raise Duplicate("transition already committed")
        raise WrongEpoch("stale epoch %d (at %d)" % (parsed.epoch, epoch), older=True)
    if parsed.epoch != epoch + 1:
        raise WrongEpoch("future epoch %d (at %d)" % (parsed.epoch, epoch))
    if parsed.previous_epoch_hash != epoch_hash:
        raise WrongEpoch("previous epoch hash does not match (a fork)")
