#!/usr/bin/env bash
# Soak run: the daemon on its simulator (Release build) with an MQTT sink to a local Mosquitto (through a fault
# proxy) and a relay sink to samples/RelayReceiver, WebSocket clients on the local API, and a seeded schedule of
# faults; then it drains, reconciles every committed record against both consumers and prints one table.
# Exits non-zero when a must-be-zero figure is not. The work is in bench/EdgeGateway.Soak; see docs/reliability.md.
#
#   ./scripts/soak.sh 30                  # 30 minutes of faults, 200 clients, a random seed (printed)
#   EDGEGW_SOAK_SEED=1234 ./scripts/soak.sh 30   # replay that seed's fault schedule
#   ./scripts/soak.sh 5 --clients 50 --fault-every 15
#
# Root is needed for the small filesystem (a 64 MiB tmpfs under the data directory); without it the run says so and
# falls back to the byte budget only. Needs mosquitto and mosquitto_sub (apt-get install -y mosquitto mosquitto-clients).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes="${1:-}"
if ! [[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "usage: $0 MINUTES [--clients N] [--fault-every SECONDS] [--seed S] [--work DIR]" >&2
  exit 2
fi
shift

for cmd in mosquitto mosquitto_sub; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
    echo "soak.sh: $cmd is missing: apt-get install -y mosquitto mosquitto-clients" >&2
    exit 3
  fi
done
export PATH="$PATH:/usr/sbin"

dotnet build bench/EdgeGateway.Soak -c Release -nologo -clp:ErrorsOnly
exec dotnet bench/EdgeGateway.Soak/bin/Release/net10.0/EdgeGateway.Soak.dll --minutes "$minutes" "$@"
