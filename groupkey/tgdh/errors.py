"""Exception tree of groupkey.tgdh, rooted in one class; each name says what the caller decides.

TGDHError
  DecodeError              malformed bytes: bad version/type, truncated, oversized, trailing
  InvalidEvent             the event cannot apply to this tree (unknown leaf, duplicate joiner,
                           insertion point not the one the TGDH rule names, last member leaving)
  WrongGroup               the message belongs to another group
  WrongEpoch               not the next epoch (``older`` tells stale from future)
  Duplicate                this exact transition is already committed (a replay)
  VerifyError              cryptographic verification failed (reject the message)
    BadSignature           a sponsor signature does not verify
    NotSponsor             a contribution comes from a member the sponsor rule does not name
    InconsistentBlindedKey a published blinded key, or the key confirmation, does not match
    TreeHashMismatch       the recomputed public tree hash differs from the signed one
  IncompleteView           a light member lacks a co-path entry it needs (ask the gateway for
                           a full co-path proof)
  Removed                  the member processing the transition is removed by it
  NotReady                 an operation needs state the member does not have yet

Any raised error leaves the object's state unchanged.
"""


class TGDHError(Exception):
    """Base class of every error raised by groupkey.tgdh."""


class DecodeError(TGDHError):
    """Bytes do not parse: wrong version or type, truncated, oversized or trailing data."""


class InvalidEvent(TGDHError):
    """The membership event cannot apply to the current tree."""


class WrongGroup(TGDHError):
    """The message names another group."""


class WrongEpoch(TGDHError):
    """The message is not for the next epoch; ``older`` is True for a stale message."""

    def __init__(self, message, older=False):
        super().__init__(message)
        self.older = older


class Duplicate(TGDHError):
    """The transition was already committed (replayed or duplicated)."""


class VerifyError(TGDHError):
    """A cryptographic check failed."""


class BadSignature(VerifyError):
    """A sponsor's Ed25519 signature does not verify."""


class NotSponsor(VerifyError):
    """A contribution is signed by a member the deterministic sponsor rule does not name."""


class InconsistentBlindedKey(VerifyError):
    """A published blinded key or the key confirmation differs from what the member computed."""


class TreeHashMismatch(VerifyError):
    """The recomputed public tree hash differs from the one the sponsor signed."""


class IncompleteView(TGDHError):
    """A light member lacks a co-path entry needed for this transition."""


class Removed(TGDHError):
    """The transition removes the member that processes it; it must discard its state."""


class NotReady(TGDHError):
    """The operation needs state the object does not hold (e.g. no signing key)."""
