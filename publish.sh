#!/usr/bin/env bash
# Builds a self-contained release: ./publish.sh [RID]   (default linux-arm64)
# Flavour: NativeAOT when the native toolchain for RID is present (installed here when run as root; otherwise the
# exact apt-get command is printed), else a ReadyToRun single file. The last lines say which one was built.
# Output: artifacts/publish/RID/ (binary, appsettings.json, unit, install.sh, README) and a .tar.gz beside it.
# PUBLISH_OUT=DIR puts the release folder elsewhere. PUBLISH_FLAVOUR=aot|r2r skips the choice (aot fails if it cannot).
# ./publish.sh --deb [RID] also builds artifacts/edge-gateway_<version>_<arch>.deb (scripts/build-deb.sh).
set -euo pipefail
cd "$(dirname "$0")"

rid=""
deb=false
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    --deb) deb=true; shift ;;
    -*) echo "publish.sh: unknown option '$1'" >&2; exit 2 ;;
    *)
      if [ -n "$rid" ]; then echo "publish.sh: one RID only (got '$rid' and '$1')" >&2; exit 2; fi
      rid="$1"; shift ;;
  esac
done
rid="${rid:-linux-arm64}"
case "$rid" in
  linux-arm64|linux-x64|linux-arm|linux-musl-x64|linux-musl-arm64) ;;
  *) echo "publish.sh: unsupported RID '$rid' (use linux-arm64, linux-x64, linux-arm, linux-musl-x64 or linux-musl-arm64)" >&2; exit 2 ;;
esac
requested="${PUBLISH_FLAVOUR:-}"
case "$requested" in ""|aot|r2r) ;; *) echo "publish.sh: PUBLISH_FLAVOUR must be aot or r2r (got '$requested')" >&2; exit 2 ;; esac
out="${PUBLISH_OUT:-artifacts/publish/$rid}"

case "$(uname -m)" in x86_64) host=x64 ;; aarch64) host=arm64 ;; *) host="$(uname -m)" ;; esac
target="${rid##*-}"

# What NativeAOT needs on this machine for RID (Debian packages), and the extra publish properties. Empty packages
# and an "unsupported" reason mean no NativeAOT for this pair here.
aot_packages=()
aot_props=()
aot_unsupported=""
need_arm64_arch=false
if [[ "$rid" == linux-musl-* || "$rid" == linux-arm ]]; then
  aot_unsupported="NativeAOT for $rid needs a musl or armhf sysroot this script does not set up"
elif [ "$target" = "$host" ]; then
  # The platform linker (clang driving ld) and zlib's headers and library for the target.
  aot_packages=(clang zlib1g-dev)
elif [ "$host" = x64 ] && [ "$target" = arm64 ]; then
  # Cross: clang emits aarch64 and drives lld (the system ld knows only x86); gcc-aarch64-linux-gnu brings the arm64
  # C runtime (crt objects, libc, libgcc) that clang finds as a cross GCC installation; binutils' aarch64 objcopy
  # strips the symbols into a separate file; zlib for arm64 comes from Debian's arm64 architecture (multiarch).
  aot_packages=(clang lld gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu zlib1g-dev:arm64)
  aot_props=(-p:LinkerFlavor=lld -p:ObjCopyName=aarch64-linux-gnu-objcopy)
  need_arm64_arch=true
else
  aot_unsupported="no NativeAOT cross toolchain for $host -> $target here"
fi

missing_packages() {
  local p
  for p in "${aot_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

flavour=r2r
why=""
if [ "$requested" != r2r ] && [ -z "$aot_unsupported" ]; then
  if ! command -v dpkg-query >/dev/null 2>&1; then
    why="not a Debian system: cannot check for ${aot_packages[*]}"
  else
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -gt 0 ]; then
      arch_cmd=""
      if [ "$need_arm64_arch" = true ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
        arch_cmd="dpkg --add-architecture arm64 && "
      fi
      install_cmd="${arch_cmd}apt-get update && apt-get install -y ${missing[*]}"
      if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "publish.sh: installing the NativeAOT toolchain for $rid: ${missing[*]}"
        if ! DEBIAN_FRONTEND=noninteractive bash -c "$install_cmd" >/dev/null; then
          why="installing ${missing[*]} failed ($install_cmd)"
        fi
      else
        echo "publish.sh: NativeAOT for $rid needs: ${missing[*]}. As root, run:" >&2
        echo "  sudo sh -c '$install_cmd'" >&2
        why="toolchain missing: ${missing[*]}"
      fi
    fi
    if [ -z "$why" ]; then
      flavour=aot
    fi
  fi
else
  why="${aot_unsupported:-PUBLISH_FLAVOUR=r2r}"
fi
if [ "$requested" = aot ] && [ "$flavour" != aot ]; then
  echo "publish.sh: PUBLISH_FLAVOUR=aot, but: $why" >&2
  exit 1
fi

rm -rf "$out"
if [ "$flavour" = aot ]; then
  echo "publish.sh: publishing NativeAOT for $rid (takes minutes)"
  if ! dotnet publish src/EdgeGateway/EdgeGateway.csproj -c Release -r "$rid" -p:PublishAot=true -p:DebugType=none \
      "${aot_props[@]}" -o "$out" -nologo -clp:ErrorsOnly; then
    if [ "$requested" = aot ]; then
      echo "publish.sh: the NativeAOT publish for $rid failed" >&2
      exit 1
    fi
    why="the NativeAOT publish failed (errors above)"
    flavour=r2r
    rm -rf "$out"
  fi
fi
if [ "$flavour" = r2r ]; then
  echo "publish.sh: publishing a ReadyToRun single file for $rid (no NativeAOT: $why)"
  if ! dotnet publish src/EdgeGateway/EdgeGateway.csproj -c Release -r "$rid" --self-contained true \
      -p:PublishSingleFile=true -p:PublishReadyToRun=true -p:IncludeNativeLibrariesForSelfExtract=true -p:DebugType=none \
      -o "$out" -nologo -clp:ErrorsOnly; then
    echo "publish.sh: publishing for $rid failed. If the error is NU1101 for Microsoft.NETCore.App.Runtime.$rid (or" >&2
    echo "publish.sh: its Crossgen2 package), the package source this machine uses does not serve it; publish on a machine" >&2
    echo "publish.sh: whose NuGet source does (nuget.org does), or pick a RID it serves (linux-x64 here)." >&2
    exit 1
  fi
fi
# Only what a device needs: no symbols, no web-asset manifests, no simulator launcher stub.
rm -f "$out"/*.pdb "$out"/*.dbg "$out"/*.staticwebassets.endpoints.json "$out"/EdgeGateway.Simulator.runtimeconfig.json
# System.IO.Ports comes in only as a dependency of Iot.Device.Bindings (its serial-attached devices, which the gateway
# does not use; our serial port is SerialPortStream). NativeAOT trims its managed code away but still copies its
# native shim: nothing here can call it.
if [ "$flavour" = aot ]; then
  rm -f "$out"/libSystem.IO.Ports.Native.so
fi
cp config/appsettings.json "$out/appsettings.json"
cp systemd/edge-gateway.service systemd/install.sh README.md "$out/"
# The unit denies writable executable memory; a JIT or ReadyToRun build needs the drop-in that allows it.
if [ "$(scripts/binary-flavour.sh "$out/edge-gateway")" = jit ]; then
  cp packaging/systemd-jit.conf "$out/jit.conf"
fi
tarball="$(dirname "$out")/edge-gateway-$rid.tar.gz"
tar -C "$(dirname "$out")" -czf "$tarball" "$(basename "$out")"
case "$flavour" in
  aot) name="NativeAOT (no JIT; native libraries beside it: $(cd "$out" && ls -- *.so 2>/dev/null | tr '\n' ' '))" ;;
  *) name="ReadyToRun single file (JIT for what was not precompiled)" ;;
esac
echo "publish.sh: flavour: $flavour"
echo "publish.sh: built $name for $rid"
echo "publish.sh: $out/edge-gateway ($(du -h "$out/edge-gateway" | cut -f1)) and $tarball"
if [ "$deb" = true ]; then
  scripts/build-deb.sh "$rid" "$out"
fi
