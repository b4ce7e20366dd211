"""``python -m gateway --config gateway.toml``: run the gateway service (docs/gateway.md).

Exit codes: 0 after SIGTERM/SIGINT, 2 for a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from gateway import config as configuration
from gateway.service import Gateway


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--config", required=True, help="gateway TOML file")
    arguments = parser.parse_args(argv)
    try:
        settings = configuration.load(arguments.config)
    except configuration.ConfigError as exc:
        print("configuration error: %s" % exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=getattr(logging, str(settings.logging["level"]).upper(),
                                      logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(settings))
    return 0


async def _serve(settings) -> None:
    gateway = Gateway(settings)
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, gateway.stop)
    await gateway.run()


if __name__ == "__main__":
    sys.exit(main())
