#!/usr/bin/env bash
# Builds a self-contained single-file release: ./publish.sh [RID]   (default linux-arm64)
# Output: artifacts/publish/RID/ (binary, appsettings.json, unit, install.sh) and artifacts/edge-gateway-RID.tar.gz
set -euo pipefail
cd "$(dirname "$0")"
rid="${1:-linux-arm64}"
case "$rid" in
  linux-arm64|linux-x64|linux-arm|linux-musl-x64|linux-musl-arm64) ;;
  *) echo "publish.sh: unsupported RID '$rid' (use linux-arm64, linux-x64, linux-arm, linux-musl-x64 or linux-musl-arm64)" >&2; exit 2 ;;
esac
out="artifacts/publish/$rid"
rm -rf "$out"
if ! dotnet publish src/EdgeGateway/EdgeGateway.csproj -c Release -r "$rid" --self-contained true \
    -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true -p:DebugType=none \
    -o "$out" -nologo -clp:ErrorsOnly; then
  echo "publish.sh: publishing for $rid failed. If the error is NU1101 for Microsoft.NETCore.App.Runtime.$rid," >&2
  echo "publish.sh: the package source this machine uses does not serve that runtime pack; publish on a machine" >&2
  echo "publish.sh: whose NuGet source does (nuget.org does), or pick a RID it serves (linux-x64 here)." >&2
  exit 1
fi
cp config/appsettings.json "$out/appsettings.json"
cp systemd/edge-gateway.service systemd/install.sh README.md "$out/"
tar -C "artifacts/publish" -czf "artifacts/edge-gateway-$rid.tar.gz" "$rid"
echo "publish.sh: $out/edge-gateway ($(du -h "$out/edge-gateway" | cut -f1)) and artifacts/edge-gateway-$rid.tar.gz"
