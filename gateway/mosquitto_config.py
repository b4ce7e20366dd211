"""Generate the Mosquitto configuration for a fleet: per-device credentials and ACLs.

Topic layout: docs/firmware.md ("Topic layout"). The ACL lets a device publish only on topics
that end in its own user name (``%u`` patterns) and read only its own responses, the epoch
announcements and the group's (encrypted) messages; ``use_username_as_clientid`` makes the
client id equal the user name, so one device cannot take over another's session (connecting
with its client id would disconnect it). The gateway's user may read and write all of gk/;
the operator's user (optional) reads and writes gk/<group>/admin/# and reads the epochs.

    files = write_broker_files(directory, port=1883,
                               devices={"dev-a": "secret-a"}, gateway=("gateway", "secret-g"))
    # -> mosquitto.conf, passwords (hashed by mosquitto_passwd -U), acl

Device ids become MQTT user names and topic levels, so they are restricted to letters,
digits and ``-_.:`` (``did:key`` identifiers fit), at most 128 characters.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

DEVICE_ID_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
MAX_DEVICE_ID = 128

DEVICE_ACL = """\
# Devices (every user): publish only as yourself, read your own responses, the epoch
# announcements and the group's encrypted messages.
pattern write gk/+/presence/%u
pattern write gk/+/req/%u
pattern write gk/+/msg/%u
pattern read gk/+/resp/%u
pattern read gk/+/epoch
pattern read gk/+/msg/+
"""


class ConfigError(ValueError):
    """A device id or password cannot be used safely in the broker configuration."""


def check_device_id(device_id: str) -> str:
    """Return ``device_id`` if it is safe as a user name and a topic level, else raise."""
    if not device_id or len(device_id) > MAX_DEVICE_ID:
        raise ConfigError("device id must have 1..%d characters" % MAX_DEVICE_ID)
    if not set(device_id) <= DEVICE_ID_CHARACTERS:
        raise ConfigError("device id %r has characters outside [A-Za-z0-9-_.:]" % device_id)
    return device_id


def acl_text(gateway_user: str, operator_user: str | None = None) -> str:
    """The ACL file: device patterns, full access to gk/# for the gateway, and for the
    operator (admin key holder, docs/e2e.md) the admin topics and the epoch announcements."""
    check_device_id(gateway_user)
    text = DEVICE_ACL + (
        "\n# The gateway relays and orders everything.\nuser %s\ntopic readwrite gk/#\n"
        % gateway_user)
    if operator_user is not None:
        check_device_id(operator_user)
        text += ("\n# The operator: offers in, genesis entries and invitations out.\n"
                 "user %s\ntopic readwrite gk/+/admin/#\ntopic read gk/+/epoch\n"
                 % operator_user)
    return text


def password_text(credentials: dict[str, str]) -> str:
    """``user:password`` lines in plain text; ``mosquitto_passwd -U`` hashes them in place."""
    lines = []
    for user, secret in credentials.items():
        check_device_id(user)
        if not secret or "\n" in secret:
            raise ConfigError("password for %s must be one non-empty line" % user)
        lines.append("%s:%s\n" % (user, secret))
    return "".join(lines)


def broker_text(port: int, password_file: Path, acl_file: Path, bind: str = "127.0.0.1",
                log_file: Path | None = None) -> str:
    """mosquitto.conf for one listener with authentication and the ACL."""
    lines = [
        "listener %d %s" % (port, bind),
        "allow_anonymous false",
        "password_file %s" % password_file,
        "acl_file %s" % acl_file,
        "use_username_as_clientid true",
        "persistence false",
        # no Nagle on client sockets: a PUBLISH forwarded right after a PUBACK to the same
        # client must not wait for that client's delayed ACK (tens of ms per round trip)
        "set_tcp_nodelay true",
    ]
    if log_file is not None:
        lines += ["log_dest file %s" % log_file, "log_type all", "connection_messages true"]
    return "\n".join(lines) + "\n"


def mosquitto_passwd_binary() -> str:
    """Path of mosquitto_passwd (Debian package mosquitto)."""
    for candidate in ("mosquitto_passwd", "/usr/bin/mosquitto_passwd",
                      "/usr/sbin/mosquitto_passwd"):
        found = shutil.which(candidate)
        if found:
            return found
    raise FileNotFoundError("mosquitto_passwd not found (apt install mosquitto)")


def write_broker_files(directory: Path, port: int, devices: dict[str, str],
                       gateway: tuple[str, str], bind: str = "127.0.0.1",
                       extra_lines: tuple[str, ...] = (),
                       operator: tuple[str, str] | None = None) -> dict[str, Path]:
    """Write mosquitto.conf, passwords (hashed) and acl into ``directory``; return paths.
    ``gateway`` and ``operator`` are (user, password)."""
    gateway_user, gateway_secret = gateway
    services = {gateway_user: gateway_secret}
    if operator is not None:
        services[operator[0]] = operator[1]
    if set(services) & set(devices) or len(services) < 1 + (operator is not None):
        raise ConfigError("gateway, operator and device user names must all differ")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"config": directory / "mosquitto.conf", "passwords": directory / "passwords",
             "acl": directory / "acl", "log": directory / "mosquitto.log"}
    paths["passwords"].write_text(password_text({**devices, **services}))
    os.chmod(paths["passwords"], 0o600)
    subprocess.run([mosquitto_passwd_binary(), "-U", str(paths["passwords"])], check=True,
                   capture_output=True)
    paths["acl"].write_text(acl_text(gateway_user, operator[0] if operator else None))
    os.chmod(paths["acl"], 0o600)
    text = broker_text(port, paths["passwords"], paths["acl"], bind, paths["log"])
    paths["config"].write_text(text + "".join(line + "\n" for line in extra_lines))
    return paths
