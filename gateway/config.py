"""Gateway configuration: a TOML file read with tomllib (docs/gateway.md, "Configuration").

    [mqtt]     host, port, username, password (or password_file), keepalive
    [ledger]   urls (every ledger node), threshold (receipts required; the genesis wins once
               known), timeout_s
    [groups]   names (topic level = group id bytes in UTF-8)
    [timing]   batch_window_ms (longest wait of a batch), batch_quiet_ms (a batch starts
               when no request arrived for this long), presence_grace_s, sponsor_timeout_s,
               retry_delay_s, catchup_window (epochs kept in memory for catch-up),
               stuck_catchups and stuck_after_s (a member asking that often, that long, from
               one epoch is removed)
    [rounds]   joiner_sponsors (false: never batch joins so that a joiner must sponsor),
               max_requests (per transition: bounds the sponsors a round waits for)
    [logging]  level, events (JSON event lines on stdout)
"""

from __future__ import annotations

import tomllib
from pathlib import Path

DEFAULTS = {
    "mqtt": {"host": "127.0.0.1", "port": 1883, "username": "gateway", "password": "",
             "password_file": "", "keepalive": 30},
    "ledger": {"urls": [], "threshold": 2, "timeout_s": 10.0},
    "groups": {"names": []},
    "timing": {"batch_window_ms": 200, "batch_quiet_ms": 20, "presence_grace_s": 60.0,
               "sponsor_timeout_s": 20.0, "retry_delay_s": 1.0, "catchup_window": 256,
               "stuck_catchups": 5, "stuck_after_s": 10.0},
    "rounds": {"joiner_sponsors": True, "max_requests": 6},
    "logging": {"level": "INFO", "events": True},
}


class ConfigError(ValueError):
    """The configuration file is missing, not TOML, or has an unusable value."""


class Settings:
    """Sections of the TOML file merged over DEFAULTS, as attributes (settings.mqtt["host"])."""

    def __init__(self, data: dict):
        for section, defaults in DEFAULTS.items():
            merged = dict(defaults)
            merged.update(data.get(section, {}))
            setattr(self, section, merged)
        if not self.ledger["urls"]:
            raise ConfigError("[ledger] urls must name at least one ledger node")
        if not self.groups["names"]:
            raise ConfigError("[groups] names must name at least one group")
        for name in self.groups["names"]:
            if not name or any(character in name for character in "/+#") or len(
                    name.encode()) > 64:
                raise ConfigError("group name %r is not a valid topic level / group id" % name)
        if self.mqtt["password_file"] and not self.mqtt["password"]:
            self.mqtt["password"] = Path(self.mqtt["password_file"]).read_text().strip()


def load(path: str | Path) -> Settings:
    """Read and check the gateway configuration at ``path``."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError("cannot read %s: %s" % (path, exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("%s is not valid TOML: %s" % (path, exc)) from None
    return Settings(data)
