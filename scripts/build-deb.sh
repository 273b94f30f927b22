#!/usr/bin/env bash
# Packages a published release folder as a Debian package with dpkg-deb (no debhelper needed):
#   scripts/build-deb.sh RID [PUBLISH_DIR]     (publish.sh --deb RID calls it after publishing)
# Output: artifacts/edge-gateway_<version>_<arch>.deb (DEB_OUT=DIR puts it elsewhere).
# Version: EDGEGW_VERSION, else the project's <Version> (msbuild). Flavour: scripts/binary-flavour.sh.
# Layout (FHS, Debian policy): /usr/lib/edge-gateway/edge-gateway, /etc/edge-gateway/appsettings.json (conffile),
# /lib/systemd/system/edge-gateway.service, /etc/avahi/services/edge-gateway.service (conffile),
# /usr/share/doc/edge-gateway/{copyright,changelog.gz,README.md}; the maintainer scripts in packaging/debian.
set -euo pipefail
cd "$(dirname "$0")/.."
rid="${1:?usage: build-deb.sh RID [PUBLISH_DIR]}"
pub="${2:-artifacts/publish/$rid}"
case "$rid" in
  linux-x64) arch=amd64 ;;
  linux-arm64) arch=arm64 ;;
  linux-arm) arch=armhf ;;
  *) echo "build-deb.sh: no Debian architecture for $rid (use linux-x64, linux-arm64 or linux-arm; musl is not Debian)" >&2; exit 2 ;;
esac
for tool in dpkg-deb gzip; do
  command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool is missing (apt-get install -y dpkg-dev gzip)" >&2; exit 3; }
done
if [ ! -x "$pub/edge-gateway" ]; then
  echo "build-deb.sh: no published binary at $pub/edge-gateway (run ./publish.sh $rid first)" >&2
  exit 2
fi

version="${EDGEGW_VERSION:-}"
if [ -z "$version" ]; then
  version="$(dotnet msbuild src/EdgeGateway/EdgeGateway.csproj -getProperty:Version -nologo 2>/dev/null | tr -d '[:space:]')"
fi
if ! [[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
  echo "build-deb.sh: '$version' is not a usable Debian version (set EDGEGW_VERSION)" >&2
  exit 2
fi
flavour="$(scripts/binary-flavour.sh "$pub/edge-gateway")"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
# Reproducible: the date of the commit (or SOURCE_DATE_EPOCH), not the time of the build.
epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

out_dir="${DEB_OUT:-artifacts}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/edge-gateway"
install -d -m 0755 "$root/DEBIAN" "$root/usr/lib/edge-gateway" "$root/etc/edge-gateway" "$root/lib/systemd/system" \
  "$root/etc/avahi/services" "$root/usr/share/doc/edge-gateway"

install -m 0755 "$pub/edge-gateway" "$root/usr/lib/edge-gateway/edge-gateway"
# Native libraries beside a NativeAOT binary (libe_sqlite3.so) come unstripped from their NuGet packages; Debian
# policy (and lintian) want shared objects stripped the way dh_strip does it, with the binutils for their architecture.
case "$arch" in
  amd64) strip_tool=x86_64-linux-gnu-strip; strip_pkg=binutils-x86-64-linux-gnu ;;
  arm64) strip_tool=aarch64-linux-gnu-strip; strip_pkg=binutils-aarch64-linux-gnu ;;
  armhf) strip_tool=arm-linux-gnueabihf-strip; strip_pkg=binutils-arm-linux-gnueabihf ;;
esac
for lib in "$pub"/*.so; do
  [ -e "$lib" ] || continue
  if ! command -v "$strip_tool" >/dev/null; then
    echo "build-deb.sh: $strip_tool is missing to strip $(basename "$lib") (apt-get install -y $strip_pkg)" >&2
    exit 3
  fi
  install -m 0644 "$lib" "$root/usr/lib/edge-gateway/"
  "$strip_tool" --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/lib/edge-gateway/$(basename "$lib")"
done
install -m 0644 config/appsettings.json "$root/etc/edge-gateway/appsettings.json"
install -m 0644 systemd/edge-gateway.service "$root/lib/systemd/system/edge-gateway.service"
if [ "$flavour" = jit ]; then
  install -d -m 0755 "$root/lib/systemd/system/edge-gateway.service.d"
  install -m 0644 packaging/systemd-jit.conf "$root/lib/systemd/system/edge-gateway.service.d/jit.conf"
fi
port="$(sed -n 's/.*"Urls": *"[^"]*:\([0-9][0-9]*\)".*/\1/p' config/appsettings.json | head -n 1)"
sed -e "s/@VERSION@/$version/" -e "s|<port>3002</port>|<port>${port:-3002}</port>|" packaging/avahi/edge-gateway.service \
  > "$root/etc/avahi/services/edge-gateway.service"
chmod 0644 "$root/etc/avahi/services/edge-gateway.service"

doc="$root/usr/share/doc/edge-gateway"
install -m 0644 packaging/debian/copyright "$doc/copyright"
install -m 0644 README.md "$doc/README.md"
sed -e "s/@VERSION@/$version/" -e "s/@COMMIT@/$commit/" -e "s/@DATE@/$(LC_ALL=C date -u -R -d "@$epoch")/" \
  packaging/debian/changelog.in | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

install -d -m 0755 "$root/usr/share/lintian/overrides"
install -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/edge-gateway"
for script in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$script" "$root/DEBIAN/$script"
done
printf '/etc/edge-gateway/appsettings.json\n/etc/avahi/services/edge-gateway.service\n' > "$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
installed_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_kb/" packaging/debian/control.in \
  > "$root/DEBIAN/control"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$epoch" {} +

mkdir -p "$out_dir"
deb="$out_dir/edge-gateway_${version}_${arch}.deb"
SOURCE_DATE_EPOCH="$epoch" dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "build-deb.sh: $deb ($flavour build, $(du -h "$deb" | cut -f1))"
