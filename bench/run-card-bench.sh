#!/usr/bin/env bash
# The design card's packages against the project's own parts, one run, one table (docs/benchmarks.md,
# README "Dependencies"): MQTTnet vs EdgeGateway.Mqtt vs libmosquitto, LiteDB vs the SQLite buffer,
# System.IO.Ports vs SerialPortStream.
# Needs: mosquitto, libmosquitto-dev, gcc, strace (apt-get install -y mosquitto libmosquitto-dev gcc strace).
# Usage: bench/run-card-bench.sh [--only mqtt,buffer,serial] [--n 50000] [--reps 3] [--windows 20,100]
#          [--append 200000] [--records 1000000] [--rounds 10] [--strace-records 100000] [--serial-seconds 10] [--seed N]
# Default run: about 10 minutes on a 2-core machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
src="${BENCH_MOSQ_C:-$repo/../shared/bench/bench_mosq.c}"
# The peers it measures against: installed here when root (Debian), otherwise the exact command.
missing=()
for entry in mosquitto:mosquitto gcc:gcc strace:strace /usr/include/mosquitto.h:libmosquitto-dev; do
  what="${entry%%:*}"; pkg="${entry##*:}"
  if [[ "$what" == /* ]]; then [ -e "$what" ] || missing+=("$pkg")
  elif ! command -v "$what" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$what" ]; then missing+=("$pkg"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run-card-bench.sh: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "run-card-bench.sh: needs ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 3
  fi
fi
export PATH="$PATH:/usr/sbin"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mosq=()
if [ -f "$src" ] && gcc -O2 "$src" -o "$tmp/bench_mosq" -lmosquitto -lpthread; then
  # The reference binary lives only in the temp dir; it is never committed (same harness as bench/mqtt-bench.sh).
  mosq=(--mosq "$tmp/bench_mosq")
else
  echo "bench_mosq.c not found at $src or not buildable (set BENCH_MOSQ_C): the libmosquitto column stays empty" >&2
fi
dotnet --version
dpkg-query -W -f '${Package} ${Version}\n' mosquitto libmosquitto1 strace 2>/dev/null || true
uptime
dotnet build -c Release -clp:ErrorsOnly "$repo/bench/EdgeGateway.CardBench" >/dev/null
"$repo/bench/EdgeGateway.CardBench/bin/Release/net10.0/EdgeGateway.CardBench" "${mosq[@]}" "$@"
uptime
