#!/usr/bin/env bash
# Runs ./scripts/test.sh N times while stress-ng keeps two cores busy, so a test that passes only on an idle
# machine fails here rather than on a shared CI runner. One line per run, then a summary; exits non-zero if
# any run failed. Each run's full output is kept in artifacts/test-under-load/ (git-ignored).
#
#   ./scripts/test-under-load.sh 10
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 N   (runs ./scripts/test.sh N times under stress-ng --cpu 2)" >&2
  exit 2
fi

if ! command -v stress-ng >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-under-load.sh: installing stress-ng"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq stress-ng >/dev/null
  else
    echo "test-under-load.sh: the load comes from stress-ng (Debian package stress-ng)" >&2
    echo "test-under-load.sh: run this as root, then run this script again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y stress-ng" >&2
    exit 3
  fi
fi

logs="artifacts/test-under-load/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$logs"

# stress-ng leads its own process group (setsid), so one kill reaches it and every worker it forked,
# however this script ends (success, failure, Ctrl-C).
stress_pid=""
stop_stress() {
  if [ -n "$stress_pid" ]; then
    kill -TERM -- "-$stress_pid" 2>/dev/null || true
    wait "$stress_pid" 2>/dev/null || true
    stress_pid=""
  fi
}
trap stop_stress EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setsid stress-ng --cpu 2 --quiet >"$logs/stress-ng.log" 2>&1 &
stress_pid=$!
sleep 1
if ! kill -0 "$stress_pid" 2>/dev/null; then
  echo "test-under-load.sh: stress-ng did not start; see $logs/stress-ng.log" >&2
  exit 3
fi
echo "test-under-load.sh: $runs run(s) of ./scripts/test.sh under stress-ng --cpu 2 ($(nproc) cores); logs in $logs"

failed_runs=0
total_seconds=0
for ((run = 1; run <= runs; run++)); do
  log="$logs/run-$run.log"
  started=$(date +%s)
  status=0
  ./scripts/test.sh >"$log" 2>&1 || status=$?
  seconds=$(($(date +%s) - started))
  total_seconds=$((total_seconds + seconds))
  # test.sh ends with "N passed, N failed, N skipped"; a run that stopped earlier (build error, missing peer) has none.
  counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1 || true)
  load=$(cut -d' ' -f1 /proc/loadavg)
  if [ "$status" -eq 0 ]; then
    echo "run $run/$runs: ${counts:-no summary}, ${seconds} s, load ${load}: ok"
  else
    failed_runs=$((failed_runs + 1))
    echo "run $run/$runs: ${counts:-no summary}, ${seconds} s, load ${load}: FAILED (exit $status, $log)"
    # The names of the failed tests, as dotnet test prints them, and of a test whose host was killed or
    # crashed (not counted in the summary line: its assembly's run was aborted).
    grep -E '^\s+Failed [A-Za-z0-9_.]+' "$log" | sed 's/^\s*/    /' | sort -u || true
    grep -A1 'The test running when the crash occurred' "$log" | grep -vE 'crash occurred|^--$' | sed 's/^/    aborted: /' || true
  fi
done

echo "test-under-load.sh: $((runs - failed_runs))/$runs run(s) passed, $failed_runs failed, $((total_seconds / runs)) s per run on average"
[ "$failed_runs" -eq 0 ]
