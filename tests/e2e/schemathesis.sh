#!/usr/bin/env bash
# schemathesis.sh - API conformance: schemathesis (an outside client) against the schema/openapi.yaml stockd
# serves, finding no 5xx and no answer that breaks the schema.
#
# Starts stockd with every role on a free 127.0.0.1 port, its own data directory and topic prefix and an
# admin API key, seeds the resources the spec's examples name (MUG-BLUE-350, order-1001, ...), runs
# `st run` with every check (stockd's own not_a_server_error and positive_data_acceptance, from
# schemathesis_hooks.py, in place of the built-in two), then stops stockd with SIGTERM and removes what it
# made (data directory, topics, consumer groups). Exit 0 only when schemathesis passed and stockd exited 0.
#
# Environment: STOCKD_BINARY (required), STOCKD_TEST_BOOTSTRAP (default 127.0.0.1:19092), STOCKD_TOPICS_DELETE
# (bench/topics_delete.c; skipped when unset), STOCKD_SCHEMATHESIS_EXAMPLES (per operation, default 30),
# STOCKD_TEST_SEED (schemathesis --seed; printed either way), STOCKD_KEEP=1 keeps the data directory and log.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
stockd=${STOCKD_BINARY:?set STOCKD_BINARY to the stockd executable}
bootstrap=${STOCKD_TEST_BOOTSTRAP:-127.0.0.1:19092}
examples=${STOCKD_SCHEMATHESIS_EXAMPLES:-30}
seed=${STOCKD_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}

readonly READY_TIMEOUT_S=60  # first start: topic creation, transactions, projectors catching up
readonly SEED_TIMEOUT_S=30   # a seeded command's outcome reaches the outcomes view
readonly STOP_TIMEOUT_S=30   # SIGTERM to exit: open transactions finish or abort

say() { printf 'schemathesis.sh: %s\n' "$*" >&2; }

venv=$("$root/scripts/pytools")

work=$(mktemp -d "${TMPDIR:-/tmp}/stockd-schemathesis.XXXXXX")
suffix="$(date +%s)-$$-$RANDOM"
prefix="st-$suffix"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
key=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)
base="http://127.0.0.1:$port"
partitions=3
pid=

# Stops stockd (SIGTERM, then SIGKILL after STOP_TIMEOUT_S) and sets stockd_status to its exit status.
stockd_status=
stockd_stop() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((STOP_TIMEOUT_S * 10)) ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "stockd did not stop within ${STOP_TIMEOUT_S} s of SIGTERM: killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  stockd_status=0
  wait "$pid" || stockd_status=$?
  pid=
}

cleanup() {
  stockd_stop
  if [ -n "${STOCKD_TOPICS_DELETE:-}" ]; then
    "$STOCKD_TOPICS_DELETE" "$bootstrap" "$prefix" || say "could not delete the topics of $prefix"
  fi
  if [ "${STOCKD_KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

log_tail() { say "stockd's log ($work/stockd.log), last lines:"; tail -n 40 "$work/stockd.log" >&2 || true; }

# ---- start ---------------------------------------------------------------------------------------------------

say "stockd on $base, topics $prefix.*, data in $work"
"$stockd" --instance.id="st-$suffix" --data_dir="$work/data" --kafka.bootstrap="$bootstrap" \
  --kafka.topic_prefix="$prefix" --kafka.partitions="$partitions" --http.listen="127.0.0.1:$port" \
  --http.api_keys="admin:$key" --http.wait_ms_max=1000 >"$work/stockd.log" 2>&1 &
pid=$!

deadline=$((SECONDS + READY_TIMEOUT_S))
until curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    say "stockd exited before it was ready"
    log_tail
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    say "stockd not ready within ${READY_TIMEOUT_S} s: $(curl -sS "$base/readyz" 2>&1 || true)"
    log_tail
    exit 1
  fi
  sleep 0.2
done

# ---- seed: the resources the spec's examples name ------------------------------------------------------------

# submit PATH COMMAND_ID BODY: posts a command and waits until its outcome is accepted.
submit() {
  local path=$1 command_id=$2 body=$3 status
  status=$(curl -sS -o "$work/answer" -w '%{http_code}' -X POST "$base$path" \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $command_id" --data-binary "$body")
  if [ "$status" != 202 ]; then
    say "seed: POST $path answered $status: $(cat "$work/answer")"
    return 1
  fi
  local deadline=$((SECONDS + SEED_TIMEOUT_S))
  while :; do
    status=$(curl -sS -o "$work/answer" -w '%{http_code}' "$base/v1/commands/$command_id" \
      -H "Authorization: Bearer $key")
    if [ "$status" = 200 ]; then
      if ! grep -q '"status":"accepted"' "$work/answer"; then
        say "seed: $command_id was not accepted: $(cat "$work/answer")"
        return 1
      fi
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "seed: no outcome for $command_id within ${SEED_TIMEOUT_S} s (last: $status $(cat "$work/answer"))"
      return 1
    fi
    sleep 0.1
  done
}

# place_order ID BODY: places an order (the spec's example ORDER-1) and waits until it is confirmed.
place_order() {
  local order_id=$1 body=$2 status
  status=$(curl -sS -o "$work/answer" -w '%{http_code}' -X POST "$base/v1/orders" \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' --data-binary "$body")
  if [ "$status" != 202 ]; then
    say "seed: POST /v1/orders answered $status: $(cat "$work/answer")"
    return 1
  fi
  local deadline=$((SECONDS + SEED_TIMEOUT_S))
  until curl -sS "$base/v1/orders/$order_id" -H "Authorization: Bearer $key" 2>/dev/null |
    grep -q '"status":"confirmed"'; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "seed: order $order_id not confirmed within ${SEED_TIMEOUT_S} s"
      return 1
    fi
    sleep 0.1
  done
}

seed() {
  submit /v1/skus 0b7c6f1e-5a43-4c1b-9d2e-8f1a2b3c4d5e \
    '{"sku":"MUG-BLUE-350","name":"Blue mug, 350 ml","reorder_point":20}' &&
    submit /v1/skus seed-2 '{"sku":"TEA-SENCHA","name":"Sencha \"first flush\" 100 g"}' &&
    submit /v1/skus/MUG-BLUE-350/receipts seed-3 '{"location":"WH-EAST:A-01","quantity":120}' &&
    submit /v1/skus/MUG-BLUE-350/receipts seed-4 '{"location":"STORE-12","quantity":10}' &&
    submit /v1/skus/TEA-SENCHA/receipts seed-5 '{"location":"WH-EAST:A-01","quantity":5}' &&
    submit /v1/reservations seed-6 \
      '{"sku":"MUG-BLUE-350","reservation_id":"order-1001","location":"WH-EAST:A-01","quantity":3,"ttl_seconds":900}' &&
    submit /v1/reservations seed-7 \
      '{"sku":"MUG-BLUE-350","reservation_id":"order-1002","location":"WH-EAST:A-01","quantity":1}' &&
    place_order ORDER-1 '{"order_id":"ORDER-1","lines":[{"sku":"MUG-BLUE-350","location":"WH-EAST:A-01","quantity":1},
      {"sku":"TEA-SENCHA","location":"WH-EAST:A-01","quantity":1}]}'
}
if ! seed; then
  log_tail
  exit 1
fi
say "seeded: $(curl -sS -D - -o /dev/null "$base/v1/skus/MUG-BLUE-350" -H "Authorization: Bearer $key" |
  tr -d '\r' | grep -i '^x-stockd-position' || true)"

# ---- schemathesis --------------------------------------------------------------------------------------------

say "schemathesis: $examples examples per operation, seed $seed"
export SCHEMATHESIS_HOOKS="$here/schemathesis_hooks.py" STOCKD_PARTITIONS=$partitions
st_status=0
(cd "$work" && "$venv/bin/st" run "$base/openapi.yaml" --url "$base" \
  -H "Authorization: Bearer $key" \
  --checks all --exclude-checks not_a_server_error,positive_data_acceptance \
  --max-examples "$examples" --seed "$seed" --generation-database none \
  --request-timeout 10 --workers 1 --no-color --output-truncate false) || st_status=$?

# ---- stop ----------------------------------------------------------------------------------------------------

stockd_stop
if [ "$stockd_status" != 0 ]; then
  say "stockd exited with status $stockd_status after SIGTERM"
  log_tail
fi
if [ "$st_status" != 0 ]; then
  say "schemathesis failed (exit $st_status); rerun with STOCKD_TEST_SEED=$seed"
  exit 1
fi
[ "$stockd_status" = 0 ] || exit 1
say "passed"
