#!/usr/bin/env bash
# Re-vendors the field console's one third-party library, uPlot, from the npm registry at the pinned version,
# after checking the tarball against the registry's published integrity. The result is committed; building and
# running the gateway never needs npm (docs/console.md).
set -euo pipefail
cd "$(dirname "$0")/.."

version="1.6.32"
integrity="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
dest="src/EdgeGateway.LocalApi/FieldConsole/wwwroot/vendor"

command -v npm >/dev/null 2>&1 || { echo "vendor-console.sh: npm is needed (apt-get install -y npm)" >&2; exit 3; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$version" >/dev/null)
tgz="$work/uplot-$version.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  echo "vendor-console.sh: uplot@$version does not match its pinned integrity" >&2
  echo "  expected $integrity" >&2
  echo "  got      $actual" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work"
cp "$work/package/dist/uPlot.esm.js" "$work/package/dist/uPlot.min.css" "$dest/"
cp "$work/package/LICENSE" "$dest/uPlot.LICENSE.txt"
echo "vendored uplot@$version into $dest"
