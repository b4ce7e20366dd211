"""HTTP API of a ledger node (aiohttp). Writes are signed entries only; reads are public.

    POST /v1/entries                 body: entry bytes (application/octet-stream)
                                     -> {outcome, reason, entry_hash, leaf_index, receipt}
                                        201 accepted, 200 duplicate, 409 out_of_order or
                                        conflict, 422 invalid
    GET  /v1/entries/{entry_hash}    -> {leaf_index, entry}
    GET  /v1/logs/{family}/{log_id}/{sequence}   family "identity" or "group"
    GET  /v1/receipts/{entry_hash}   -> {receipt}
    GET  /v1/checkpoint[?tree_size=] -> {checkpoint, cosignatures: [{peer_key, signature}]}
    GET  /v1/proofs/inclusion?leaf_index=&tree_size=
    GET  /v1/proofs/consistency?old_size=&new_size=
    GET  /v1/groups/{group_id}       -> current epoch, members, tree hash, config
    GET  /v1/dids/{did}              -> current key and status
    GET  /v1/evidence                -> conflicting entries kept as equivocation evidence
    POST /v1/cosignatures            body JSON {tree_size, peer_key, signature}
    GET  /v1/info                    -> {name, node_key, tree_size}

All binary values are hex in JSON. Every handler turns bad input into a 4xx JSON error: the
node never answers 500 to malformed requests. Node operations run on one worker thread, in
order; submissions arriving together are validated, made durable (one fsync) and
countersigned (one checkpoint signature) as one batch.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from groupkey.did import DIDError
from groupkey.ledger.errors import LedgerError
from groupkey.ledger.receipt import Checkpoint
from ledger_node.node import LedgerNode, Result, fingerprint
from ledger_node.state import GROUP, IDENTITY

log = logging.getLogger("ledger_node.api")

MAX_ENTRY = 1 << 20
STATUS = {"accepted": 201, "duplicate": 200, "out_of_order": 409, "conflict": 409,
          "invalid": 422}
FAMILIES = {"identity": IDENTITY, "group": GROUP}


NODE = web.AppKey("node", LedgerNode)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)


class BadRequest(Exception):
    """Client error; becomes a 400 JSON response."""


def _hex(value: str, length: int | None = None) -> bytes:
    try:
        data = bytes.fromhex(value)
    except ValueError:
        raise BadRequest("not hex") from None
    if length is not None and len(data) != length:
        raise BadRequest("expected %d bytes" % length)
    return data


def _int(request: web.Request, name: str) -> int:
    try:
        value = int(request.query[name])
    except (KeyError, ValueError):
        raise BadRequest("query parameter %s must be an integer" % name) from None
    if value < 0:
        raise BadRequest("%s must not be negative" % name)
    return value


class Batcher:
    """Collects concurrent submissions and hands them to the node as batches."""

    def __init__(self, node: LedgerNode, executor: ThreadPoolExecutor, batch_max: int):
        self.node = node
        self.executor = executor
        self.batch_max = batch_max
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass

    async def submit(self, raw: bytes) -> Result:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((raw, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            while len(items) < self.batch_max and not self.queue.empty():
                items.append(self.queue.get_nowait())
            try:
                results = await loop.run_in_executor(
                    self.executor, self.node.submit_batch, [raw for raw, _ in items])
            except Exception as exc:  # storage failure: every waiter learns it
                log.exception("batch failed")
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(items, results, strict=True):
                if not future.done():
                    future.set_result(result)


def build_app(node: LedgerNode, batch_max: int = 256, name: str = "ledger") -> web.Application:
    """The aiohttp application serving ``node``."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-node")
    batcher = Batcher(node, executor, batch_max)
    app = web.Application(client_max_size=MAX_ENTRY + 1024, middlewares=[_errors])
    app[NODE] = node
    app[EXECUTOR] = executor

    async def call(function, *args):
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)

    async def submit(request: web.Request) -> web.Response:
        raw = await request.read()
        if not raw or len(raw) > MAX_ENTRY:
            raise BadRequest("body must be one entry (1 byte .. 1 MiB)")
        result = await batcher.submit(raw)
        if result.outcome != "accepted":
            log.info("entry %s: %s %s", fingerprint(result.entry_hash), result.outcome,
                     result.reason)
        return web.json_response(result.as_json(), status=STATUS[result.outcome])

    async def entry(request: web.Request) -> web.Response:
        row = await call(node.entry, _hex(request.match_info["entry_hash"], 32))
        if row is None:
            raise web.HTTPNotFound(text='{"error": "unknown entry"}',
                                   content_type="application/json")
        return web.json_response({"leaf_index": row[0], "entry": row[1].hex()})

    async def log_entry(request: web.Request) -> web.Response:
        family = FAMILIES.get(request.match_info["family"])
        if family is None:
            raise BadRequest("family is identity or group")
        log_id = _hex(request.match_info["log_id"])
        try:
            sequence = int(request.match_info["sequence"])
        except ValueError:
            raise BadRequest("sequence must be an integer") from None
        row = await call(node.entry_at, family, log_id, sequence)
        if row is None:
            raise web.HTTPNotFound(text='{"error": "no such entry"}',
                                   content_type="application/json")
        return web.json_response({"leaf_index": row[0], "entry": row[1].hex()})

    async def receipt(request: web.Request) -> web.Response:
        raw = await call(node.receipt, _hex(request.match_info["entry_hash"], 32))
        if raw is None:
            raise web.HTTPNotFound(text='{"error": "no receipt"}',
                                   content_type="application/json")
        return web.json_response({"receipt": raw.hex()})

    def checkpoint_view(tree_size: int | None) -> dict | None:
        raw = (node.storage.checkpoint_at(tree_size) if tree_size is not None
               else node.latest_checkpoint())
        if raw is None:
            return None
        size = Checkpoint.decode(raw).tree_size
        return {"checkpoint": raw.hex(), "tree_size": size,
                "cosignatures": [{"peer_key": key.hex(), "signature": signature.hex()}
                                 for key, signature in node.storage.cosignatures(size)]}

    async def checkpoint(request: web.Request) -> web.Response:
        size = _int(request, "tree_size") if "tree_size" in request.query else None
        view = await call(checkpoint_view, size)
        if view is None:
            raise web.HTTPNotFound(text='{"error": "no checkpoint"}',
                                   content_type="application/json")
        return web.json_response(view)

    def proof(kind: str, first: int, second: int) -> list[bytes]:
        if kind == "inclusion":
            return node.tree.inclusion_proof(first, second)
        return node.tree.consistency_proof(first, second)

    async def inclusion(request: web.Request) -> web.Response:
        index, size = _int(request, "leaf_index"), _int(request, "tree_size")
        try:
            path = await call(proof, "inclusion", index, size)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return web.json_response({"leaf_index": index, "tree_size": size,
                                  "path": [value.hex() for value in path]})

    async def consistency(request: web.Request) -> web.Response:
        old, new = _int(request, "old_size"), _int(request, "new_size")
        try:
            path = await call(proof, "consistency", old, new)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return web.json_response({"old_size": old, "new_size": new,
                                  "path": [value.hex() for value in path]})

    async def group(request: web.Request) -> web.Response:
        state = await call(node.group_state, _hex(request.match_info["group_id"]))
        if state is None:
            raise web.HTTPNotFound(text='{"error": "unknown group"}',
                                   content_type="application/json")
        return web.json_response(state)

    async def did(request: web.Request) -> web.Response:
        try:
            state = await call(node.resolve, request.match_info["did"])
        except DIDError as exc:
            raise BadRequest(str(exc)) from None
        if state is None:
            raise web.HTTPNotFound(text='{"error": "unknown did"}',
                                   content_type="application/json")
        return web.json_response(state)

    async def evidence(request: web.Request) -> web.Response:
        return web.json_response({"evidence": await call(node.evidence)})

    async def cosignature(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            size = int(body["tree_size"])
            peer_key = _hex(body["peer_key"], 32)
            signature = _hex(body["signature"], 64)
        except (ValueError, KeyError, TypeError):
            raise BadRequest("expected JSON {tree_size, peer_key, signature}") from None
        stored = await call(_store_cosignature, node, size, peer_key, signature)
        return web.json_response({"stored": stored}, status=200 if stored else 422)

    async def info(request: web.Request) -> web.Response:
        return web.json_response({"name": name, "node_key": node.public_key.hex(),
                                  "tree_size": node.tree.size})

    app.router.add_post("/v1/entries", submit)
    app.router.add_get("/v1/entries/{entry_hash}", entry)
    app.router.add_get("/v1/logs/{family}/{log_id}/{sequence}", log_entry)
    app.router.add_get("/v1/receipts/{entry_hash}", receipt)
    app.router.add_get("/v1/checkpoint", checkpoint)
    app.router.add_get("/v1/proofs/inclusion", inclusion)
    app.router.add_get("/v1/proofs/consistency", consistency)
    app.router.add_get("/v1/groups/{group_id}", group)
    app.router.add_get("/v1/dids/{did}", did)
    app.router.add_get("/v1/evidence", evidence)
    app.router.add_post("/v1/cosignatures", cosignature)
    app.router.add_get("/v1/info", info)

    async def on_startup(app: web.Application) -> None:
        batcher.start()

    async def on_cleanup(app: web.Application) -> None:
        await batcher.stop()
        executor.shutdown(wait=True)

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def _store_cosignature(node: LedgerNode, size: int, peer_key: bytes, signature: bytes) -> bool:
    """Keep a peer's cosignature of our checkpoint if it verifies."""
    raw = node.storage.checkpoint_at(size)
    if raw is None:
        return False
    try:
        Checkpoint.decode(raw).verify_cosignature(peer_key, signature)
    except LedgerError:
        return False
    node.storage.store_cosignature(size, peer_key, signature)
    return True


@web.middleware
async def _errors(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except (BadRequest, LedgerError, UnicodeDecodeError) as exc:
        return web.json_response({"error": str(exc) or type(exc).__name__}, status=400)
