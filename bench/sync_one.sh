#!/usr/bin/env bash
# sync_one.sh - benchmark: the latency of one synchronous command at a time, stockd with every role in one
# instance. Prints figures; asserts nothing (not a test). Deletes the topics it created at the end.
#
# Starts stockd on a fresh topic prefix and data directory against a running broker (warm it first: the
# broker of scripts/kafka start), creates a SKU, then sends receipts one after another with curl
# -H 'Prefer: wait=10' (each answered once its outcome is in the outcomes view): the first
# BENCH_SYNC_COLD after the start are printed one by one (the path as a new user meets it), the next
# BENCH_SYNC_WARMUP are not measured, the next BENCH_SYNC_COUNT give p50/p90/p99/max. A latency is curl's
# time_total: from before the connect to the last byte of the answer (curl's own start-up is not in it).
# Usage: bench/sync_one.sh  (env: STOCKD_BUILD_DIR, BENCH_BOOTSTRAP, BENCH_SYNC_COUNT (50),
#                           BENCH_SYNC_WARMUP (20), BENCH_SYNC_COLD (5))
set -euo pipefail
cd "$(dirname "$0")/.."

build=${STOCKD_BUILD_DIR:-build/release}
bootstrap=${BENCH_BOOTSTRAP:-127.0.0.1:19092}
count=${BENCH_SYNC_COUNT:-50}
warmup=${BENCH_SYNC_WARMUP:-20}
cold=${BENCH_SYNC_COLD:-5}
cmake --build "$build" --target stockd bench_topics_delete >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d)
prefix=bench-sync-$$-$(date +%s)
stockd_pid=
cleanup() {
  if [ -n "$stockd_pid" ]; then kill -TERM "$stockd_pid" 2>/dev/null || true; wait "$stockd_pid" 2>/dev/null || true; fi
  "$build/bench_topics_delete" "$bootstrap" "$prefix" >/dev/null || echo "sync_one.sh: topics of $prefix not deleted" >&2
  rm -rf "$work"
}
trap cleanup EXIT

port=$(free_port)
url=http://127.0.0.1:$port
"$build/stockd" --data_dir="$work/data" --kafka.bootstrap="$bootstrap" --kafka.topic_prefix="$prefix" \
  --http.listen="127.0.0.1:$port" --log.level=warn 2> "$work/stockd.log" &
stockd_pid=$!
for _ in $(seq 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz" || true)" = 200 ] && break
  kill -0 "$stockd_pid" 2>/dev/null || { echo "sync_one.sh: stockd exited:" >&2; tail -n 20 "$work/stockd.log" >&2; exit 1; }
  sleep 0.1
done

# One synchronous POST: prints "<status> <milliseconds>".
post() { # path body
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST "$url$1" -H 'Content-Type: application/json' \
       -H 'Prefer: wait=10' -d "$2" | awk '{printf "%s %.2f\n", $1, $2 * 1000}'
}
receipt() { post /v1/skus/SKU-1/receipts '{"location":"WH-1","quantity":1}'; }

first=$(post /v1/skus '{"sku":"SKU-1","name":"sync bench","reorder_point":5}')
cold_ms=("${first#* }")
for _ in $(seq 2 "$cold"); do r=$(receipt); cold_ms+=("${r#* }"); done
for _ in $(seq "$warmup"); do receipt >/dev/null; done
: > "$work/latencies"
for _ in $(seq "$count"); do receipt >> "$work/latencies"; done

echo "sync one: stockd all roles, one instance, curl -H 'Prefer: wait=10' one after another, $(nproc) cores"
echo "sync one cold: first $cold commands after the start (CreateSku, then receipts): ${cold_ms[*]} ms"
sort -n -k2 "$work/latencies" | awk -v warmup="$warmup" '
  { status[NR] = $1; ms[NR] = $2; if ($1 != 200) bad++ }
  function rank(p) { r = int(p * NR + 0.999999); return ms[r < 1 ? 1 : r] }
  END { printf "sync one: n=%d after %d warm-up: p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f not_200=%d\n",
               NR, warmup, rank(0.50), rank(0.90), rank(0.99), ms[NR], bad + 0 }'
grep -E " error " "$work/stockd.log" | head -5 || true
