#!/usr/bin/env bash
# Compares a published build of the daemon with the JIT build, endpoint by endpoint (status and JSON body shape),
# WebSocket frame by frame, and configuration error by configuration error: the regression class a trimmed or
# NativeAOT build hides (reflection-based JSON answering {} or 500 where the JIT build answered).
#
#   scripts/compare-builds.sh [BINARY]
#
# BINARY: an already-published edge-gateway for this machine's architecture (e.g. from ./publish.sh linux-x64).
# Without it, the script publishes the NativeAOT build for this machine first (several minutes).
# Runs tests/EdgeGateway.Release.Tests (not part of the README's test command). Exit status: that of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) echo "compare-builds.sh: no NativeAOT RID for $(uname -m); pass a published BINARY" >&2; exit 2 ;;
esac

if [ "$#" -gt 1 ]; then
  echo "usage: scripts/compare-builds.sh [BINARY]" >&2
  exit 2
fi

if [ "$#" -eq 1 ]; then
  binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  if [ ! -x "$binary" ]; then
    echo "compare-builds.sh: $1 is not an executable file" >&2
    exit 2
  fi
  echo "compare-builds.sh: comparing $binary with the JIT build"
else
  out="artifacts/compare/$rid"
  echo "compare-builds.sh: publishing the NativeAOT build for $rid to $out (takes minutes)"
  rm -rf "$out"
  if ! dotnet publish src/EdgeGateway/EdgeGateway.csproj -c Release -r "$rid" -p:PublishAot=true -p:DebugType=none \
      -o "$out" -nologo -clp:ErrorsOnly; then
    echo "compare-builds.sh: the NativeAOT publish failed; it needs clang and zlib1g-dev (Debian: apt-get install -y clang zlib1g-dev)" >&2
    exit 1
  fi
  binary="$PWD/$out/edge-gateway"
  echo "compare-builds.sh: published $binary ($(du -h "$binary" | cut -f1))"
fi

if ! file -L "$binary" 2>/dev/null | grep -q "ELF"; then
  echo "compare-builds.sh: $binary is not an ELF executable" >&2
  exit 2
fi

echo "compare-builds.sh: running tests/EdgeGateway.Release.Tests"
EDGEGW_COMPARE_BINARY="$binary" dotnet test tests/EdgeGateway.Release.Tests -c Debug -nologo \
  --logger "console;verbosity=normal" --blame-hang-timeout 20m
echo "compare-builds.sh: the published build answers like the JIT build"
