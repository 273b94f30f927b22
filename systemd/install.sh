#!/usr/bin/env bash
# Installs a published EdgeGateway release on this machine (run as root from the unpacked release folder).
# Layout as the Debian package's (./publish.sh --deb), so a later package install takes over: binary in
# /usr/lib/edge-gateway, config in /etc/edge-gateway, data in /var/lib/edge-gateway. Prefer the package where dpkg exists.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo $0)" >&2
  exit 1
fi
id edge-gateway >/dev/null 2>&1 || useradd --system --home-dir /var/lib/edge-gateway --shell /usr/sbin/nologin edge-gateway
for g in dialout i2c; do
  if getent group "$g" >/dev/null; then usermod -aG "$g" edge-gateway; fi
done
install -d -m 0755 /usr/lib/edge-gateway /usr/share/doc/edge-gateway
install -m 0755 "$here/edge-gateway" /usr/lib/edge-gateway/edge-gateway
for f in "$here"/*.so; do [ -e "$f" ] && install -m 0644 "$f" /usr/lib/edge-gateway/; done
[ -f "$here/README.md" ] && install -m 0644 "$here/README.md" /usr/share/doc/edge-gateway/README.md
install -d -m 0750 -o root -g edge-gateway /etc/edge-gateway
if [ ! -f /etc/edge-gateway/appsettings.json ]; then
  install -m 0640 -o root -g edge-gateway "$here/appsettings.json" /etc/edge-gateway/appsettings.json
else
  echo "install.sh: keeping the existing /etc/edge-gateway/appsettings.json (new defaults in $here/appsettings.json)"
fi
install -d -m 0700 -o edge-gateway -g edge-gateway /var/lib/edge-gateway
# The unit loads the local API's token file with LoadCredential=: create one admin token, never printed.
install -d -m 0700 /etc/edge-gateway/credentials
if [ ! -e /etc/edge-gateway/credentials/local-api-tokens ]; then
  (umask 077; printf 'field-admin admin %s\n' "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" > /etc/edge-gateway/credentials/local-api-tokens)
  echo "install.sh: an admin token for the local API is in /etc/edge-gateway/credentials/local-api-tokens (root only)"
fi
install -m 0644 "$here/edge-gateway.service" /etc/systemd/system/edge-gateway.service
# Only the ahead-of-time build runs with MemoryDenyWriteExecute=yes; a JIT build writes code at run time.
if [ -f "$here/jit.conf" ]; then
  install -d -m 0755 /etc/systemd/system/edge-gateway.service.d
  install -m 0644 "$here/jit.conf" /etc/systemd/system/edge-gateway.service.d/jit.conf
fi
systemctl daemon-reload
systemctl enable --now edge-gateway.service
systemctl --no-pager status edge-gateway.service || true
