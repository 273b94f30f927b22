#!/usr/bin/env bash
# Drone-link benchmarks: builds Release, then runs state/reply parsing, command round trip
# (link vs raw UDP against the simulator) and daemon start to READY=1; prints one table.
# Usage: bench/run-drone-bench.sh [--quick] [--only parse|roundtrip|startup] [--runs N] [--sim-address IP] [--binary PATH]
# --binary PATH: time a published edge-gateway (NativeAOT, ReadyToRun) instead of the JIT build's edge-gateway.dll;
# the startup rows then also show its size. Idle RSS is read 3 s after READY=1 either way.
set -euo pipefail
cd "$(dirname "$0")/.."

daemon=src/EdgeGateway/bin/Release/net10.0/edge-gateway.dll
args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --binary) daemon="${2:?--binary needs a path}"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "dotnet: $(dotnet --version)" >&2

dotnet build bench/EdgeGateway.Bench -c Release -nologo -v quiet >&2
if [[ "$daemon" == *.dll ]]; then
  dotnet build src/EdgeGateway -c Release -nologo -v quiet >&2
fi

dotnet bench/EdgeGateway.Bench/bin/Release/net10.0/EdgeGateway.Bench.dll \
  --daemon "$daemon" "${args[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
