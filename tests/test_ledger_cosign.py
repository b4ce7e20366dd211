"""Peer cosigning in-process: a node cosigns a peer's checkpoint only after a consistency
proof from the last one it cosigned; a peer that rewrites its history is refused."""

from __future__ import annotations

import asyncio
import os

import aiohttp
from aiohttp import web

from groupkey.crypto import ed25519
from groupkey.ledger import events
from groupkey.ledger.receipt import Checkpoint
from ledger_node.api import build_app
from ledger_node.cluster import free_port
from ledger_node.node import LedgerNode
from ledger_node.peers import cosign_peer


def inceptions(count: int) -> list[bytes]:
    return [events.inception(os.urandom(32), ed25519.public_key(os.urandom(32)))
            for _ in range(count)]


async def serve(node: LedgerNode, port: int) -> web.AppRunner:
    runner = web.AppRunner(build_app(node))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def test_cosigning_requires_consistency(tmp_path):
    cosigner = LedgerNode(tmp_path / "cosigner.db", os.urandom(32))
    peer_seed = os.urandom(32)
    peer = LedgerNode(tmp_path / "peer.db", peer_seed)
    shared = inceptions(3)
    peer.submit_batch(shared)
    port = free_port()
    url = "http://127.0.0.1:%d" % port

    async def call(function, *args):
        return function(*args)

    async def scenario() -> list[str]:
        outcomes = []
        async with aiohttp.ClientSession() as session:
            runner = await serve(peer, port)
            outcomes.append(await cosign_peer(session, cosigner, url, call))
            outcomes.append(await cosign_peer(session, cosigner, url, call))
            peer.submit_batch(inceptions(2))
            outcomes.append(await cosign_peer(session, cosigner, url, call))
            await runner.cleanup()
            # The same node key now serves a rewritten history (a fork) of a larger size.
            forked = LedgerNode(tmp_path / "fork.db", peer_seed)
            forked.submit_batch(shared[:2] + inceptions(5))
            runner = await serve(forked, port)
            outcomes.append(await cosign_peer(session, cosigner, url, call))
            await runner.cleanup()
            forked.close()
        return outcomes

    outcomes = asyncio.run(scenario())
    assert outcomes == ["cosigned", "unchanged", "cosigned", "inconsistent"]
    # The peer kept our verified cosignature of its latest honest checkpoint.
    latest = Checkpoint.decode(peer.latest_checkpoint())
    cosignatures = peer.storage.cosignatures(latest.tree_size)
    assert [key for key, _ in cosignatures] == [cosigner.public_key]
    latest.verify_cosignature(cosigner.public_key, cosignatures[0][1])
    # The cosigner still remembers the honest checkpoint, not the fork.
    remembered = Checkpoint.decode(cosigner.storage.peer_cosigned(peer.public_key))
    assert remembered.tree_size == latest.tree_size and remembered.root == latest.root
    peer.close()
    cosigner.close()
