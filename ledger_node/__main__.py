"""Command line of a ledger node: ``python -m ledger_node {init,serve,verify,export}``.

    init   --dir DIR --name NAME --port PORT [--peer URL ...]   key, config, empty database
    serve  --config FILE                                        run the HTTP API (+ cosigning)
    verify --config FILE                                        re-check the database offline
    export --config FILE [--out FILE]                           entries/checkpoints as JSON lines
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from ledger_node import config as configuration

log = logging.getLogger("ledger_node")


def command_init(arguments) -> int:
    from groupkey.crypto import ed25519, rng

    directory = Path(arguments.dir)
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / ("%s.toml" % arguments.name)
    if config_path.exists():
        print("refusing to overwrite %s" % config_path, file=sys.stderr)
        return 1
    seed = rng.random_bytes(32)
    configuration.write_key(directory / ("%s.key" % arguments.name), seed)
    config_path.write_text(configuration.render(arguments.name, arguments.port,
                                                arguments.peer or []))
    from ledger_node.storage import Storage

    Storage(directory / ("%s.db" % arguments.name)).close()
    print(json.dumps({"config": str(config_path),
                      "node_key": ed25519.public_key(seed).hex()}))
    return 0


def _open(config):
    from ledger_node.node import LedgerNode

    return LedgerNode(config.database, config.seed(), synchronous=config.synchronous)


def command_serve(arguments) -> int:
    config = configuration.load(arguments.config)
    node = _open(config)
    from ledger_node.api import build_app

    app = build_app(node, config.batch_max, config.name)
    asyncio.run(_serve(app, node, config))
    node.close()
    return 0


async def _serve(app: web.Application, node, config) -> None:
    from ledger_node.peers import cosign_loop

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    log.info("node %s (%s) listening on %s:%d", config.name, node.public_key[:6].hex(),
             config.host, config.port)
    print(json.dumps({"listening": config.port, "node_key": node.public_key.hex()}),
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    from ledger_node.api import EXECUTOR

    executor = app[EXECUTOR]

    async def call(function, *args):
        return await loop.run_in_executor(executor, function, *args)

    cosigning = None
    if config.peers:
        cosigning = loop.create_task(cosign_loop(node, config.peers, config.cosign_interval,
                                                 call))
    await stop.wait()
    if cosigning is not None:
        cosigning.cancel()
    await runner.cleanup()


def command_verify(arguments) -> int:
    """Replay every entry with full validation (signatures included), rebuild the tree and
    check every stored checkpoint's signature and root."""
    from groupkey.ledger.errors import LedgerError
    from groupkey.ledger.receipt import Checkpoint
    from ledger_node import validation
    from ledger_node.merkle_tree import MerkleTree
    from ledger_node.state import LedgerState
    from ledger_node.storage import Storage

    config = configuration.load(arguments.config)
    storage = Storage(config.database)
    state = LedgerState()
    tree = MerkleTree()
    problems = []
    for leaf_index, entry_hash, raw in storage.iter_entries():
        decision = validation.validate(state, raw)
        if decision.outcome != validation.ACCEPTED or decision.entry_hash != entry_hash:
            problems.append("entry %d: %s %s" % (leaf_index, decision.outcome,
                                                 decision.reason))
            break
        state.apply(decision.change)
        tree.append_leaf_hash(entry_hash)
    checkpoints = 0
    for (raw,) in storage.connection.execute("SELECT raw FROM checkpoints"):
        checkpoint = Checkpoint.decode(raw)
        try:
            checkpoint.verify()
        except LedgerError:
            problems.append("checkpoint %d: bad signature" % checkpoint.tree_size)
            continue
        if checkpoint.tree_size > tree.size or tree.root(checkpoint.tree_size) != \
                checkpoint.root:
            problems.append("checkpoint %d: root does not match entries" %
                            checkpoint.tree_size)
        checkpoints += 1
    storage.close()
    print(json.dumps({"entries": tree.size, "checkpoints": checkpoints,
                      "root": tree.root().hex(), "ok": not problems, "problems": problems}))
    return 0 if not problems else 2


def command_export(arguments) -> int:
    from ledger_node.storage import Storage

    config = configuration.load(arguments.config)
    storage = Storage(config.database)
    output = open(arguments.out, "w") if arguments.out else sys.stdout  # noqa: SIM115
    try:
        for leaf_index, entry_hash, raw in storage.iter_entries():
            output.write(json.dumps({"type": "entry", "leaf_index": leaf_index,
                                     "entry_hash": entry_hash.hex(), "entry": raw.hex()}) + "\n")
        for size, raw in storage.connection.execute(
                "SELECT tree_size, raw FROM checkpoints ORDER BY tree_size"):
            output.write(json.dumps({"type": "checkpoint", "tree_size": size,
                                     "checkpoint": raw.hex()}) + "\n")
        for item in storage.evidence():
            output.write(json.dumps({"type": "evidence", "sequence": item[2],
                                     "log_id": item[1].hex(), "entry": item[4].hex()}) + "\n")
    finally:
        if output is not sys.stdout:
            output.close()
        storage.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger_node", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create key, config and database")
    init.add_argument("--dir", required=True)
    init.add_argument("--name", required=True)
    init.add_argument("--port", type=int, required=True)
    init.add_argument("--peer", action="append", help="peer node URL (repeatable)")
    for name, text in [("serve", "run the node"), ("verify", "re-check the database"),
                       ("export", "dump entries and checkpoints as JSON lines")]:
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--config", required=True)
        if name == "export":
            sub.add_argument("--out")
    arguments = parser.parse_args(argv)
    level = "INFO"
    if getattr(arguments, "config", None):
        level = configuration.load(arguments.config).log_level
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    handlers = {"init": command_init, "serve": command_serve, "verify": command_verify,
                "export": command_export}
    return handlers[arguments.command](arguments)


if __name__ == "__main__":
    sys.exit(main())
