"""TGDH group key agreement over X25519 (Kim, Perrig, Tsudik, ACM TISSEC 2004).

Modules, lowest layer first (see docs/protocol.md for the protocol and the wire format):

    errors        the TGDHError tree
    tree          pure heap-index arithmetic (parent, sibling, path, co-path, index moves)
    codec         strict big-endian Reader/Writer helpers
    public_tree   the public tree: shape, blinded keys, identities, tree hash, encoding
    keys          node key derivation and the epoch key schedule
    events        membership operations, staging them on a tree, the sponsor rule
    transition    the signed transition (event + ordered sponsor contributions)
    messages      welcome, node lists (co-path proofs and deltas), member updates
    state         PublicGroupState: validation for holders of public state (ledger, gateway)
    member        Member: the device side (light or full), with generator ``*_steps`` variants

No module does I/O; randomness arrives as arguments in the ``*_from_parts`` layer.
"""


def run_steps(generator):
    """Drive a ``*_steps`` generator (yields between X25519 operations) to its result."""
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            return stop.value
