#!/usr/bin/env bash
# Upstream benchmarks (issue 5): drain of a 1M-record backlog to Mosquitto, and intake -> subscriber latency.
# Needs: mosquitto (apt-get install -y mosquitto mosquitto-clients).
# Usage: bench/run-upstream-bench.sh [--only drain|latency] [--records 1000000] [--count] [--window 1000] [--batch 200]
#        [--mqtt-inflight 100] [--rate 1000] [--seconds 20] [--warmup 2] [--payload 200]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
mosquitto -h 2>/dev/null | head -1 || true
dotnet --version
echo "uptime at start: $(uptime)"
dotnet build -c Release "$repo/bench/EdgeGateway.Upstream.Bench" -v q -nologo
dotnet run -c Release --no-build --project "$repo/bench/EdgeGateway.Upstream.Bench" -- "$@"
echo "uptime at end: $(uptime)"
