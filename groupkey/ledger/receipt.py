"""Checkpoints, receipts and the t-of-n receipt bundle verifier a device runs.

A node countersigns entries by signing a checkpoint of its Merkle tree after the entries are
durable; the receipt for one entry is that checkpoint plus the entry's inclusion proof
(docs/ledger.md, "Receipts", and docs/decisions.md).

    checkpoint  = version u8 (=1) | node_key 32 | tree_size u64 | root 32 | timestamp u64 (ms)
                | signature 64 over CHECKPOINT_DOMAIN || every byte above
    cosignature = peer_key 32 | signature 64 over COSIGN_DOMAIN || checkpoint without signature
    receipt     = checkpoint (145 bytes) | leaf_index u64 | count u8 | count x 32-byte hash
    bundle      = count u8 | (u16 length | receipt) each

An honest node never logs two entries with the same (log id, sequence), so two receipts of
one node for different entries at the same (log id, sequence) are proof of equivocation.

A member checks receipts of the same few genesis nodes every epoch: ``TrustedNodes`` keeps one
``ed25519.VerifyingKey`` per configured node key (decoded point and window tables, about 3 KB
of heap each on the 64-bit unix port once warm), so later bundles skip the point decoding and
use the 2^128 table (about a third fewer instructions per receipt). It is bounded by the
configured keys: a receipt naming any other key is never verified, so nothing an untrusted
party sends can grow it (docs/decisions.md).
"""

from groupkey.ledger import encoding, merkle
from groupkey.ledger.errors import DecodeError, InsufficientReceipts, ProofError, ReceiptError

VERSION = 1
CHECKPOINT_DOMAIN = b"groupkey-ledger-checkpoint-v1\x00"
COSIGN_DOMAIN = b"groupkey-ledger-cosign-v1\x00"
CHECKPOINT_SIZE = 145


def _verify_signature(public_key, message, signature, verifier=None):
    """ReceiptError unless ``signature`` verifies; ``verifier`` is a cached
    ed25519.VerifyingKey of ``public_key`` (TrustedNodes) or None for a one-off check."""
    from groupkey.crypto import ed25519
    from groupkey.crypto.errors import CryptoError

    try:
        if verifier is None:
            ed25519.verify(public_key, message, signature)
        else:
            verifier.verify(message, signature)
    except CryptoError:
        raise ReceiptError("bad ledger node signature")


class TrustedNodes:
    """The ledger node keys a member trusts (from its genesis configuration), each with a
    VerifyingKey made on its first receipt and kept for later bundles.

    ``TrustedNodes(node_keys)``; ``trusts(key)``; ``verifier(key)`` (None for a key that is
    not trusted, or whose encoding is not a valid, full-order point: its receipts never
    verify); ``check(receipt, entry_hash)``. At most one VerifyingKey per configured key is
    ever held.

    Heap: the cached tables are long-lived, so they are built right after a ``gc.collect()``
    (low in a freshly compacted heap, not between an epoch's temporaries), and a MemoryError
    while checking drops the cache for good (``caching`` becomes False) and checks again
    without it: on a device at its heap limit the cache must never turn a valid bundle into
    a rejection (docs/decisions.md).
    """

    def __init__(self, node_keys):
        self.keys = [bytes(key) for key in node_keys]
        self._verifiers = [None] * len(self.keys)
        self._uses = [0] * len(self.keys)
        self.caching = True

    def trusts(self, key):
        """True when ``key`` is one of the configured node keys."""
        return key in self.keys

    def verifier(self, key):
        """The cached ed25519.VerifyingKey of a trusted ``key``, or None."""
        from groupkey.crypto import ed25519
        from groupkey.crypto.errors import CryptoError

        if key not in self.keys or not self.caching:
            return None
        index = self.keys.index(key)
        verifier = self._verifiers[index]
        if verifier is None:
            try:
                verifier = ed25519.VerifyingKey(key)
            except CryptoError:
                return None
            self._verifiers[index] = verifier
        return verifier

    def check(self, receipt, entry_hash):
        """Raise ProofError/ReceiptError unless ``receipt`` (of a trusted node) countersigns
        ``entry_hash``; through the cached verifier while caching is on."""
        key = receipt.checkpoint.node_key
        if key not in self.keys:
            raise ReceiptError("receipt of a node that is not trusted")
        if not self.caching:
            receipt.verify(entry_hash)
            return
        index = self.keys.index(key)
        verifier = None
        try:
            if self._uses[index] < 2:
                # the decoded point (1st use) and the 2^128 table (2nd) are allocated now
                import gc

                gc.collect()
            verifier = self.verifier(key)
            if verifier is not None:
                self._uses[index] += 1
                receipt.verify(entry_hash, verifier)
                return
        except MemoryError:
            verifier = None  # no reference may keep the tables alive
            self.forget()
        receipt.verify(entry_hash)  # uncached (or not a valid point: verify says why)

    def forget(self):
        """Drop every cached verifier and stop caching (after a MemoryError)."""
        import gc

        self.caching = False
        self._verifiers = [None] * len(self.keys)
        gc.collect()


class Checkpoint:
    """A node's signed statement: my tree of ``tree_size`` entries has root ``root``."""

    def __init__(self, node_key, tree_size, root, timestamp, signature=b""):
        self.node_key = bytes(node_key)
        self.tree_size = tree_size
        self.root = bytes(root)
        self.timestamp = timestamp
        self.signature = bytes(signature)

    def unsigned_bytes(self):
        if len(self.node_key) != 32 or len(self.root) != 32:
            raise DecodeError("checkpoint key and root are 32 bytes")
        return (encoding.u8(VERSION) + self.node_key + encoding.u64(self.tree_size) + self.root
                + encoding.u64(self.timestamp))

    def signed_message(self):
        return CHECKPOINT_DOMAIN + self.unsigned_bytes()

    def cosign_message(self):
        return COSIGN_DOMAIN + self.unsigned_bytes()

    def encode(self):
        if len(self.signature) != 64:
            raise DecodeError("signature is 64 bytes")
        return self.unsigned_bytes() + self.signature

    def verify(self, verifier=None):
        """Raise ReceiptError unless node_key signed this checkpoint (``verifier``: a cached
        VerifyingKey of node_key, see TrustedNodes)."""
        _verify_signature(self.node_key, self.signed_message(), self.signature, verifier)

    def verify_cosignature(self, peer_key, signature):
        """Raise ReceiptError unless peer_key cosigned this checkpoint."""
        _verify_signature(peer_key, self.cosign_message(), signature)

    @staticmethod
    def decode(data):
        reader = encoding.Reader(data)
        checkpoint = Checkpoint._read(reader)
        reader.finish()
        return checkpoint

    @staticmethod
    def _read(reader):
        if reader.u8() != VERSION:
            raise DecodeError("unknown checkpoint version")
        node_key = reader.take(32)
        tree_size = reader.u64()
        root = reader.take(32)
        timestamp = reader.u64()
        signature = reader.take(64)
        return Checkpoint(node_key, tree_size, root, timestamp, signature)


class Receipt:
    """Checkpoint + inclusion proof of one entry: the node's countersignature of it."""

    def __init__(self, checkpoint, leaf_index, path):
        self.checkpoint = checkpoint
        self.leaf_index = leaf_index
        self.path = list(path)

    def encode(self):
        proof = merkle.encode_proof(self.leaf_index, self.checkpoint.tree_size, self.path)
        # The tree size is already in the checkpoint: keep leaf_index, count and hashes.
        return self.checkpoint.encode() + proof[:8] + proof[16:]

    @staticmethod
    def decode(data):
        reader = encoding.Reader(data)
        checkpoint = Checkpoint._read(reader)
        leaf_index = reader.u64()
        count = reader.u8()
        if count > merkle.MAX_PROOF_HASHES:
            raise DecodeError("proof too long")
        path = [reader.take(32) for _ in range(count)]
        reader.finish()
        return Receipt(checkpoint, leaf_index, path)

    def verify(self, entry_hash, verifier=None):
        """Raise ProofError or ReceiptError unless this receipt countersigns ``entry_hash``
        (an RFC 9162 leaf hash). Checks the cheap inclusion proof before the signature;
        ``verifier`` as in Checkpoint.verify."""
        checkpoint = self.checkpoint
        merkle.verify_inclusion(entry_hash, self.leaf_index, checkpoint.tree_size, self.path,
                                checkpoint.root)
        checkpoint.verify(verifier)


def encode_bundle(receipts):
    """Wire form of a list of receipts (each already encoded or a Receipt)."""
    if len(receipts) > 255:
        raise DecodeError("too many receipts")
    parts = [encoding.u8(len(receipts))]
    for receipt in receipts:
        raw = receipt if isinstance(receipt, (bytes, bytearray)) else receipt.encode()
        parts.append(encoding.u16(len(raw)) + bytes(raw))
    return b"".join(parts)


def decode_bundle(data):
    """Inverse of encode_bundle: a list of Receipt; DecodeError if malformed."""
    reader = encoding.Reader(data)
    receipts = []
    for _ in range(reader.u8()):
        receipts.append(Receipt.decode(reader.take(reader.u16())))
    reader.finish()
    return receipts


def verify_bundle(entry_hash, receipts, node_keys, threshold):
    """Return the node keys of ``threshold`` valid receipts for ``entry_hash``.

    ``node_keys`` and ``threshold`` come from the group's genesis (what the device trusts);
    ``node_keys`` is a list of keys or a TrustedNodes (whose cached verifiers are then used).
    Receipts from unknown keys or that fail verification do not count, and only the first
    receipt of each node is tried: a bundle costs at most one signature check and inclusion
    proof per genesis node (a sender cannot make a device verify a long list of bad
    receipts for one key; receipts of unknown keys cost no cryptography), and the verifier
    stops as soon as ``threshold`` distinct genesis nodes are proven. Raises
    InsufficientReceipts.
    """
    if threshold < 1:
        raise InsufficientReceipts("threshold must be at least 1")
    trusted = node_keys if isinstance(node_keys, TrustedNodes) else None
    keys = trusted.keys if trusted is not None else [bytes(key) for key in node_keys]
    confirmed = []
    tried = []
    for receipt in receipts:
        key = receipt.checkpoint.node_key
        if key not in keys or key in tried:
            continue
        tried.append(key)
        try:
            if trusted is None:
                receipt.verify(entry_hash)
            else:
                trusted.check(receipt, entry_hash)
        except (ProofError, ReceiptError):
            continue
        confirmed.append(key)
        if len(confirmed) >= threshold:
            return confirmed
    raise InsufficientReceipts("%d of %d required ledger receipts" % (len(confirmed),
                                                                      threshold))


def verify_consistency(old_checkpoint, new_checkpoint, path):
    """Raise ProofError/ReceiptError unless both checkpoints are signed by the same node and
    ``path`` proves the old tree is a prefix of the new one (RFC 9162 section 2.1.4)."""
    if old_checkpoint.node_key != new_checkpoint.node_key:
        raise ReceiptError("checkpoints of different nodes")
    old_checkpoint.verify()
    new_checkpoint.verify()
    merkle.verify_consistency(old_checkpoint.tree_size, new_checkpoint.tree_size,
                              old_checkpoint.root, new_checkpoint.root, path)


def is_equivocation(entry_a, receipt_a, entry_b, receipt_b):
    """True when one node validly countersigned two different entries (decoded Entry objects)
    for the same (log id, sequence): the evidence a member or auditor publishes."""
    if receipt_a.checkpoint.node_key != receipt_b.checkpoint.node_key:
        return False
    if entry_a.log_id != entry_b.log_id or entry_a.sequence != entry_b.sequence:
        return False
    hash_a = entry_a.entry_hash()
    hash_b = entry_b.entry_hash()
    if hash_a == hash_b:
        return False
    try:
        receipt_a.verify(hash_a)
        receipt_b.verify(hash_b)
    except (ProofError, ReceiptError):
        return False
    return True
