#!/usr/bin/env bash
# A/B of the 1M-record drain (issue 12 item 4): the Upstream bench of an older commit (A) against this tree (B),
# alternating A B A B in one run on one machine, counting subscriber off. Prints one row per run with the bench
# process's CPU time per drained record (the metric: robust on a busy machine) beside the wall time.
# Usage: bench/run-drain-ab.sh [BASE_COMMIT (default main)] [ROUNDS (2)] [RECORDS (1000000)]
# Needs: mosquitto. Builds both benches in Release (A from `git archive` into a temp dir).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
base="${1:-main}"; rounds="${2:-2}"; records="${3:-1000000}"
a_dir="${A_DIR:-$(mktemp -d)}"
if [ ! -f "$a_dir/bench/EdgeGateway.Upstream.Bench/bin/Release/net10.0/EdgeGateway.Upstream.Bench.dll" ]; then
  git -C "$repo" archive "$base" | tar -x -C "$a_dir"
  dotnet build -c Release "$a_dir/bench/EdgeGateway.Upstream.Bench" -v q -nologo >/dev/null
fi
dotnet build -c Release "$repo/bench/EdgeGateway.Upstream.Bench" -v q -nologo >/dev/null
a="$a_dir/bench/EdgeGateway.Upstream.Bench/bin/Release/net10.0/EdgeGateway.Upstream.Bench.dll"
b="$repo/bench/EdgeGateway.Upstream.Bench/bin/Release/net10.0/EdgeGateway.Upstream.Bench.dll"
echo "A = $(git -C "$repo" rev-parse --short "$base"), B = $(git -C "$repo" rev-parse --short HEAD) + working tree; $records records"
echo "| run | drain wall (broker start -> all PUBACKed) | bench CPU-s | µs CPU per record | mosquitto CPU-s | load (1 min) before |"
echo "|---|---|---|---|---|---|"
for i in $(seq 1 "$rounds"); do
  for side in A B; do
    dll="$a"; [ "$side" = B ] && dll="$b"
    load="$(cut -d' ' -f1 /proc/loadavg)"
    out="$(dotnet "$dll" --only drain --records "$records" 2>/dev/null)"
    wall="$(grep -o 'broker start -> cursor at last sequence (all PUBACKed) | \*\*[0-9.]* s' <<<"$out" | grep -o '[0-9.]* s$')"
    cpu="$(grep -o 'bench process [0-9.]* s' <<<"$out" | grep -o '[0-9.]*')"
    mosq="$(grep -o 'mosquitto [0-9.]* s' <<<"$out" | grep -o '[0-9.]*')"
    per="$(awk -v c="$cpu" -v n="$records" 'BEGIN { printf "%.2f", c * 1e6 / n }')"
    echo "| $side$i | $wall | $cpu | $per | $mosq | $load |"
  done
done
