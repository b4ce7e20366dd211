#!/bin/sh
# Idempotent setup for a fresh Debian 12 / Raspberry Pi OS machine.
#   - installs Mosquitto (and valgrind when asked) with apt when missing
#   - creates .venv and installs the pinned packages from requirements.txt
# A second run does no network work: the venv is stamped with the hash of
# requirements.txt and apt is only consulted when a command is missing.
set -eu
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
WANT_VALGRIND=${WANT_VALGRIND:-0}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_missing=""
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || apt_missing="$apt_missing mosquitto"
if [ "$WANT_VALGRIND" = 1 ]; then
    command -v valgrind >/dev/null 2>&1 || apt_missing="$apt_missing valgrind"
fi
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_missing="$apt_missing python3-venv"
if [ -n "$apt_missing" ]; then
    echo "setup: installing with apt:$apt_missing"
    as_root apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq $apt_missing
    # the Debian package starts a broker on port 1883; tests start their own
    if command -v systemctl >/dev/null 2>&1; then
        as_root systemctl disable --now mosquitto >/dev/null 2>&1 || true
    fi
fi

stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
    exit 0
fi
echo "setup: creating $VENV with pinned packages"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
"$VENV/bin/micropython" -c 'import sys; print("setup: micropython", sys.implementation.version)'
echo "$want" > "$stamp"
