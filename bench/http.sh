#!/usr/bin/env bash
# http.sh - benchmark of the HTTP API with wrk: async command intake, GET /v1/skus/{sku}, synchronous
# submission at a fixed rate, and stockd's peak RSS. Prints figures; asserts nothing (not a test). Deletes the topics it created at the end.
#
# Compares the intake with a minimal civetweb handler (bench/http_baseline.c) measured in the same run.
# Needs a broker (scripts/kafka start) and a release build with the bench targets:
#   cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build/release
# The synchronous line (bench/sync_load.py) is key=value pairs, which bench/run reads.
# Usage: bench/http.sh   (env: STOCKD_BUILD_DIR, BENCH_BOOTSTRAP, BENCH_SECONDS, BENCH_CONNECTIONS,
#                          BENCH_SYNC_RATE, BENCH_HTTP_THREADS)
set -euo pipefail
cd "$(dirname "$0")/.."

build=${STOCKD_BUILD_DIR:-build/release}
bootstrap=${BENCH_BOOTSTRAP:-127.0.0.1:19092}
seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-64}
sync_rate=${BENCH_SYNC_RATE:-500}
threads=${BENCH_HTTP_THREADS:-64}
command -v wrk >/dev/null || { echo "http.sh: wrk is missing (scripts/bootstrap installs it)" >&2; exit 1; }
cmake --build "$build" --target stockd bench_http_baseline bench_topics_delete >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # url status seconds
  for _ in $(seq $(( $3 * 10 ))); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = "$2" ] && return 0
    sleep 0.1
  done
  echo "http.sh: $1 never answered $2" >&2; return 1
}
rate_of() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
latency_of() { sed -n 's/^ *Latency *\([^ ]*\).*/\1/p' "$1"; }

work=$(mktemp -d)
pids=()
prefixes=() # topic prefixes this run created: deleted at the end (bench_topics_delete)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for prefix in "${prefixes[@]}"; do
    "$build/bench_topics_delete" "$bootstrap" "$prefix" >/dev/null || echo "http.sh: topics of $prefix not deleted" >&2
  done
  rm -rf "$work"
}
trap cleanup EXIT

echo "http.sh: $(nproc) cores, wrk ${seconds}s x ${connections} connections, keep-alive, $threads server threads"

# 1. The minimal civetweb handler: the ceiling for this machine and client.
port=$(free_port)
"$build/bench_http_baseline" "$port" "$threads" & pids+=($!)
wait_for "http://127.0.0.1:$port/" 202 10
wrk -t2 -c"$connections" -d"${seconds}s" -s bench/wrk/receipt.lua "http://127.0.0.1:$port/v1/skus/SKU-1/receipts" > "$work/baseline.txt"
baseline=$(rate_of "$work/baseline.txt")
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
echo "baseline civetweb POST:  $baseline req/s (latency avg $(latency_of "$work/baseline.txt"))"

# 2. stockd with only the api role: the API's own intake, with no router, handler or projectors sharing the
#    cores (they consume what it produces in the run below).
port=$(free_port)
prefixes+=("bench-http-api-$$-$(date +%s)")
"$build/stockd" --roles=api --data_dir="$work/api-only" --kafka.bootstrap="$bootstrap" \
  --kafka.topic_prefix="${prefixes[0]}" --http.listen="127.0.0.1:$port" --http.threads="$threads" \
  --log.level=warn 2> "$work/api-only.log" & pids+=($!)
wait_for "http://127.0.0.1:$port/healthz" 200 30
# Warm-up (topic metadata, producer connections): not measured.
wrk -t2 -c"$connections" -d2s -s bench/wrk/receipt.lua "http://127.0.0.1:$port/v1/skus/SKU-1/receipts" > /dev/null
wrk -t2 -c"$connections" -d"${seconds}s" -s bench/wrk/receipt.lua "http://127.0.0.1:$port/v1/skus/SKU-1/receipts" > "$work/api-only.txt"
api_only=$(rate_of "$work/api-only.txt")
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
echo "stockd --roles=api POST (202): $api_only req/s (latency avg $(latency_of "$work/api-only.txt")), $(python3 -c "print(f'{$api_only / $baseline * 100:.0f}')")% of the baseline"

# 3. stockd with every role on a fresh topic prefix.
port=$(free_port)
prefix=bench-http-$$-$(date +%s)
prefixes+=("$prefix")
"$build/stockd" --data_dir="$work/data" --kafka.bootstrap="$bootstrap" --kafka.topic_prefix="$prefix" \
  --http.listen="127.0.0.1:$port" --http.threads="$threads" --log.level=warn 2> "$work/stockd.log" & pids+=($!)
stockd_pid=${pids[0]}
url=http://127.0.0.1:$port
wait_for "$url/readyz" 200 60
skus=()
for i in $(seq 1 20); do skus+=("SKU-$i"); done
for sku in "${skus[@]}"; do
  curl -s -o /dev/null -X POST "$url/v1/skus" -H 'Content-Type: application/json' -H 'Prefer: wait=10' \
       -d "{\"sku\":\"$sku\",\"name\":\"bench $sku\",\"reorder_point\":5}"
done
wait_for "$url/v1/skus/SKU-20" 200 30

wrk -t2 -c"$connections" -d"${seconds}s" -s bench/wrk/receipt.lua "$url/v1/skus/SKU-1/receipts" > "$work/intake.txt"
intake=$(rate_of "$work/intake.txt")
grep -q "Non-2xx" "$work/intake.txt" && echo "http.sh: intake had non-2xx answers: $(grep Non-2xx "$work/intake.txt")"
echo "stockd all roles POST (202): $intake req/s (latency avg $(latency_of "$work/intake.txt")), $(python3 -c "print(f'{$intake / $baseline * 100:.0f}')")% of the baseline"

# Let the pipeline drain the intake before measuring reads and synchronous latency.
for _ in $(seq 300); do
  lag=$(curl -s "$url/v1/views" | python3 -c 'import json,sys; print(sum((v["lag"] or 0) for v in json.load(sys.stdin)["views"]))')
  [ "$lag" = 0 ] && break
  sleep 1
done

wrk -t2 -c"$connections" -d"${seconds}s" "$url/v1/skus/SKU-1" > "$work/get.txt"
grep -q "Non-2xx" "$work/get.txt" && echo "http.sh: GET had non-2xx answers: $(grep Non-2xx "$work/get.txt")"
echo "stockd GET /v1/skus/{sku}: $(rate_of "$work/get.txt") req/s (latency avg $(latency_of "$work/get.txt"))"

python3 bench/sync_load.py "$port" "$sync_rate" "$seconds" "$(IFS=,; echo "${skus[*]}")"

echo "stockd peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/"$stockd_pid"/status)"
kill -TERM "$stockd_pid"; wait "$stockd_pid" 2>/dev/null || true; pids=()
grep -E " (error|warn) " "$work/stockd.log" | head -5 || true
