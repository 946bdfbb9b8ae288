#!/usr/bin/env bash
# Installs everything Filament and its tests need on a fresh Debian 12 machine (as root):
# the Debian packages in scripts/apt-packages.txt and a virtualenv in .venv with the project.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

want=$(grep -vE '^\s*(#|$)' scripts/apt-packages.txt | tr '\n' ' ')
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Package scripts must not start daemons (libvirtd, frr, ...): tests start their own.
    # Without systemd, invoke-rc.d would; a temporary policy-rc.d says no.
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

py=${FILAMENT_PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
fi
stamp=.venv/.filament-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing Python packages into .venv"
    .venv/bin/pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    .venv/bin/pip install -q --disable-pip-version-check -e ".[test,virsh]"
    touch "$stamp"
fi
echo "setup: ready ($root/.venv)"
