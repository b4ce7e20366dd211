"""TGDH node keys and the epoch key schedule.

Node keys (section "Keys" of docs/protocol.md)::

    leaf:      K = 32 random bytes (X25519 clamps it), BK = X25519(K, 9)
    internal:  K_v = HKDF-Extract(salt="groupkey tgdh v1 node", X25519(K_l, BK_r))
                   (= the same with X25519(K_r, BK_l)), BK_v = X25519(K_v, 9)

A node key is never a raw DH output. The root key never encrypts anything; the epoch schedule::

    prk            = HKDF-Extract(salt="groupkey tgdh v1 epoch", root key)
    epoch_secret   = HKDF-Expand(prk, len(group_id) || group_id || epoch[8] || tree_hash
                                      || previous_epoch_hash, 32)
    traffic_secret = HKDF-Expand(epoch_secret, "traffic", 32)    (group data messages)
    exporter       = HKDF-Expand(epoch_secret, "exporter", 32)
    confirm_key    = HKDF-Expand(epoch_secret, "confirm", 32)
    confirmation   = HMAC-SHA256(confirm_key, SHA256(transition bytes before the field))
    epoch_hash     = SHA256("groupkey tgdh v1 epoch hash" || previous_epoch_hash
                            || SHA256(transition))
    genesis hash   = SHA256("groupkey tgdh v1 genesis" || len(group_id) || group_id || tree_hash)
"""

from hashlib import sha256

from groupkey.crypto import hkdf, x25519
from groupkey.crypto.errors import CryptoError
from groupkey.tgdh.errors import InconsistentBlindedKey

_NODE_SALT = b"groupkey tgdh v1 node"
_EPOCH_SALT = b"groupkey tgdh v1 epoch"
_EPOCH_HASH_LABEL = b"groupkey tgdh v1 epoch hash"
_GENESIS_LABEL = b"groupkey tgdh v1 genesis"


def blinded_key(key):
    """BK = X25519(K, 9)."""
    return x25519.x25519_base(key)


def node_key(shared_secret):
    """K_v from the DH output of its children."""
    return hkdf.hkdf_extract(_NODE_SALT, shared_secret)


def combine(own_key, other_blinded_key):
    """K_parent = node_key(X25519(own child key, other child's BK)).

    A low-order blinded key (all-zero DH output) raises InconsistentBlindedKey."""
    try:
        return node_key(x25519.x25519(own_key, other_blinded_key))
    except CryptoError:
        raise InconsistentBlindedKey("blinded key gives no shared secret") from None


def fingerprint(value):
    """Short non-secret tag of a key or hash, safe for logs."""
    return sha256(b"groupkey fingerprint" + value).digest()[:6].hex()


class EpochKeys:
    """The secrets of one epoch, all derived from the root key (never the root key itself)."""

    def __init__(self, epoch_secret):
        self.epoch_secret = epoch_secret
        self.traffic_secret = hkdf.hkdf_expand(epoch_secret, b"traffic", 32)
        self.exporter_secret = hkdf.hkdf_expand(epoch_secret, b"exporter", 32)
        self.confirmation_key = hkdf.hkdf_expand(epoch_secret, b"confirm", 32)

    def confirmation(self, transcript_digest):
        """Key confirmation tag over the transition bytes that precede it."""
        return hkdf.hmac_sha256(self.confirmation_key, transcript_digest)

    def export(self, label, context, length):
        """Exporter: HKDF-Expand(exporter, len(label) || label || context, length)."""
        return hkdf.hkdf_expand(self.exporter_secret, bytes((len(label),)) + label + context,
                                length)


def epoch_keys(root_key, group_id, epoch, tree_hash, previous_epoch_hash):
    """EpochKeys of ``epoch`` from the root key and the public context."""
    prk = hkdf.hkdf_extract(_EPOCH_SALT, root_key)
    info = (bytes((len(group_id),)) + group_id + epoch.to_bytes(8, "big") + tree_hash
            + previous_epoch_hash)
    return EpochKeys(hkdf.hkdf_expand(prk, info, 32))


def epoch_hash(previous_epoch_hash, transition_bytes):
    """Chains epochs: hash of the previous epoch hash and the committed transition."""
    return sha256(_EPOCH_HASH_LABEL + previous_epoch_hash
                  + sha256(transition_bytes).digest()).digest()


def genesis_epoch_hash(group_id, tree_hash):
    """Epoch hash of epoch 0 (the founder's one-member tree)."""
    return sha256(_GENESIS_LABEL + bytes((len(group_id),)) + group_id + tree_hash).digest()
