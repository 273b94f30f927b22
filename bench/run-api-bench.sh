#!/usr/bin/env bash
# Local API fan-out benchmark against the real daemon on the simulator.
#   bench/run-api-bench.sh [CLIENTS] [STATE_HZ] [SECONDS]      (defaults: 1000 10 20)
# Starts the Release daemon with --simulate (state at STATE_HZ), runs bench/EdgeGateway.LoadTest against
# it (CLIENTS WebSocket clients subscribed to status_updates, plus emergency probes), prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${1:-1000}"; hz="${2:-10}"; seconds="${3:-20}"
interval=$(awk -v hz="$hz" 'BEGIN { printf "00:00:%09.6f", 1 / hz }')
port="${API_BENCH_PORT:-3102}"
data="$(mktemp -d)"
dotnet build src/EdgeGateway -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet build bench/EdgeGateway.LoadTest -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet src/EdgeGateway/bin/Release/net10.0/edge-gateway.dll --simulate --data-dir "$data" \
  --urls "http://127.0.0.1:$port" --Simulator:Address=127.66.0.2 --Simulator:CommandPort=18889 \
  --Drones:CommandPort=0 --Drones:StatePort=18890 --Simulator:StateInterval="$interval" \
  --LocalApi:Limits:MaxConnections=$((clients + 100)) --Logging:LogLevel:Default=Warning >"$data/gateway.log" 2>&1 &
gw=$!
trap 'kill $gw 2>/dev/null || true; wait $gw 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/api/drone/status" | grep -q '"connected":true' && break
  sleep 0.5
done
dotnet bench/EdgeGateway.LoadTest/bin/Release/net10.0/EdgeGateway.LoadTest.dll --url "http://127.0.0.1:$port" \
  --pid "$gw" --clients "$clients" --rate "$hz" --seconds "$seconds" --emergency
