#!/usr/bin/env bash
# Builds a self-contained single-file release: ./publish.sh [RID]   (default linux-arm64)
# Output: artifacts/publish/RID/ (binary, appsettings.json, unit, install.sh, README) and a .tar.gz beside it.
# PUBLISH_OUT=DIR puts the release folder elsewhere.
# ./publish.sh --deb [RID] also builds artifacts/edge-gateway_<version>_<arch>.deb (scripts/build-deb.sh).
set -euo pipefail
cd "$(dirname "$0")"
deb=false
if [ "${1:-}" = "--deb" ]; then
  deb=true
  shift
fi
rid="${1:-linux-arm64}"
case "$rid" in
  linux-arm64|linux-x64|linux-arm|linux-musl-x64|linux-musl-arm64) ;;
  *) echo "publish.sh: unsupported RID '$rid' (use linux-arm64, linux-x64, linux-arm, linux-musl-x64 or linux-musl-arm64)" >&2; exit 2 ;;
esac
out="${PUBLISH_OUT:-artifacts/publish/$rid}"
rm -rf "$out"
if ! dotnet publish src/EdgeGateway/EdgeGateway.csproj -c Release -r "$rid" --self-contained true \
    -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true -p:DebugType=none \
    -o "$out" -nologo -clp:ErrorsOnly; then
  echo "publish.sh: publishing for $rid failed. If the error is NU1101 for Microsoft.NETCore.App.Runtime.$rid," >&2
  echo "publish.sh: the package source this machine uses does not serve that runtime pack; publish on a machine" >&2
  echo "publish.sh: whose NuGet source does (nuget.org does), or pick a RID it serves (linux-x64 here)." >&2
  exit 1
fi
# Only what a device needs: no symbols, no web-asset manifests, no simulator launcher stub.
rm -f "$out"/*.pdb "$out"/*.staticwebassets.endpoints.json "$out"/EdgeGateway.Simulator.runtimeconfig.json
cp config/appsettings.json "$out/appsettings.json"
cp systemd/edge-gateway.service systemd/install.sh README.md "$out/"
# The unit denies writable executable memory; a JIT or ReadyToRun build needs the drop-in that allows it.
if [ "$(scripts/binary-flavour.sh "$out/edge-gateway")" = jit ]; then
  cp packaging/systemd-jit.conf "$out/jit.conf"
fi
tarball="$(dirname "$out")/edge-gateway-$rid.tar.gz"
tar -C "$(dirname "$out")" -czf "$tarball" "$(basename "$out")"
echo "publish.sh: $out/edge-gateway ($(du -h "$out/edge-gateway" | cut -f1)) and $tarball"
if [ "$deb" = true ]; then
  scripts/build-deb.sh "$rid" "$out"
fi
