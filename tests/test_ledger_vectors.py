"""Ledger vector files (tests/vectors/ledger_*.json): regenerate with
``.venv/bin/python -m tests.test_ledger_vectors`` and check they are current.

The Merkle roots for sizes 0..8 are the Certificate Transparency reference values (RFC 6962
test data, same hashing as RFC 9162) and are typed in here, not computed, so the generator
is checked against an outside source. Receipts are signed with pycryptodome's Ed25519
(independent of groupkey.crypto.ed25519) from fixed seeds, so the files are deterministic.
tests/test_vectors.py runs every file under CPython and MicroPython.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

from groupkey.ledger import bodies, merkle, receipt
from groupkey.ledger import entry as entries
from ledger_node.merkle_tree import MerkleTree

VECTORS = Path(__file__).parent / "vectors"

CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# CT reference inclusion proofs (leaf index 0-based, tree size 8).
CT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
# did:key examples published with their base58/JWK public keys (did:key method examples
# reproduced in aries-cloudagent and transmute did-key.js test data).
DID_EXAMPLES = [
    ("6c2d48b1605684ef94363dc6158eeb6577466e1a36a740f2fc624617edb7712e",
     "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th"),
    ("f095587d386a93f1b18f7fe2ed47cc790dc86ea548c1672c6fc43b36829c90bc",
     "did:key:z6MkvePyWAApUVeDboZhNbckaWHnqtD6pCETd6xoqGbcpEBV"),
    ("5435c3c2e18a56af75cf153aabbfff8cb0d4abcfc2e5cbb110281dfb57de1531",
     "did:key:z6Mkk7yqnGF3YwTrLpqrW6PGsKci7dNqh1CjnvMbzrMerSeL"),
]


def _document(source: str, check: str, vectors: list) -> dict:
    document = {"source": source, "check": check, "vectors": vectors}
    if check == "ledger_receipt":
        # The harness holds the whole JSON file in the heap; the verifier alone fits 96K
        # (bench/ledger.py measures it at -X heapsize=96K).
        document["micropython_heap"] = "192K"
    return document


def merkle_document() -> dict:
    vectors = []
    for size in range(len(CT_LEAVES) + 1):
        vectors.append({"name": "ct root size %d" % size,
                        "input": {"op": "root", "leaves": CT_LEAVES[:size]},
                        "expected": {"root": CT_ROOTS[size]}})
    leaf_hashes = [merkle.leaf_hash(bytes.fromhex(leaf)).hex() for leaf in CT_LEAVES]
    for index, size, path in CT_INCLUSION:
        case = {"op": "inclusion", "leaf_hash": leaf_hashes[index], "index": index,
                "size": size, "path": path, "root": CT_ROOTS[size]}
        vectors.append({"name": "ct inclusion %d/%d" % (index, size), "input": case,
                        "expected": {"root": CT_ROOTS[size]}})
        bad = dict(case, path=path[:-1])
        vectors.append({"name": "short path %d/%d" % (index, size), "input": bad,
                        "expected": {"error": "ProofError"}})
        bad = dict(case, index=index ^ 1)
        vectors.append({"name": "wrong index %d/%d" % (index, size), "input": bad,
                        "expected": {"error": "ProofError"}})
    tree = MerkleTree()
    for leaf in CT_LEAVES:
        tree.append_entry(bytes.fromhex(leaf))
    for old, new in [(1, 8), (2, 5), (3, 7), (4, 8), (6, 8), (5, 5), (0, 3)]:
        path = [value.hex() for value in tree.consistency_proof(old, new)]
        case = {"op": "consistency", "old_size": old, "new_size": new,
                "old_root": CT_ROOTS[old], "new_root": CT_ROOTS[new], "path": path}
        vectors.append({"name": "consistency %d->%d" % (old, new), "input": case,
                        "expected": {"ok": True}})
        if path:
            flipped = dict(case, old_root=CT_ROOTS[old - 1] if old > 1 else CT_ROOTS[2])
            vectors.append({"name": "consistency %d->%d wrong old root" % (old, new),
                            "input": flipped, "expected": {"error": "ProofError"}})
    return _document("RFC 9162 sections 2.1.1-2.1.4; roots and inclusion proofs are the "
                     "Certificate Transparency reference test data (RFC 6962 hashing), "
                     "consistency proofs generated by ledger_node.merkle_tree and checked "
                     "against a naive reference in tests/test_ledger_merkle.py",
                     "ledger_merkle", vectors)


def did_document() -> dict:
    vectors = []
    for public_key, did in DID_EXAMPLES:
        vectors.append({"name": "encode " + did[-6:], "input": {"public_key": public_key},
                        "expected": {"did": did}})
        vectors.append({"name": "decode " + did[-6:], "input": {"did": did},
                        "expected": {"public_key": public_key}})
    for name, bad in [("wrong prefix", "did:key:b6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th"),
                      ("bad character", "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab70h"),
                      ("x25519 codec", "did:key:z6LShLeXRTzevtwcfehaGEzCMyL3bNsAeKCwcqwJxyCo63yE"),
                      ("truncated", "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7"),
                      ("empty", "did:key:z")]:
        vectors.append({"name": name, "input": {"did": bad}, "expected": {"error": "DIDError"}})
    return _document("W3C CCG did:key method (multicodec ed25519-pub 0xed01, multibase "
                     "base58btc 'z'); examples from the did:key test data reproduced in "
                     "openwallet-foundation/acapy and transmute-industries/did-key.js",
                     "ledger_did", vectors)


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"ledger vector " + label.encode()).digest()


def _sign(seed: bytes, message: bytes) -> bytes:
    return eddsa.new(eddsa.import_private_key(seed), "rfc8032").sign(message)


def _public(seed: bytes) -> bytes:
    return eddsa.import_private_key(seed).public_key().export_key(format="raw")


def receipt_document() -> dict:
    assert ECC  # pycryptodome is the independent signer for these vectors
    device = _seed("device")
    body = bodies.KeyEvent(_public(device), hashlib.sha256(b"next").digest()).encode()
    item = entries.Entry(entries.INCEPTION, _public(device), 0, entries.ZERO_HASH, body,
                         _public(device))
    item.signature = _sign(device, item.signed_message())
    raw = item.encode()
    other = entries.Entry(entries.INCEPTION, _public(device), 0, entries.ZERO_HASH,
                          bodies.KeyEvent(_public(device), b"\x01" * 32).encode(),
                          _public(device))
    other.signature = _sign(device, other.signed_message())
    node_seeds = [_seed("node %d" % index) for index in range(4)]
    node_keys = [_public(seed) for seed in node_seeds[:3]]

    def make_receipt(seed: bytes, target: bytes, filler: int) -> receipt.Receipt:
        tree = MerkleTree()
        for index in range(filler):
            tree.append_entry(b"filler %d" % index)
        leaf_index = tree.append_entry(target)
        for index in range(filler // 2):
            tree.append_entry(b"after %d" % index)
        checkpoint = receipt.Checkpoint(_public(seed), tree.size, tree.root(), 1764000000000)
        checkpoint.signature = _sign(seed, checkpoint.signed_message())
        return receipt.Receipt(checkpoint, leaf_index, tree.inclusion_proof(leaf_index,
                                                                            tree.size))

    good = [make_receipt(node_seeds[index], raw, 5 + 13 * index) for index in range(3)]
    stranger = make_receipt(node_seeds[3], raw, 9)
    equivocating = make_receipt(node_seeds[2], other.encode(), 4)
    bad_signature = receipt.Receipt.decode(good[1].encode())
    bad_signature.checkpoint.signature = bytes([bad_signature.checkpoint.signature[0] ^ 1]) + \
        bad_signature.checkpoint.signature[1:]
    bad_path = receipt.Receipt.decode(good[1].encode())
    bad_path.path[0] = bytes([bad_path.path[0][0] ^ 0x80]) + bad_path.path[0][1:]
    keys = [key.hex() for key in node_keys]
    cases = [
        ("2 of 3", good[:2], 2, {"nodes": keys[:2]}),
        ("3 receipts, t=2 stops at 2", good, 2, {"nodes": keys[:2]}),
        ("3 of 3", good, 3, {"nodes": keys}),
        ("only one for t=2", good[:1], 2, {"error": "InsufficientReceipts"}),
        ("unknown node does not count", [good[0], stranger], 2,
         {"error": "InsufficientReceipts"}),
        ("same node twice", [good[0], good[0]], 2, {"error": "InsufficientReceipts"}),
        ("bad checkpoint signature", [good[0], bad_signature], 2,
         {"error": "InsufficientReceipts"}),
        ("bad inclusion path", [bad_path, good[2]], 2, {"error": "InsufficientReceipts"}),
        ("receipt for a conflicting entry", [good[0], equivocating], 2,
         {"error": "InsufficientReceipts"}),
        ("conflicting one skipped, third counts", [equivocating, good[0], good[1]], 2,
         {"nodes": keys[:2]}),
    ]
    vectors = []
    for name, receipts, threshold, outcome in cases:
        expected = outcome
        if "nodes" in outcome:
            expected = dict(outcome, log_id=item.log_id.hex(), sequence=0)
        vectors.append({"name": name, "input": {
            "entry": raw.hex(), "bundle": receipt.encode_bundle(receipts).hex(),
            "node_keys": keys, "threshold": threshold}, "expected": expected})
    truncated = receipt.encode_bundle(good[:2])[:-5].hex()
    vectors.append({"name": "truncated bundle", "input": {
        "entry": raw.hex(), "bundle": truncated, "node_keys": keys, "threshold": 2},
        "expected": {"error": "DecodeError"}})
    vectors.append({"name": "truncated entry", "input": {
        "entry": raw[:-1].hex(), "bundle": receipt.encode_bundle(good[:2]).hex(),
        "node_keys": keys, "threshold": 2}, "expected": {"error": "DecodeError"}})
    return _document("groupkey ledger receipt format (docs/ledger.md); Ed25519 RFC 8032 "
                     "signatures made with pycryptodome from fixed seeds, Merkle proofs RFC "
                     "9162", "ledger_receipt", vectors)


DOCUMENTS = {"ledger_merkle.json": merkle_document, "ledger_did.json": did_document,
             "ledger_receipt.json": receipt_document}


def write_all() -> None:
    for name, build in DOCUMENTS.items():
        (VECTORS / name).write_text(json.dumps(build(), indent=1) + "\n")


def test_vector_files_are_current():
    for name, build in DOCUMENTS.items():
        assert json.loads((VECTORS / name).read_text()) == build(), name


if __name__ == "__main__":
    write_all()
