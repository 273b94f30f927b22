#!/usr/bin/env bash
# Runs the whole test suite. Installs the real peers the tests need (Debian, as root) or stops
# with the exact command to run. A test never skips because a peer is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers used by the tests: the MQTT brokers (Mosquitto, RabbitMQ's MQTT plugin) and clients, socat and gpsd for serial, the
# Python aiohttp client that the existing agent backend uses against port 3002, and Debian's Chromium
# that Playwright drives for the field console (Playwright cannot download its own browser here),
# promtool (Debian's prometheus, about 25 s to install) to lint /metrics, systemd-analyze for the unit, and
# avahi-daemon for the DTD that the Avahi service file is validated against.
# Each entry: the command the tests run (or py.MODULE for a Python module), then the Debian package.
peers=(
  "mosquitto:mosquitto"
  "mosquitto_sub:mosquitto-clients"
  "rabbitmq-server:rabbitmq-server"
  "socat:socat"
  "gpsd:gpsd"
  "gpsfake:gpsd-clients"
  "python3:python3"
  "py.aiohttp:python3-aiohttp"
  "chromium:chromium"
  "promtool:prometheus"
  "systemd-analyze:systemd"
  "avahi-daemon:avahi-daemon"
)
missing=()
for entry in "${peers[@]}"; do
  cmd="${entry%%:*}"; pkg="${entry##*:}"
  if [[ "$cmd" == py.* ]]; then
    # The tests try python3 on PATH, then Debian's /usr/bin/python3 (a pyenv python3 does not see apt's modules).
    if ! python3 -c "import ${cmd#py.}" >/dev/null 2>&1 && ! /usr/bin/python3 -c "import ${cmd#py.}" >/dev/null 2>&1; then
      missing+=("$pkg")
    fi
  elif ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  # De-duplicate package names.
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  install_cmd="apt-get install -y ${missing[*]}"
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing test peers: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test.sh: the tests need: ${missing[*]}" >&2
    echo "test.sh: run this as root, then run the tests again:" >&2
    echo "  sudo apt-get update && sudo $install_cmd" >&2
    exit 3
  fi
fi
# mosquitto lives in /usr/sbin on Debian; make sure the tests find it.
export PATH="$PATH:/usr/sbin"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET SDK (see global.json) is required: https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
  exit 3
fi

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

dotnet build EdgeGateway.sln -c Debug -nologo -clp:ErrorsOnly

status=0
# One test assembly at a time (each runs its own classes in parallel): the suite runs on 2 cores, and
# timing-sensitive tests of real peers are more trustworthy without ten assemblies competing.
# The hang timeout is a last resort above every test's own timeout (every await has one; the publish test
# allows its publish.sh 20 minutes): at 5 minutes it killed a publish that was slow, not hung, under load.
dotnet test EdgeGateway.sln -c Debug --no-build -nologo \
  --logger "trx" --results-directory "$results" \
  -m:1 \
  --blame-hang-timeout 25m \
  -- RunConfiguration.TreatNoTestsAsError=false || status=$?

# One plain summary line over every test assembly.
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  skipped=$((skipped + ${t:-0} - ${e:-0}))
done
if [ "$passed" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "test.sh: no test ran" >&2
  status=1
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
