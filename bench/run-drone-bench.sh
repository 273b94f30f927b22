#!/usr/bin/env bash
# Drone-link benchmarks: builds Release, then runs state/reply parsing, command round trip
# (link vs raw UDP against the simulator) and daemon start to READY=1; prints one table.
# Usage: bench/run-drone-bench.sh [--quick] [--only parse|roundtrip|startup] [--runs N] [--sim-address IP]
set -euo pipefail
cd "$(dirname "$0")/.."

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "dotnet: $(dotnet --version)" >&2

dotnet build bench/EdgeGateway.Bench -c Release -nologo -v quiet >&2
dotnet build src/EdgeGateway -c Release -nologo -v quiet >&2

dotnet bench/EdgeGateway.Bench/bin/Release/net10.0/EdgeGateway.Bench.dll \
  --daemon src/EdgeGateway/bin/Release/net10.0/edge-gateway.dll "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
