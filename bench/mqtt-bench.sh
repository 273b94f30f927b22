#!/usr/bin/env bash
# Side-by-side QoS 1 benchmark: EdgeGateway.Mqtt vs libmosquitto (reference harness), same broker, interleaved.
# Needs: mosquitto, libmosquitto-dev, gcc (apt-get install -y mosquitto libmosquitto-dev gcc).
# Usage: bench/mqtt-bench.sh [--n 100000] [--reps 5] [--windows 1,20,100] [--sizes 64,1024]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
src="${BENCH_MOSQ_C:-$repo/../shared/bench/bench_mosq.c}"
if [ ! -f "$src" ]; then
  echo "bench_mosq.c not found at $src (set BENCH_MOSQ_C)" >&2
  exit 2
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The binary lives only in the temp dir; it is never committed.
gcc -O2 "$src" -o "$tmp/bench_mosq" -lmosquitto -lpthread
mosquitto -h 2>/dev/null | head -1 || true
dpkg -l libmosquitto1 2>/dev/null | tail -1 || true
dotnet --version
dotnet run -c Release --project "$repo/bench/EdgeGateway.Mqtt.Bench" -- --mosq "$tmp/bench_mosq" "$@"
