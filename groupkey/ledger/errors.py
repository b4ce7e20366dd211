"""Exception tree of groupkey.ledger (shared by devices, the gateway and the ledger nodes).

LedgerError
  DecodeError            bytes do not parse as the named structure (length, version, range)
  ProofError             a Merkle inclusion or consistency proof does not verify
  ReceiptError           a receipt or checkpoint signature does not verify, or the signer is
                         not one of the genesis ledger node keys
  InsufficientReceipts   fewer than t distinct genesis nodes countersigned the entry
"""


class LedgerError(Exception):
    """Base class of every error raised by groupkey.ledger."""


class DecodeError(LedgerError):
    """Malformed bytes: wrong length, unknown version or kind, value out of range."""


class ProofError(LedgerError):
    """A Merkle proof does not lead to the claimed root."""


class ReceiptError(LedgerError):
    """A receipt or checkpoint is not validly signed by a known ledger node."""


class InsufficientReceipts(LedgerError):
    """The bundle does not hold t valid receipts from distinct genesis ledger nodes."""
