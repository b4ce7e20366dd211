"""Async HTTP client of the ledger API, for the gateway (and tests, demos).

    async with LedgerClient(["http://127.0.0.1:8701", ...]) as ledger:
        outcome = await ledger.submit_everywhere(entry_bytes)
        outcome.bundle        # encoded receipt bundle to relay to devices (MQTT)
        outcome.results       # per node: result JSON, or {"outcome": "unreachable"}

Every node is asked independently: one node down or slow does not stop the others, and a
bundle is complete as soon as it holds receipts of the nodes that answered. Devices check
the bundle themselves (groupkey.ledger.receipt.verify_bundle); the client does not need to
be trusted.
"""

from __future__ import annotations

import asyncio

import aiohttp

from groupkey.ledger.receipt import encode_bundle


class SubmitOutcome:
    """Per-node results of one submission and the bundle of the receipts obtained."""

    def __init__(self, results: list[dict]):
        self.results = results
        receipts = [bytes.fromhex(result["receipt"]) for result in results
                    if result.get("receipt")]
        self.receipt_count = len(receipts)
        self.bundle = encode_bundle(receipts)

    def outcomes(self) -> list[str]:
        return [result.get("outcome", "unreachable") for result in self.results]


class LedgerClient:
    """Talks to every ledger node of a group (URLs from configuration)."""

    def __init__(self, urls: list[str], timeout: float = 10.0):
        self.urls = [url.rstrip("/") for url in urls]
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> LedgerClient:
        self.session = aiohttp.ClientSession(timeout=self.timeout)
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self.session is not None:
            await self.session.close()

    async def submit(self, url: str, entry: bytes) -> dict:
        """POST one entry to one node; network failures become outcome "unreachable"."""
        try:
            async with self.session.post(url + "/v1/entries", data=entry, headers={
                    "Content-Type": "application/octet-stream"}) as response:
                body = await response.json()
                body["status"] = response.status
                return body
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            return {"outcome": "unreachable", "reason": type(exc).__name__}

    async def submit_everywhere(self, entry: bytes) -> SubmitOutcome:
        """Submit to all nodes concurrently; collect their receipts into one bundle."""
        results = await asyncio.gather(*(self.submit(url, entry) for url in self.urls))
        return SubmitOutcome(list(results))

    async def get(self, url: str, path: str, params: dict | None = None) -> dict | None:
        """GET JSON from one node; None when it is unreachable or answers an error."""
        try:
            async with self.session.get(url + path, params=params) as response:
                if response.status != 200:
                    return None
                return await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
            return None

    async def group_state(self, group_id: bytes) -> dict | None:
        """The group's state from the first node that answers."""
        for url in self.urls:
            state = await self.get(url, "/v1/groups/" + group_id.hex())
            if state is not None:
                return state
        return None

    async def receipts(self, entry_hash: bytes) -> bytes:
        """A bundle of every receipt the nodes hold for an already logged entry."""
        answers = await asyncio.gather(*(self.get(url, "/v1/receipts/" + entry_hash.hex())
                                         for url in self.urls))
        return encode_bundle([bytes.fromhex(answer["receipt"]) for answer in answers
                              if answer])

    async def entry_at(self, family: str, log_id: bytes, sequence: int) -> bytes | None:
        """Entry bytes at (log, sequence) from the first node that has it."""
        for url in self.urls:
            answer = await self.get(url, "/v1/logs/%s/%s/%d" % (family, log_id.hex(),
                                                                 sequence))
            if answer is not None:
                return bytes.fromhex(answer["entry"])
        return None
