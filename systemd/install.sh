#!/usr/bin/env bash
# Installs a published EdgeGateway release on this machine (run as root from the unpacked release folder).
# Layout: binary in /opt/edge-gateway, config in /etc/edge-gateway, data in /var/lib/edge-gateway.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo $0)" >&2
  exit 1
fi
id edge-gateway >/dev/null 2>&1 || useradd --system --home-dir /var/lib/edge-gateway --shell /usr/sbin/nologin edge-gateway
getent group dialout >/dev/null && usermod -aG dialout edge-gateway
install -d -m 0755 /opt/edge-gateway
install -m 0755 "$here/edge-gateway" /opt/edge-gateway/edge-gateway
for f in "$here"/*.so; do [ -e "$f" ] && install -m 0644 "$f" /opt/edge-gateway/; done
[ -f "$here/README.md" ] && install -m 0644 "$here/README.md" /opt/edge-gateway/README.md
install -d -m 0750 -o root -g edge-gateway /etc/edge-gateway
if [ ! -f /etc/edge-gateway/appsettings.json ]; then
  install -m 0640 -o root -g edge-gateway "$here/appsettings.json" /etc/edge-gateway/appsettings.json
else
  echo "install.sh: keeping the existing /etc/edge-gateway/appsettings.json (new defaults in $here/appsettings.json)"
fi
install -d -m 0700 -o edge-gateway -g edge-gateway /var/lib/edge-gateway
install -m 0644 "$here/edge-gateway.service" /etc/systemd/system/edge-gateway.service
systemctl daemon-reload
systemctl enable --now edge-gateway.service
systemctl --no-pager status edge-gateway.service || true
