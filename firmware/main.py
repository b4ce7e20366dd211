"""Device entry point. An ESP32 runs it after boot.py; the unix port runs
``micropython -X heapsize=96K firmware/main.py [config.json]`` (or $GROUPKEY_CONFIG).

Prints ``{"event": "heap", ...}`` with the free heap after the imports. Without a
configuration file (a fresh board), or with ``"provision": true`` in it, the device runs
provisioning mode instead (app/provision.py) and reboots once it is configured. An error that ends
the runtime (a permanent broker refusal) is logged as ``fatal`` and reboots the board (the
unix board exits with code 77 for its harness to restart it).
"""

import gc
import sys

gc.collect()
_free_at_start = gc.mem_free()

import asyncio  # noqa: E402

from app import config as device_config  # noqa: E402
from app.logger import log  # noqa: E402
from app.runtime import Device  # noqa: E402
from board import Board  # noqa: E402


def config_path():
    """argv[1], else $GROUPKEY_CONFIG, else config.json."""
    if len(sys.argv) > 1:
        return sys.argv[1]
    import os

    return (os.getenv("GROUPKEY_CONFIG") if hasattr(os, "getenv") else None) or "config.json"


def _member_factory(config, board):
    """The member class the runtime builds: app.member.Member (it also gets the board:
    sensor reading, flash dir), or the runtime-only placeholder (``"member":
    "placeholder"``, runtime tests at 96K)."""
    if config.get("member") == "placeholder":
        from app.placeholder import PlaceholderMember

        return PlaceholderMember
    from app.member import Member

    def make(config, device_id, store, log):
        return Member(config, device_id, store, log, board)
    return make


def load_config(path):
    """(configuration, provisioning?): no configuration file yet, or ``"provision": true`` in
    it, means provisioning mode (app/provision.py, docs/provisioning.md)."""
    import json
    import os

    try:
        with open(path) as handle:
            handle.read(1)
    except OSError:
        try:  # a power cut between provisioning's remove and rename left only the .tmp
            os.rename(path + ".tmp", path)
            log("config_recovered", {"path": path})
        except OSError:
            log("no_config", {"path": path})
            return dict(device_config.DEFAULTS), True
    try:
        config = device_config.load(path)
    except device_config.ConfigError as exc:
        try:
            with open(path) as handle:
                raw = json.load(handle)  # a provisioning stub has no group yet
        except ValueError:
            raw = None
        if not isinstance(raw, dict):  # unreadable: provision again (identity is kept)
            log("bad_config", {"path": path, "reason": str(exc)})
            return dict(device_config.DEFAULTS), True
        if not raw.get("provision"):
            raise
        config = dict(device_config.DEFAULTS)
        config.update(raw)
    return config, bool(config.get("provision"))


def main():
    """Load the configuration and run the device until it stops."""
    path = config_path()
    config, provisioning = load_config(path)
    board = Board(config, log)
    gc.collect()
    log("heap", {"free_at_start": _free_at_start, "free_after_imports": gc.mem_free()})
    try:
        if provisioning:
            from app import provision

            asyncio.run(provision.run(board, config, path, log))
            return
        asyncio.run(Device(config, board, _member_factory(config, board), log).run())
    except Exception as exc:  # e.g. ConnectRefused: wrong credentials; retrying cannot help
        board.status("error")
        log("fatal", repr(exc))
        sys.print_exception(exc, sys.stderr)  # where it happened, for the board's console
        board.reboot()


main()
