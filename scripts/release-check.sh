#!/usr/bin/env bash
# The release check (.ci/run calls it after ./scripts/test.sh): publishes linux-x64 and linux-arm64 with ./publish.sh,
# checks each binary's architecture with `file`, runs each through a smoke with --simulate (x64 natively, arm64 under
# qemu-user-static with Debian's arm64 libraries), then installs the x64 Debian package, verifies the installed unit,
# runs the installed binary as the service user, finds it with avahi-browse, and purges it again.
#   scripts/release-check.sh            (as root: it installs what it needs and the package; allow ~90 minutes)
# RELEASE_CHECK_RIDS="linux-x64" limits the architectures (default: "linux-x64 linux-arm64");
# RELEASE_CHECK_DEB=0 leaves out the package steps; RELEASE_CHECK_REUSE=1 reuses the binaries and the .deb of the
# previous run (artifacts/release-check) instead of publishing again, to re-run the later steps. One line per step; the first failure stops it with the reason
# and the log to read. Logs: artifacts/release-check/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
work="$repo/artifacts/release-check"
logs="$work/logs"
rids="${RELEASE_CHECK_RIDS:-linux-x64 linux-arm64}"
check_deb="${RELEASE_CHECK_DEB:-1}"

ok() { echo "release-check: ok    $*"; }
note() { echo "release-check: note  $*"; }
fail() {
  echo "release-check: FAIL  $*" >&2
  exit 1
}

# Everything this script starts or installs is undone on exit, pass or fail.
daemon_pid=""
dbus_pid=""
avahi_started=0
installed=0
temp_dirs=()
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  if [ "$avahi_started" = 1 ]; then
    avahi-daemon -k >/dev/null 2>&1 || true
  fi
  if [ -n "$dbus_pid" ]; then
    kill "$dbus_pid" 2>/dev/null || true
    rm -f /run/dbus/system_bus_socket /run/dbus/pid
  fi
  if [ "$installed" = 1 ]; then
    dpkg --purge edge-gateway >/dev/null 2>&1 || true
  fi
  for d in "${temp_dirs[@]}"; do
    rm -rf "$d"
  done
}
trap cleanup EXIT
# A timeout (CI's 90 minutes) or Ctrl-C still purges the package and stops the daemon.
trap 'echo "release-check: FAIL  interrupted" >&2; exit 143' TERM INT

# A fresh temporary directory in $REPLY, removed on exit (not in $(...): a subshell would lose the list).
new_temp() {
  REPLY="$(mktemp -d "${TMPDIR:-/tmp}/eg-release-XXXXXX")"
  temp_dirs+=("$REPLY")
}

reuse="${RELEASE_CHECK_REUSE:-0}"
if [ "$reuse" = 1 ]; then
  rm -rf "$logs"
else
  rm -rf "$work"
fi
mkdir -p "$logs"

# --- 1. Tools and peers. As root they are installed; otherwise the exact command is printed. -------------------
packages=()
command -v file >/dev/null || packages+=(file)
# Debian's python3 sees apt's modules; a python3 earlier on PATH (pyenv) may not.
python=/usr/bin/python3
[ -x "$python" ] || packages+=(python3)
"$python" -c "import aiohttp" 2>/dev/null || packages+=(python3-aiohttp)
"$python" -c "import seccomp" 2>/dev/null || packages+=(python3-seccomp)
case " $rids " in
  *" linux-arm64 "*)
    command -v qemu-aarch64-static >/dev/null || packages+=(qemu-user-static)
    # The arm64 loader, the C/C++ runtime the .NET host links against, and libssl: the runtime aborts at start
    # without it (docs/operations.md, "The Debian package and the unit").
    [ -e /lib/ld-linux-aarch64.so.1 ] || packages+=(libc6:arm64)
    [ -e /usr/lib/aarch64-linux-gnu/libstdc++.so.6 ] || packages+=(libstdc++6:arm64)
    [ -e /usr/lib/aarch64-linux-gnu/libgcc_s.so.1 ] || packages+=(libgcc-s1:arm64)
    [ -e /usr/lib/aarch64-linux-gnu/libssl.so.3 ] || packages+=(libssl3:arm64)
    ;;
esac
if [ "$check_deb" = 1 ]; then
  command -v lintian >/dev/null || packages+=(lintian)
  command -v avahi-daemon >/dev/null || [ -x /usr/sbin/avahi-daemon ] || packages+=(avahi-daemon)
  command -v avahi-browse >/dev/null || packages+=(avahi-utils)
  command -v dbus-daemon >/dev/null || packages+=(dbus)
fi
if [ "${#packages[@]}" -gt 0 ]; then
  arch_cmd=""
  if printf '%s\n' "${packages[@]}" | grep -q ':arm64$' && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    arch_cmd="dpkg --add-architecture arm64 && "
  fi
  if [ "$(id -u)" -ne 0 ]; then
    fail "missing tools; run as root: sudo sh -c '${arch_cmd}apt-get update && apt-get install -y ${packages[*]}'"
  fi
  export DEBIAN_FRONTEND=noninteractive
  [ -z "$arch_cmd" ] || dpkg --add-architecture arm64
  if ! { apt-get update -qq && apt-get install -y -qq "${packages[@]}"; } >"$logs/apt.log" 2>&1; then
    fail "installing ${packages[*]} failed: see $logs/apt.log"
  fi
  ok "installed ${packages[*]}"
fi
if [ "$check_deb" = 1 ] && [ "$(id -u)" -ne 0 ]; then
  fail "the package steps install edge-gateway with dpkg: run as root, or RELEASE_CHECK_DEB=0 for the rest"
fi
if [ "$check_deb" = 1 ] && dpkg -s edge-gateway >/dev/null 2>&1; then
  fail "edge-gateway is installed on this machine and the check would purge it: dpkg --purge edge-gateway first"
fi

# --- 2. Publish, check the architecture, smoke. ----------------------------------------------------------------
# Starts the daemon (the command in "$@") with --simulate on free ports, runs the smoke, sends SIGTERM, wants exit 0.
# SMOKE_DATA, SMOKE_TOKEN and SMOKE_DEADLINE adjust it; the daemon's output goes to $logs/$name.log.
smoke() {
  local name="$1"
  shift
  local data="${SMOKE_DATA:-}" http state sim
  if [ -z "$data" ]; then
    new_temp
    data="$REPLY"
  fi
  read -r http state sim < <("$python" scripts/release/free-ports.py 1 2)
  "$@" --simulate --data-dir "$data" --urls "http://127.0.0.1:$http" \
    --Simulator:Address=127.0.0.1 "--Simulator:CommandPort=$sim" --Drones:CommandPort=0 "--Drones:StatePort=$state" \
    >"$logs/$name.log" 2>&1 &
  daemon_pid=$!
  local token_args=()
  [ -z "${SMOKE_TOKEN:-}" ] || token_args=(--token "$SMOKE_TOKEN")
  if ! "$python" scripts/release/smoke.py "http://127.0.0.1:$http" --deadline "${SMOKE_DEADLINE:-120}" "${token_args[@]}" \
      >"$logs/$name.smoke.log" 2>&1; then
    fail "$name smoke: $(grep -m1 'FAILED' "$logs/$name.smoke.log" || tail -n1 "$logs/$name.smoke.log") (daemon log: $logs/$name.log)"
  fi
  sed 's/^  smoke: /    /' "$logs/$name.smoke.log"
  kill -TERM "$daemon_pid"
  local waited=0
  while kill -0 "$daemon_pid" 2>/dev/null && [ "$waited" -lt 60 ]; do
    sleep 1
    waited=$((waited + 1))
  done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    fail "$name: still running 60 s after SIGTERM (log: $logs/$name.log)"
  fi
  local code=0
  wait "$daemon_pid" || code=$?
  daemon_pid=""
  [ "$code" -eq 0 ] || fail "$name: exit code $code after SIGTERM, wanted 0 (log: $logs/$name.log)"
  ok "$name: smoke passed, SIGTERM -> exit 0"
}

x64_binary=""
deb=""
for rid in $rids; do
  out="$work/$rid"
  publish_args=("$rid")
  if [ "$rid" = linux-x64 ] && [ "$check_deb" = 1 ]; then
    publish_args=(--deb "$rid")
  fi
  if [ "$reuse" = 1 ] && [ -x "$out/edge-gateway" ]; then
    echo "reused by RELEASE_CHECK_REUSE=1" >"$logs/publish-$rid.log"
  elif ! PUBLISH_OUT="$out" DEB_OUT="$work" ./publish.sh "${publish_args[@]}" >"$logs/publish-$rid.log" 2>&1; then
    fail "./publish.sh ${publish_args[*]}: $(tail -n1 "$logs/publish-$rid.log") (log: $logs/publish-$rid.log)"
  fi
  binary="$out/edge-gateway"
  flavour="$(scripts/binary-flavour.sh "$binary")"
  ok "published $rid: $(du -h "$binary" | cut -f1) $flavour build ($(grep -m1 -o 'built [^.]*' "$logs/publish-$rid.log" || echo 'publish.sh did not name the flavour'))"

  description="$(file -b "$binary")"
  case "$rid" in
    linux-x64) want="x86-64" ;;
    linux-arm64) want="ARM aarch64" ;;
    *) want="$rid" ;;
  esac
  case "$description" in
    *"ELF 64-bit"*"$want"*) ok "file: $rid binary is $(cut -d, -f1-2 <<<"$description")" ;;
    *) fail "file: $rid binary is not a 64-bit $want ELF: $description" ;;
  esac

  case "$rid" in
    linux-x64)
      x64_binary="$binary"
      new_temp
      DOTNET_BUNDLE_EXTRACT_BASE_DIR="$REPLY" smoke "x64" "$binary"
      # The unit's SystemCallFilter= as systemd applies it (libseccomp, refused calls fail with EPERM).
      new_temp
      DOTNET_BUNDLE_EXTRACT_BASE_DIR="$REPLY" smoke "x64 under the unit's SystemCallFilter" \
        "$python" scripts/release/under-syscall-filter.py systemd/edge-gateway.service -- "$binary"
      ;;
    linux-arm64)
      # qemu-user has no binfmt registration here, so it is called directly; -L / finds Debian's multiarch arm64
      # loader and libraries. A JIT (or ReadyToRun) build needs DOTNET_EnableWriteXorExecute=0 under qemu-user
      # (docs/operations.md: with W^X the runtime writes code through a second mapping of the same memory, which
      # qemu's translation cache never sees change, so it runs stale code and crashes). AOT needs nothing.
      new_temp
      env_args=(DOTNET_BUNDLE_EXTRACT_BASE_DIR="$REPLY")
      [ "$flavour" = aot ] || env_args+=(DOTNET_EnableWriteXorExecute=0)
      SMOKE_DEADLINE=600 smoke "arm64 (qemu-user, $flavour)" env "${env_args[@]}" qemu-aarch64-static -L / "$binary"
      ;;
    *) note "$rid: published, no way to run it here" ;;
  esac
done

if [ -n "$x64_binary" ]; then
  if [ -x scripts/compare-builds.sh ]; then
    if ! scripts/compare-builds.sh "$x64_binary" >"$logs/compare-builds.log" 2>&1; then
      fail "scripts/compare-builds.sh: $(tail -n1 "$logs/compare-builds.log") (log: $logs/compare-builds.log)"
    fi
    ok "scripts/compare-builds.sh: $(tail -n1 "$logs/compare-builds.log")"
  else
    note "scripts/compare-builds.sh is not in this tree: no endpoint comparison of the x64 build against the JIT build"
  fi
fi

[ "$check_deb" = 1 ] || { ok "done (package steps left out: RELEASE_CHECK_DEB=0)"; exit 0; }
case " $rids " in *" linux-x64 "*) ;; *) fail "the package steps need linux-x64 in RELEASE_CHECK_RIDS" ;; esac

# --- 3. The Debian package. -----------------------------------------------------------------------------------
deb="$(ls "$work"/edge-gateway_*_amd64.deb 2>/dev/null | head -n1 || true)"
[ -n "$deb" ] || fail "./publish.sh --deb linux-x64 made no .deb in $work (log: $logs/publish-linux-x64.log)"
lintian --info "$deb" >"$logs/lintian.log" 2>&1 || true
errors="$(grep -c '^E: ' "$logs/lintian.log" || true)"
warnings="$(grep -c '^W: ' "$logs/lintian.log" || true)"
[ "$errors" -eq 0 ] || fail "lintian: $errors errors, first: $(grep -m1 '^E: ' "$logs/lintian.log")"
if [ "$warnings" -eq 0 ]; then
  ok "lintian: no errors, no warnings"
else
  ok "lintian: no errors, $warnings warnings: $(grep '^W: ' "$logs/lintian.log" | awk '{print $3}' | sort -u | tr '\n' ' ')(see docs/operations.md)"
fi

dpkg -i "$deb" >"$logs/dpkg-install.log" 2>&1 || { installed=1; fail "dpkg -i $(basename "$deb"): $(tail -n1 "$logs/dpkg-install.log")"; }
installed=1
ok "dpkg -i $(basename "$deb")"

getent passwd edge-gateway >/dev/null || fail "install: no system user edge-gateway"
user_line="$(getent passwd edge-gateway)"
[ "$(cut -d: -f3 <<<"$user_line")" -lt 1000 ] || fail "install: edge-gateway is not a system user: $user_line"
[ "$(cut -d: -f7 <<<"$user_line")" = /usr/sbin/nologin ] || fail "install: edge-gateway has a login shell: $user_line"
expect_mode() {
  local path="$1" want="$2" got
  got="$(stat -c '%a %U:%G' "$path" 2>/dev/null)" || fail "install: $path is missing"
  [ "$got" = "$want" ] || fail "install: $path is $got, wanted $want"
}
expect_mode /usr/lib/edge-gateway/edge-gateway "755 root:root"
expect_mode /etc/edge-gateway "750 root:edge-gateway"
expect_mode /etc/edge-gateway/appsettings.json "640 root:edge-gateway"
expect_mode /etc/edge-gateway/credentials "700 root:root"
expect_mode /etc/edge-gateway/credentials/local-api-tokens "600 root:root"
expect_mode /var/lib/edge-gateway "700 edge-gateway:edge-gateway"
expect_mode /etc/avahi/services/edge-gateway.service "644 root:root"
grep -q '^/etc/edge-gateway/appsettings.json$' /var/lib/dpkg/info/edge-gateway.conffiles \
  || fail "install: appsettings.json is not a conffile"
if grep -rqs "$(awk '!/^#/ {print $3}' /etc/edge-gateway/credentials/local-api-tokens)" "$logs/dpkg-install.log"; then
  fail "install: the generated token appears in the installation output"
fi
ok "installed: user $(cut -d: -f1,3 <<<"$user_line"), binary, conffiles, token file 600, state directory 700"

verify_out="$(systemd-analyze verify /lib/systemd/system/edge-gateway.service 2>&1)" \
  || fail "systemd-analyze verify: $verify_out"
[ -z "$verify_out" ] || fail "systemd-analyze verify: $verify_out"
exposure="$(systemd-analyze security --offline=true --no-pager /lib/systemd/system/edge-gateway.service 2>/dev/null \
  | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
[ -n "$exposure" ] || fail "systemd-analyze security gave no score for the installed unit"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "systemd-analyze security: installed unit scores $exposure, above 2.0"
drop_in="none"
[ ! -e /lib/systemd/system/edge-gateway.service.d/jit.conf ] || drop_in="jit.conf (MemoryDenyWriteExecute=no)"
ok "installed unit: systemd-analyze verify clean, security exposure $exposure, drop-in: $drop_in"

# No systemd as PID 1 here: run the installed binary the way the unit does, as the service user with its groups,
# no capabilities, the unit's umask, and $CREDENTIALS_DIRECTORY holding a copy of the token file as LoadCredential=
# would. The smoke authenticates with the generated admin token (read here, never printed).
new_temp
credentials="$REPLY"
chmod 0700 "$credentials"
install -m 0600 -o edge-gateway -g edge-gateway /etc/edge-gateway/credentials/local-api-tokens "$credentials/local-api-tokens"
chown edge-gateway:edge-gateway "$credentials"
token="$(awk '!/^#/ && NF == 3 {print $3; exit}' /etc/edge-gateway/credentials/local-api-tokens)"
extract="/var/lib/edge-gateway/.net-extract"
umask_before="$(umask)"
umask 0077
SMOKE_DATA=/var/lib/edge-gateway SMOKE_TOKEN="$token" smoke "installed package as edge-gateway" \
  setpriv --reuid=edge-gateway --regid=edge-gateway --init-groups --inh-caps=-all --bounding-set=-all \
  env -i PATH=/usr/bin:/bin HOME=/var/lib/edge-gateway "CREDENTIALS_DIRECTORY=$credentials" \
  "DOTNET_BUNDLE_EXTRACT_BASE_DIR=$extract" \
  /usr/lib/edge-gateway/edge-gateway --config /etc/edge-gateway/appsettings.json
umask "$umask_before"
if grep -qF "$token" "$logs/installed package as edge-gateway.log" "$logs/installed package as edge-gateway.smoke.log"; then
  fail "the generated token appears in the daemon's log or the smoke's output"
fi
stray="$(find /var/lib/edge-gateway -not -user edge-gateway -print -quit)"
[ -z "$stray" ] || fail "state directory: $stray is not owned by edge-gateway"
ok "state directory: $(find /var/lib/edge-gateway -maxdepth 1 -name '*.db' | wc -l) databases, all owned by edge-gateway"

# Found by name: the installed Avahi file through a real avahi-daemon (with its own system bus when none runs).
if [ ! -S /run/dbus/system_bus_socket ]; then
  mkdir -p /run/dbus
  dbus_pid="$(dbus-daemon --system --fork --print-pid 2>"$logs/dbus.log")" \
    || fail "avahi: could not start a D-Bus system bus for avahi-daemon (log: $logs/dbus.log)"
fi
if ! avahi-daemon --check 2>/dev/null; then
  avahi-daemon -D >"$logs/avahi.log" 2>&1 || fail "avahi: avahi-daemon does not start here (log: $logs/avahi.log)"
  avahi_started=1
fi
found=""
for _ in $(seq 1 20); do
  found="$(timeout 10 avahi-browse -rtp _edge-gateway._tcp 2>>"$logs/avahi.log" | grep '^=' | head -n1 || true)"
  [ -z "$found" ] || break
  sleep 1
done
[ -n "$found" ] || fail "avahi-browse -rt _edge-gateway._tcp found nothing (log: $logs/avahi.log)"
version="$(dpkg-deb -f "$deb" Version)"
grep -q "version=$version" <<<"$found" || fail "avahi-browse: TXT lacks version=$version: $found"
ok "avahi-browse: \"$(cut -d';' -f4 <<<"$found" | sed 's/\\032/ /g')\" at $(cut -d';' -f7 <<<"$found"):$(cut -d';' -f9 <<<"$found") with version=$version"

# Purge: nothing left but the system user (Debian practice: a uid is not handed back; see docs/operations.md).
dpkg --purge edge-gateway >"$logs/dpkg-purge.log" 2>&1 || fail "dpkg --purge edge-gateway: $(tail -n1 "$logs/dpkg-purge.log")"
installed=0
for path in /usr/lib/edge-gateway /etc/edge-gateway /var/lib/edge-gateway /lib/systemd/system/edge-gateway.service \
    /lib/systemd/system/edge-gateway.service.d /etc/avahi/services/edge-gateway.service /usr/share/doc/edge-gateway \
    /etc/systemd/system/multi-user.target.wants/edge-gateway.service \
    /var/lib/systemd/deb-systemd-helper-enabled/edge-gateway.service.dsh-also \
    /var/lib/systemd/deb-systemd-helper-masked/edge-gateway.service; do
  [ ! -e "$path" ] || fail "purge left $path behind"
done
owned="$(find /etc /var /usr /opt -xdev -user edge-gateway -print -quit 2>/dev/null || true)"
[ -z "$owned" ] || fail "purge left $owned owned by edge-gateway"
getent passwd edge-gateway >/dev/null || fail "purge removed the system user, which Debian practice keeps"
ok "dpkg --purge: no files left; the system user edge-gateway stays (policy)"
ok "done"
