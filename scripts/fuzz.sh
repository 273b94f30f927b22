#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that takes bytes from outside (issue 11; docs/security.md).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Fuzzes each TARGET (default: all) for SECONDS (default 300) under afl-fuzz, with the project's assemblies
# instrumented by SharpFuzz. Seeds come from fuzz/corpus/<target>/; afl's findings go to
# artifacts/fuzz/<target>/afl/ and every crash or hang is copied to artifacts/fuzz/<target>/{crashes,hangs}/.
# Reproduce one with:  dotnet run --project fuzz/EdgeGateway.Fuzz -- <target> <file>
# Environment: FUZZ_TIMEOUT_MS (afl's hang timeout per input, default 5000).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-300}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi
shift || true
timeout_ms="${FUZZ_TIMEOUT_MS:-5000}"

# afl++ from Debian.
if ! command -v afl-fuzz >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++
  else
    echo "afl-fuzz is missing; install it with:  sudo apt-get update && sudo apt-get install -y afl++" >&2
    exit 1
  fi
fi

# The SharpFuzz instrumenter, pinned in .config/dotnet-tools.json.
dotnet tool restore >/dev/null

out="artifacts/fuzz"
bin="$out/bin"
# A fresh publish every run: sharpfuzz refuses an assembly it already instrumented.
rm -rf "$bin"
dotnet publish fuzz/EdgeGateway.Fuzz/EdgeGateway.Fuzz.csproj -c Release -o "$bin" -nologo -v q
for assembly in Core Drones Sensors Mqtt Upstream LocalApi; do
  dotnet tool run sharpfuzz "$bin/EdgeGateway.$assembly.dll" >/dev/null
done

if [ "$#" -eq 0 ]; then
  read -r -a targets <<< "$("$bin/EdgeGateway.Fuzz" --list | sed 's/^targets: //; s/,//g')"
else
  targets=("$@")
fi

export AFL_SKIP_CPUFREQ=1                      # no cpufreq governor to read in containers
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 # core_pattern belongs to the host
export AFL_SKIP_BIN_CHECK=1                    # the .NET host carries no afl instrumentation of its own
export AFL_NO_AFFINITY=1                       # shared machines: do not pin a core
export AFL_NO_UI=1
export AFL_QUIET=1

failed=()
for target in "${targets[@]}"; do
  if [ ! -d "fuzz/corpus/$target" ]; then
    echo "unknown target $target (no fuzz/corpus/$target)" >&2
    exit 2
  fi

  dir="$out/$target"
  # Each run stores its own findings; copy out what you want to keep (a fixed crash goes into fuzz/corpus).
  rm -rf "$dir/crashes" "$dir/hangs"
  mkdir -p "$dir/crashes" "$dir/hangs"
  echo "== $target: ${seconds}s"
  # On a loaded machine afl sometimes sees an empty coverage map on the very first (dry) run of the .NET target and
  # aborts with "No instrumentation detected"; the same command then works. Retry that case, and only that case.
  ok=0
  for attempt in 1 2 3; do
    rm -rf "$dir/afl"
    if afl-fuzz -i "fuzz/corpus/$target" -o "$dir/afl" -t "$timeout_ms" -m none -V "$seconds" \
      -- "$bin/EdgeGateway.Fuzz" "$target" > "$dir/afl.log" 2>&1; then
      ok=1
      break
    fi
    if ! grep -q "No instrumentation detected" "$dir/afl.log"; then
      break
    fi
    echo "   afl saw no coverage on the dry run (attempt $attempt); retrying"
  done
  if [ "$ok" -ne 1 ]; then
    echo "afl-fuzz failed for $target; last lines of $dir/afl.log:" >&2
    tail -n 5 "$dir/afl.log" >&2
    failed+=("$target")
    continue
  fi
  find "$dir/afl/default/crashes" -type f -name 'id:*' -exec cp {} "$dir/crashes/" \; 2>/dev/null || true
  find "$dir/afl/default/hangs" -type f -name 'id:*' -exec cp {} "$dir/hangs/" \; 2>/dev/null || true
done

stat() { sed -n "s/^$2 *: *//p" "$1" | head -n 1; }
printf '\n%-12s %8s %12s %10s %8s %8s %6s %10s\n' target seconds execs execs/s corpus crashes hangs coverage
for target in "${targets[@]}"; do
  stats="$out/$target/afl/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    printf '%-12s (no fuzzer_stats)\n' "$target"
    continue
  fi
  printf '%-12s %8s %12s %10s %8s %8s %6s %10s\n' "$target" "$(stat "$stats" run_time)" "$(stat "$stats" execs_done)" \
    "$(stat "$stats" execs_per_sec)" "$(stat "$stats" corpus_count)" "$(stat "$stats" saved_crashes)" \
    "$(stat "$stats" saved_hangs)" "$(stat "$stats" bitmap_cvg)"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "afl-fuzz did not run for: ${failed[*]}" >&2
  exit 1
fi
