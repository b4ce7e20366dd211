"""Device configuration: a JSON file (``config.json`` on the board's flash) with defaults.

Keys (defaults in DEFAULTS): ``group_id`` (required), ``device_id`` (else the board's),
``broker_host``, ``broker_port``, ``mqtt_password`` (the broker's per-device password),
``keepalive_s``, ``heartbeat_s``, ``watchdog_ms``, ``inbox_capacity``, ``receive_buffer``
(bytes of the MQTT receive buffer made at boot; larger packets get their own), ``run_seconds``
(0 = forever; emulation and tests stop the device cleanly after that long), ``flash_dir``,
``network_delay_ms`` (unix board), ``wifi_ssid``/``wifi_password``, ``led_pin``,
``button_pin`` (ESP32 board).

Provisioning mode (app/provision.py, docs/provisioning.md): ``provision`` (true: get the
configuration over BLE, then reboot; also the mode of a board with no configuration file),
``provision_port`` (unix board: the TCP port of its loopback stand-in for the radio),
``provision_linger_ms`` (how long the ACK stays readable before the reboot, default 2000).

Group member (app/member.py, docs/e2e.md): ``ledger_keys`` (hex Ed25519 keys of the genesis
ledger nodes: the only keys the device trusts), ``ledger_threshold`` (t), ``founder`` (true on
exactly one device of a new group), ``retry_s`` (request retry interval), ``reading_s``
(encrypted sensor reading interval, 0 = off), ``heap_probe`` (collect before each heap sample
during a rekey, for measurements).
"""

import json

DEFAULTS = {
    "broker_host": "127.0.0.1",
    "broker_port": 1883,
    "mqtt_password": None,
    "keepalive_s": 30,
    "heartbeat_s": 60,
    "watchdog_ms": 8000,
    "inbox_capacity": 8,
    "receive_buffer": 4096,
    "run_seconds": 0,
    "backoff_min_ms": 250,
    "backoff_max_ms": 30000,
    "ledger_keys": [],
    "ledger_threshold": 2,
    "founder": False,
    "retry_s": 5,
    "reading_s": 5,
    "heap_probe": False,
}

REQUIRED = ("group_id",)


class ConfigError(Exception):
    """The configuration file is missing, not JSON, or lacks a required key."""


def load(path):
    """The configuration at ``path`` merged over DEFAULTS."""
    try:
        with open(path) as handle:
            loaded = json.load(handle)
    except OSError:
        raise ConfigError("cannot read configuration %s" % path)
    except ValueError:
        raise ConfigError("configuration %s is not JSON" % path)
    return merge(loaded)


def merge(loaded):
    """DEFAULTS updated with ``loaded``; raises ConfigError when a required key is missing."""
    if not isinstance(loaded, dict):
        raise ConfigError("configuration must be a JSON object")
    config = dict(DEFAULTS)
    config.update(loaded)
    for key in REQUIRED:
        if not config.get(key):
            raise ConfigError("configuration lacks %r" % key)
    keys = config.get("ledger_keys") or []
    threshold = config.get("ledger_threshold")
    if keys and not (isinstance(threshold, int) and len(keys) < 2 * threshold
                     and threshold <= len(keys)):
        # two quorums of t among n nodes share an honest node only if 2t > n; with fewer,
        # a gateway can finalize two different epochs with disjoint sets of honest nodes
        raise ConfigError("ledger_threshold must be more than half of ledger_keys and at most "
                          "their number")
    return config
