#!/usr/bin/env bash
# Local API fan-out benchmark: the Release daemon against an independent drone, A/B against a baseline build and
# against Mosquitto's MQTT-over-WebSocket fan-out of the same message to the same number of subscribers, in one run.
#   bench/run-api-bench.sh [CLIENTS[,CLIENTS...]] [STATE_HZ[,STATE_HZ...]] [SECONDS]      (defaults: 1000 10 20)
# Environment:
#   API_BENCH_BASELINE=<git ref>  also measure the daemon built from that ref (e.g. main), before this tree's
#   API_BENCH_WARMUP=10           seconds of full load before each measured window
#   API_BENCH_MOSQUITTO=0         skip the Mosquitto reference
#   API_BENCH_EMERGENCY=0         no emergency probe (idle measurements: CLIENTS 0 or 1)
#   API_BENCH_SERVER_CPU=0 API_BENCH_LOAD_CPU=1   cores for the server under test and for the load tool (taskset)
# The load tool (bench/EdgeGateway.LoadTest) hosts the drone (the project's simulator, state at STATE_HZ) and the
# CLIENTS subscribers; it times emergency from the HTTP request to the datagram's arrival at the drone, and reads
# the server's CPU (user+system) and RSS from /proc. Needs: mosquitto (Debian package) for the reference.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
client_counts="${1:-1000}"; rates="${2:-10}"; seconds="${3:-20}"
warmup="${API_BENCH_WARMUP:-10}"
server_cpu="${API_BENCH_SERVER_CPU:-0}"; load_cpu="${API_BENCH_LOAD_CPU:-1}"
port="${API_BENCH_PORT:-3102}"; mqtt_port="${API_BENCH_MQTT_PORT:-18883}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

build() { # build <source tree> <output dir>
  dotnet build "$1/src/EdgeGateway" -c Release -nologo -v quiet -clp:ErrorsOnly -o "$2" >/dev/null
}
build "$repo" "$work/this"
dotnet build bench/EdgeGateway.LoadTest -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null
load=(taskset -c "$load_cpu" dotnet "$repo/bench/EdgeGateway.LoadTest/bin/Release/net10.0/EdgeGateway.LoadTest.dll")
builds=()
if [ -n "${API_BENCH_BASELINE:-}" ]; then
  mkdir -p "$work/base-src"
  git archive "$API_BENCH_BASELINE" | tar -x -C "$work/base-src"
  build "$work/base-src" "$work/base"
  builds+=("base:$API_BENCH_BASELINE")
fi
builds+=("this:$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo +dirty)")

echo "machine: $(nproc) cores; load before: $(uptime)"
echo "server on core $server_cpu, load tool (subscribers, drone, emergency probe) on core $load_cpu; $client_counts clients x $rates Hz; warm-up ${warmup} s, window ${seconds} s"
emergency=--emergency; [ "${API_BENCH_EMERGENCY:-1}" = 0 ] && emergency=
results="$work/results.md"
bytes=444
for clients in ${client_counts//,/ }; do
for hz in ${rates//,/ }; do
for b in "${builds[@]}"; do
  dir="${b%%:*}"; label="${b#*:}"
  data="$work/data-$dir"; mkdir -p "$data"
  taskset -c "$server_cpu" dotnet "$work/$dir/edge-gateway.dll" --data-dir "$data" --urls "http://127.0.0.1:$port" \
    --Drones:Items:0:Id=tello-1 --Drones:Items:0:Address=127.66.0.2:18889 --Drones:LocalAddress=127.0.0.1 \
    --Drones:CommandPort=0 --Drones:StatePort=18890 \
    --LocalApi:Limits:MaxConnections=$((clients + 100)) --Logging:LogLevel:Default=Warning >"$data/gateway.log" 2>&1 &
  gw=$!; pids+=("$gw")
  for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$port/api/drone/status" && break; sleep 0.5; done
  "${load[@]}" --url "http://127.0.0.1:$port" --pid "$gw" --drone 127.66.0.2:18889 --state-port 18890 \
    --clients "$clients" --rate "$hz" --seconds "$seconds" --warmup "$warmup" $emergency --label "gateway $label" | tee "$work/out-$dir.txt"
  grep '^| gateway' "$work/out-$dir.txt" >>"$results" || true
  bytes=$(awk '/^message bytes:/ { print $3 }' "$work/out-$dir.txt")
  kill "$gw"; wait "$gw" 2>/dev/null || true
done

if [ "${API_BENCH_MOSQUITTO:-1}" != 0 ]; then
  # Mosquitto 2.0.x with Debian's libwebsockets will not start with only a websockets listener (eclipse-mosquitto/mosquitto
  # #2284, #2578), so a plain MQTT listener on loopback comes first; the websockets one binds every interface (#3045).
  printf 'allow_anonymous true\nmax_queued_messages 1000\nlistener %s 127.0.0.1\nlistener %s\nprotocol websockets\n' \
    "$((mqtt_port + 1))" "$mqtt_port" >"$work/mosquitto.conf"
  taskset -c "$server_cpu" mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
  mq=$!; pids+=("$mq")
  sleep 1
  "${load[@]}" --mqtt-ws "ws://127.0.0.1:$mqtt_port" --pid "$mq" --clients "$clients" --rate "$hz" --seconds "$seconds" \
    --warmup "$warmup" --message-bytes "${bytes:-444}" --label "mosquitto $(mosquitto -h 2>/dev/null | awk 'NR==1 { print $3 }')" | tee "$work/out-mosquitto.txt"
  grep '^| mosquitto' "$work/out-mosquitto.txt" >>"$results" || true
  kill "$mq"; wait "$mq" 2>/dev/null || true
fi
done
done

echo
echo "load after: $(uptime)"
echo "| server | clients | state Hz | delivered msg/s | p50 ms | p99 ms | max ms | skipped (superseded) | closed | server CPU % | server µs/msg | load tool µs/msg | server peak RSS MB | emergency p50/p99/max ms (n) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
cat "$results"
# The headline: each gateway row's CPU per message over Mosquitto's at the same clients and rate.
awk -F'|' '{ for (i = 2; i <= 12; i++) gsub(/ /, "", $i) }
  $2 ~ /^mosquitto/ { m[$3 "x" $4] = $12 }
  $2 ~ /^gateway/ { g[++n] = $0; k[n] = $3 "x" $4; v[n] = $12; name[n] = $2 }
  END { for (i = 1; i <= n; i++) if (k[i] in m) printf "%s at %s clients x Hz: %s us/msg = %.2f x Mosquitto (%s us/msg)\n", name[i], k[i], v[i], v[i] / m[k[i]], m[k[i]] }' "$results"
