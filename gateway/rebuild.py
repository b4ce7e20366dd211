"""Rebuild a group's public state from the ledger (docs/e2e.md, flow 7).

The gateway stores nothing. At start it reads the group log from the ledger nodes
(``GET /v1/logs/group/<id>/<sequence>`` from 0 until no node has the next one), replays it:
the genesis public state, then ``PublicGroupState.apply`` of each transition's TGDH bytes,
checking each entry's previous hash, epoch and declared tree hash; and fetches the receipts of
the last entry (and of the entries in the catch-up window). Invitations found in
transitions are kept (a removed member may rejoin).
"""

from __future__ import annotations

import logging

from groupkey.ledger import bodies
from groupkey.ledger import entry as entries
from groupkey.tgdh.state import PublicGroupState

log = logging.getLogger("gateway.rebuild")


class RebuildError(Exception):
    """The ledger's group log does not replay (should never happen with honest nodes)."""


async def rebuild(group, ledger) -> int:
    """Replay ``group``'s log from ``ledger`` (a LedgerClient) into ``group``; returns the
    number of entries read (0: no genesis yet)."""
    raw = await ledger.entry_at("group", group.group_id, 0)
    if raw is None:
        return 0
    genesis_entry = entries.decode(raw)
    if genesis_entry.kind != entries.GENESIS:
        raise RebuildError("sequence 0 of the group log is not a genesis")
    genesis = bodies.Genesis.decode(genesis_entry.body)
    state = PublicGroupState.decode(genesis.public_tree)
    if state.group_id != group.group_id or state.epoch != 0:
        raise RebuildError("genesis public state is not epoch 0 of this group")
    previous, last_data, last, head = None, b"", raw, genesis_entry.entry_hash()
    invitations = {}
    replayed = [(0, raw, state, b"")]
    sequence = 1
    while True:
        raw = await ledger.entry_at("group", group.group_id, sequence)
        if raw is None:
            break
        entry = entries.decode(raw)
        if entry.kind != entries.TRANSITION or entry.previous_hash != head:
            raise RebuildError("entry %d does not chain to the previous one" % sequence)
        body = bodies.Transition.decode(entry.body)
        new_state = state.apply(body.tgdh, verify=False)  # the ledger quorum checked them
        if new_state.epoch != sequence or new_state.tree_hash() != body.new_tree_hash:
            raise RebuildError("entry %d does not replay to its declared tree" % sequence)
        for invitation in body.invitations:
            invitations[invitation.member] = invitation
        previous, state, last_data, last = state, new_state, body.tgdh, raw
        replayed.append((sequence, raw, state, body.tgdh))
        head = entry.entry_hash()
        sequence += 1
    bundle = await ledger.receipts(head)
    window = int(group.settings.timing.get("catchup_window", 256))
    for epoch, raw_entry, epoch_state, data in replayed[-(window + 1):]:
        epoch_bundle = bundle if epoch == state.epoch else await ledger.receipts(
            entries.decode(raw_entry).entry_hash())
        group.remember(epoch, raw_entry, epoch_bundle, epoch_state, data)
    group.genesis = genesis
    group.state, group.previous_state, group.last_data = state, previous, last_data
    group.last_entry, group.head, group.bundle = last, head, bundle
    group.invitations.update(invitations)
    log.info("%s: rebuilt epoch %d (%d members) from %d ledger entries", group.name,
             state.epoch, len(state.members()), sequence)
    return sequence
