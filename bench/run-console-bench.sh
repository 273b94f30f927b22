#!/usr/bin/env bash
# Field console benchmark: the page in headless Chromium against the Release daemon's simulator at 50 Hz state,
# on the charts view, for 60 s; prints one table (main-thread busy %, long tasks, JS heap growth, first live value).
# Usage: bench/run-console-bench.sh [--seconds N] [--state-ms MS] [--view charts|overview|sensors]
set -euo pipefail
cd "$(dirname "$0")/.."

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "dotnet: $(dotnet --version); chromium: $( (/usr/lib/chromium/chromium --version || chromium --version) 2>/dev/null | head -1)" >&2

dotnet build bench/EdgeGateway.Console.Bench -c Release -nologo -v quiet >&2
dotnet build src/EdgeGateway -c Release -nologo -v quiet >&2

dotnet bench/EdgeGateway.Console.Bench/bin/Release/net10.0/EdgeGateway.Console.Bench.dll \
  --daemon src/EdgeGateway/bin/Release/net10.0/edge-gateway.dll "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
