"""Peer cosigning: a node cosigns a peer's checkpoint only after checking a consistency proof
from the last checkpoint of that peer it cosigned (RFC 9162 section 2.1.4), so a peer that
rewrites or forks its log is caught and never cosigned again.

Each round, for every peer URL: fetch its latest checkpoint, verify its signature, fetch and
verify the consistency proof from our last cosigned checkpoint of that peer's key, sign
COSIGN_DOMAIN || checkpoint and POST the cosignature back; remember the checkpoint.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from groupkey.ledger.errors import LedgerError
from groupkey.ledger.receipt import Checkpoint, verify_consistency
from ledger_node.node import LedgerNode, fingerprint

log = logging.getLogger("ledger_node.peers")


async def cosign_peer(session: aiohttp.ClientSession, node: LedgerNode, url: str,
                      call) -> str:
    """One cosigning step for one peer; returns what happened (for logs and tests)."""
    async with session.get(url + "/v1/checkpoint") as response:
        if response.status != 200:
            return "no checkpoint"
        raw = bytes.fromhex((await response.json())["checkpoint"])
    checkpoint = Checkpoint.decode(raw)
    if checkpoint.node_key == node.public_key:
        return "self"
    checkpoint.verify()
    previous_raw = await call(node.storage.peer_cosigned, checkpoint.node_key)
    if previous_raw is not None:
        previous = Checkpoint.decode(previous_raw)
        if previous.tree_size > checkpoint.tree_size:
            log.error("peer %s shrank its log", fingerprint(checkpoint.node_key))
            return "inconsistent"
        if previous.tree_size == checkpoint.tree_size and previous.root == checkpoint.root:
            return "unchanged"
        params = {"old_size": previous.tree_size, "new_size": checkpoint.tree_size}
        async with session.get(url + "/v1/proofs/consistency", params=params) as response:
            if response.status != 200:
                return "no proof"
            path = [bytes.fromhex(value) for value in (await response.json())["path"]]
        try:
            verify_consistency(previous, checkpoint, path)
        except LedgerError:
            log.error("peer %s checkpoint %d is not consistent with %d: not cosigning",
                      fingerprint(checkpoint.node_key), checkpoint.tree_size,
                      previous.tree_size)
            return "inconsistent"
    signature = node.signer.sign(checkpoint.cosign_message())
    body = {"tree_size": checkpoint.tree_size, "peer_key": node.public_key.hex(),
            "signature": signature.hex()}
    async with session.post(url + "/v1/cosignatures", json=body) as response:
        if response.status != 200:
            return "refused"
    await call(node.storage.store_peer_cosigned, checkpoint.node_key, raw)
    return "cosigned"


async def cosign_loop(node: LedgerNode, urls: list[str], interval: float, call) -> None:
    """Run cosigning rounds forever (a task of ``serve``)."""
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            for url in urls:
                try:
                    outcome = await cosign_peer(session, node, url.rstrip("/"), call)
                    log.debug("cosign %s: %s", url, outcome)
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError, LedgerError,
                        ValueError, KeyError) as exc:
                    log.debug("cosign %s failed: %s", url, exc)
            await asyncio.sleep(interval)
