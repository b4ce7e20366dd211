"""Three real ledger node processes (t=2) over HTTP: finality with one node down, a node that
countersigns a conflicting entry (members reject it, evidence stored and served), peer
cosigning after consistency proofs, reads, and malformed requests answered 4xx (never 500)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupkey import did as dids
from groupkey.crypto import ed25519
from groupkey.ledger import entry as entries
from groupkey.ledger import events, receipt
from groupkey.ledger.errors import InsufficientReceipts
from groupkey.tgdh.simulation import DeterministicRandom
from ledger_node.cluster import free_port, start_cluster, stop_cluster
from ledger_node.fixtures import GroupDriver


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method, headers={
        "Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def submit(node, raw: bytes) -> dict:
    status, body = http("POST", node.url + "/v1/entries", raw)
    body["status"] = status
    return body


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    nodes = start_cluster(tmp_path_factory.mktemp("quorum"), 3)
    yield nodes
    stop_cluster(nodes)


def bundle_of(results: list[dict]) -> list:
    return [receipt.Receipt.decode(bytes.fromhex(result["receipt"])) for result in results
            if result.get("receipt")]


def _driver(node_keys: list[bytes]) -> tuple[GroupDriver, list[bytes], list[bytes]]:
    """A deterministic group: the same seed gives byte-identical entries."""
    driver = GroupDriver(b"quorum group", DeterministicRandom(b"quorum"), node_keys, 2)
    setup = [driver.inception(driver.founder)]
    devices = []
    for _ in range(3):
        key, raw = driver.new_identity()
        devices.append(key)
        setup.append(raw)
    setup.append(driver.genesis(allowed=devices))
    return driver, devices, setup


def test_quorum_conflict_and_one_node_down(cluster):
    node_keys = [node.node_key for node in cluster]
    driver, keys, setup = _driver(node_keys)
    rival, _, _ = _driver(node_keys)
    group_id = driver.group_id
    for raw in setup:
        assert [submit(node, raw)["outcome"] for node in cluster] == ["accepted"] * 3

    # Epoch 1 on all three nodes: final with any two receipts.
    join = driver.transition(joined=[keys[0]])
    assert rival.transition(joined=[keys[0]]) == join  # same history so far
    results = [submit(node, join) for node in cluster]
    join_hash = entries.decode(join).entry_hash()
    assert receipt.verify_bundle(join_hash, bundle_of(results), node_keys, 2) == node_keys[:2]
    assert submit(cluster[0], join)["status"] == 200  # duplicate: same receipt again
    assert submit(cluster[0], join)["receipt"] == results[0]["receipt"]

    # Epoch 2: A reaches nodes 0 and 1, the conflicting (valid) B reaches node 2 first.
    entry_a = driver.transition(joined=[keys[1]])
    entry_b = rival.transition(refresh=keys[0])
    hash_a, hash_b = entries.decode(entry_a).entry_hash(), entries.decode(entry_b).entry_hash()
    results_a = [submit(cluster[0], entry_a), submit(cluster[1], entry_a)]
    result_b = submit(cluster[2], entry_b)
    assert result_b["outcome"] == "accepted"
    everything = bundle_of(results_a + [result_b])
    assert receipt.verify_bundle(hash_a, everything, node_keys, 2) == node_keys[:2]
    with pytest.raises(InsufficientReceipts):
        receipt.verify_bundle(hash_b, everything, node_keys, 2)
    refused = submit(cluster[0], entry_b)
    assert (refused["status"], refused["outcome"]) == (409, "conflict")
    status, evidence = http("GET", cluster[0].url + "/v1/evidence")
    assert status == 200
    assert [item["entry"] for item in evidence["evidence"]] == [entry_b.hex()]
    # Node 2 now also holds A's competitor: it refuses A and keeps it as evidence.
    assert submit(cluster[2], entry_a)["outcome"] == "conflict"

    # Node 2 crashes; epoch 3 is still final with nodes 0 and 1.
    cluster[2].kill()
    refresh = driver.transition(refresh=keys[1])
    results = [submit(cluster[0], refresh), submit(cluster[1], refresh)]
    assert receipt.verify_bundle(entries.decode(refresh).entry_hash(), bundle_of(results),
                                 node_keys, 2) == node_keys[:2]

    status, group = http("GET", cluster[1].url + "/v1/groups/" + group_id.hex())
    assert status == 200 and group["epoch"] == 3
    assert group["members"] == [key.hex() for key in driver.members()]
    assert group["tree_hash"] == driver.simulation.state.tree_hash().hex()
    status, resolved = http("GET", cluster[0].url + "/v1/dids/" +
                            dids.did_from_public_key(keys[1]))
    assert status == 200 and resolved["status"] == "active"
    assert resolved["groups"] == [group_id.hex()]

    # Peers cosign each other's checkpoints after checking consistency proofs.
    deadline = time.monotonic() + 60
    cosigners = []
    while time.monotonic() < deadline:
        status, view = http("GET", cluster[0].url + "/v1/checkpoint")
        cosigners = [item["peer_key"] for item in view["cosignatures"]]
        if node_keys[1].hex() in cosigners:
            break
        time.sleep(0.3)
    assert node_keys[1].hex() in cosigners
    checkpoint = receipt.Checkpoint.decode(bytes.fromhex(view["checkpoint"]))
    for item in view["cosignatures"]:
        checkpoint.verify_cosignature(bytes.fromhex(item["peer_key"]),
                                      bytes.fromhex(item["signature"]))


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=400))
def test_malformed_entries_get_a_clean_4xx(cluster, data):
    result = submit(cluster[0], data)
    assert result["status"] in (409, 422) and result["outcome"] in ("invalid", "out_of_order")


@pytest.mark.parametrize("path", [
    "/v1/entries/zz", "/v1/entries/" + "00" * 31, "/v1/receipts/" + "ab" * 33,
    "/v1/proofs/inclusion?leaf_index=5&tree_size=2", "/v1/proofs/inclusion?leaf_index=x",
    "/v1/proofs/consistency?old_size=9&new_size=1", "/v1/proofs/consistency?old_size=-1",
    "/v1/checkpoint?tree_size=abc", "/v1/groups/nothex", "/v1/dids/did:key:zzzz",
    "/v1/logs/other/00/1", "/v1/logs/group/00/x",
])
def test_malformed_reads_get_a_clean_4xx(cluster, path):
    status, _ = http("GET", cluster[0].url + path)
    assert 400 <= status < 500


def test_async_client_collects_a_bundle_and_survives_a_dead_node(cluster):
    import asyncio

    from ledger_node.client import LedgerClient

    seed = os.urandom(32)
    raw = events.inception(seed, ed25519.public_key(os.urandom(32)))
    dead = "http://127.0.0.1:%d" % free_port()

    async def scenario():
        async with LedgerClient([node.url for node in cluster] + [dead], timeout=3) as ledger:
            outcome = await ledger.submit_everywhere(raw)
            again = await ledger.receipts(entries.decode(raw).entry_hash())
            stored = await ledger.entry_at("identity", ed25519.public_key(seed), 0)
            return outcome, again, stored

    outcome, again, stored = asyncio.run(scenario())
    alive = [node.node_key for node in cluster if node.process.poll() is None]
    assert outcome.outcomes()[-1] == "unreachable"
    assert outcome.receipt_count == len(alive) >= 2
    entry_hash = entries.decode(raw).entry_hash()
    bundle = receipt.decode_bundle(outcome.bundle)
    assert receipt.verify_bundle(entry_hash, bundle, [n.node_key for n in cluster], 2)
    assert len(receipt.decode_bundle(again)) == len(alive)
    assert stored == raw
