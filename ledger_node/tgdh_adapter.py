"""The one seam between the ledger and the TGDH public-state validator (groupkey.tgdh).

The ledger keeps each group's PUBLIC state (groupkey.tgdh.state.PublicGroupState: epoch,
epoch hash, public tree) and checks that a transition implies exactly what the entry declares:

    initial_public_state(group_id, public_state_bytes) -> PublicView
        genesis: the encoded epoch-0 PublicGroupState of this group
    apply_public_transition(view, transition, epoch) -> PublicView
        PublicGroupState.apply(transition.tgdh) (sponsor rule, sponsor signatures, blinded
        key paths, epoch chain, tree hash), then: the TGDH epoch equals the ledger epoch, the
        new tree hash equals the declared one, and the member set changed by exactly the
        declared joined/removed keys.

Both raise TransitionRejected with the TGDH error's name and message; ``view`` is never
changed (PublicGroupState.apply returns a new state).
"""

from __future__ import annotations

from groupkey.tgdh.errors import TGDHError
from groupkey.tgdh.state import PublicGroupState
from ledger_node import signatures


def _verify_contributions(state: PublicGroupState, data: bytes) -> None:
    """The sponsor-signature check of ``PublicGroupState.apply``, with the node's cache of
    decoded keys (ledger_node.signatures): ``replay`` names, for each contribution, the
    identity the sponsor rule expects; each must have signed its ``signed_digest``
    (groupkey.tgdh.transition.verify_contribution, same Ed25519 rule)."""
    parsed, _, identities = state.replay(data, verify=False)
    if len(identities) != len(parsed.contributions):
        raise TransitionRejected("contributions and sponsors do not line up")
    for contribution, identity in zip(parsed.contributions, identities, strict=True):
        if not signatures.is_valid(identity, contribution.signed_digest,
                                   contribution.signature):
            raise TransitionRejected("BadSignature: contribution of leaf %d"
                                     % contribution.sponsor)


class TransitionRejected(Exception):
    """The TGDH data is invalid or does not have the consequence the entry declares."""


class PublicView:
    """What the ledger keeps per group: the TGDH public state, its members and tree hash."""

    def __init__(self, state: PublicGroupState):
        self.state = state
        self.members: list[bytes] = state.members()
        self.tree_hash: bytes = state.tree_hash()


def initial_public_state(group_id: bytes, public_state: bytes) -> PublicView:
    """Decode a genesis public state; it must be epoch 0 of ``group_id``."""
    try:
        state = PublicGroupState.decode(public_state)
    except TGDHError as exc:
        raise TransitionRejected("genesis public state: %s: %s" % (type(exc).__name__,
                                                                    exc)) from None
    if state.group_id != group_id or state.epoch != 0:
        raise TransitionRejected("genesis public state is not epoch 0 of this group")
    return PublicView(state)


def apply_public_transition(view: PublicView, transition, epoch: int,
                            verify: bool = True) -> PublicView:
    """Validate ``transition.tgdh`` on the public state; return the new view.
    ``verify=False`` skips the sponsor signatures (replay of already validated entries)."""
    try:
        if verify:
            _verify_contributions(view.state, transition.tgdh)
        state = view.state.apply(transition.tgdh, verify=False)
    except TGDHError as exc:
        raise TransitionRejected("%s: %s" % (type(exc).__name__, exc)) from None
    if state.epoch != epoch:
        raise TransitionRejected("TGDH epoch %d is not the ledger epoch %d" % (state.epoch,
                                                                                epoch))
    new_view = PublicView(state)
    if new_view.tree_hash != transition.new_tree_hash:
        raise TransitionRejected("declared tree hash differs from the TGDH tree hash")
    expected = (set(view.members) - set(transition.removed)) | set(transition.joined)
    if set(new_view.members) != expected or not set(transition.removed) <= set(view.members):
        raise TransitionRejected("membership change differs from the declared joins/leaves")
    return new_view
