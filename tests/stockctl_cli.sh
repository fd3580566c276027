#!/usr/bin/env bash
# stockctl_cli.sh - stockctl's commands without a broker: exit codes, messages and requests scripts rely on.
# The HTTP commands run against tests/stockctl_fake_server.py (canned answers, records each request).
# Usage: tests/stockctl_cli.sh path/to/stockctl
set -uo pipefail
stockctl=$1
passed=0
failed=0

# expect NAME EXIT_CODE OUTPUT_SUBSTRING -- COMMAND... (stdin from $input)
expect() {
  local name=$1 code=$2 needle=$3
  shift 4
  local output status
  output=$(printf '%s' "${input:-}" | "$@" 2>&1)
  status=$?
  if [ "$status" = "$code" ] && [[ $output == *"$needle"* ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s: exit %s (want %s), output: %s\n' "$name" "$status" "$code" "$output"
  fi
}

input='{"command_id":"c-1","type":"ReceiveStock","sku":"SKU-1","data":{"location":"WH-1","quantity":5}}'
expect valid_command_prints_canonical 0 '"quantity":5' -- "$stockctl" validate command
input='{"command_id":"c-1","type":"ReceiveStock","sku":"SKU-1","data":{"location":"WH-1","quantity":1.5}}'
expect non_integral_quantity_names_field 1 'data.quantity: must be an integer' -- "$stockctl" validate command
input='{"command_id":"c-1","type":"ReceiveStock","sku":"SKU-1","data":{"location":"WH-1","quantity":5}} x'
expect trailing_garbage_refused 1 'trailing characters' -- "$stockctl" validate command
input='{"type":"SkuCreated","sku":"S","sequence":1,"command_id":"c","time_ms":0,"data":{"name":"n","reorder_point":0}}'
expect valid_event 0 '"SkuCreated"' -- "$stockctl" validate event
input=''
expect unknown_kind_is_usage 2 'usage' -- "$stockctl" validate thing
expect missing_file_is_io_error 3 'No such file' -- "$stockctl" validate command /nonexistent/file.json
expect partition_java_vector 0 '' -- "$stockctl" partition SKU-000001 --partitions 6
expect partition_zero_count_refused 2 'must be an integer in [1, 1024]' -- "$stockctl" partition SKU-1 --partitions 0
expect partition_bad_sku_refused 1 'not a valid SKU' -- "$stockctl" partition 'SKU/1'
expect unknown_command_is_usage 2 'unknown command' -- "$stockctl" frobnicate
expect help_lists_send 0 'send [FILE]' -- "$stockctl" --help
expect send_bad_config_names_key 2 'kafka.partitions' -- "$stockctl" send --kafka.partitions=0

# The partition of a SKU is Java's: toPositive(murmur2("SKU-000001")) % 6 = 3 (the Java-computed vector
# table in tests/test_murmur2.c, row SKU-000001, column 6).
got=$("$stockctl" partition SKU-000001 --partitions 6)
if [ "$got" = 3 ]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); printf 'FAIL partition_matches_java: got %s want 3\n' "$got"; fi

# ---- help texts and the exit codes they promise ------------------------------------------------------------
input=''
expect help_lists_exit_codes 0 '4  not found (HTTP 404)' -- "$stockctl" --help
expect help_lists_submit 0 'submit TYPE --FIELD=VALUE' -- "$stockctl" --help
for command in submit get history views lag rebuild health tail send verify validate partition; do
  expect "help_$command" 0 "Usage: stockctl $command" -- "$stockctl" "$command" --help
done
expect submit_help_lists_routes 0 'POST /v1/reservations/R/fulfil' -- "$stockctl" submit --help
expect submit_help_lists_exit_codes 0 '5 key missing or role too low' -- "$stockctl" submit receive -h
expect get_help_lists_min_position 0 '--min-position P' -- "$stockctl" get --help

# ---- the command line is checked before anything is sent (exit 2; 1 for a malformed identifier) ------------
closed=http://127.0.0.1:1
expect submit_without_type 2 'name a command type' -- "$stockctl" submit --url $closed
expect submit_unknown_type 2 'unknown command type "restock"' -- "$stockctl" submit restock --url $closed
expect submit_unknown_field_lists_fields 2 'its fields: --sku, --location, --quantity' -- \
  "$stockctl" submit receive --sku S --colour red --url $closed
expect submit_missing_field 2 'receive needs --location' -- "$stockctl" submit receive --sku S --quantity 1 --url $closed
expect submit_quantity_not_integer 2 '--quantity must be an integer, got "5.0"' -- \
  "$stockctl" submit receive --sku S --location L --quantity 5.0 --url $closed
expect submit_quantity_overflow 2 'must be an integer' -- \
  "$stockctl" submit receive --sku S --location L --quantity 9223372036854775808 --url $closed
expect submit_adjust_both 2 'exactly one of --delta and --counted' -- \
  "$stockctl" submit adjust --sku S --location L --reason r --delta 1 --counted 2 --url $closed
expect submit_adjust_neither 2 'exactly one of --delta and --counted' -- \
  "$stockctl" submit adjust --sku S --location L --reason r --url $closed
expect submit_field_twice 2 '--location is given twice' -- \
  "$stockctl" submit receive --sku S --location L --location M --quantity 1 --url $closed
expect submit_field_without_value 2 '--quantity needs a value' -- \
  "$stockctl" submit receive --sku S --location L --quantity
expect submit_wait_zero 2 '--wait must be a number of seconds' -- \
  "$stockctl" submit receive --sku S --location L --quantity 1 --wait 0 --url $closed
expect submit_file_with_type 2 '--file takes no command type' -- "$stockctl" submit receive --file x --url $closed
expect submit_file_with_id 2 '--id does not go with --file' -- "$stockctl" submit --file x --id c-1 --url $closed
expect submit_bad_path_sku 1 '"A/B" is not a valid SKU' -- \
  "$stockctl" submit receive --sku A/B --location L --quantity 1 --url $closed
expect submit_bad_idempotency_key 1 'is not a valid command id' -- \
  "$stockctl" submit receive --sku S --location L --quantity 1 --id 'c 1' --url $closed
expect get_nothing 2 'say what to get' -- "$stockctl" get --url $closed
expect get_thing 2 'say what to get' -- "$stockctl" get thing X --url $closed
expect get_sku_without_id 2 'get sku needs its id' -- "$stockctl" get sku --url $closed
expect get_sku_option_of_reservation 2 'does not go with get sku' -- "$stockctl" get sku S --sku T --url $closed
expect get_skus_as_of 2 'does not go with get skus' -- "$stockctl" get skus --as-of 0:1 --url $closed
expect get_sku_as_of_empty 2 '--as-of needs a position token' -- "$stockctl" get sku S --as-of '' --url $closed
expect get_nul_traversal_sku 1 'is not a valid SKU' -- "$stockctl" get sku '..%2F' --url $closed
expect get_bad_min_position 2 '--min-position must be partition:offset' -- \
  "$stockctl" get sku S --min-position 0:1,x --url $closed
expect views_no_min_position 2 'unexpected argument "--min-position"' -- \
  "$stockctl" views --min-position 0:1 --url $closed
expect history_limit_zero 2 '--limit must be an integer in [1, 100]' -- "$stockctl" history S --limit 0
expect history_limit_101 2 '--limit must be an integer in [1, 100]' -- "$stockctl" history S --limit 101
expect history_order_sideways 2 '--order must be oldest or newest' -- "$stockctl" history S --order sideways
expect history_without_sku 2 'name the SKU' -- "$stockctl" history --url $closed
expect rebuild_without_view 2 'name the view' -- "$stockctl" rebuild --url $closed
expect timeout_zero 2 '--timeout-ms must be an integer' -- "$stockctl" views --timeout-ms 0
expect tail_count_zero 2 '--count must be a positive integer' -- "$stockctl" tail events --count 0
# An option's value is a value, even when it reads like a flag: this submit goes out (and finds nobody).
expect help_word_as_field_value_is_sent 3 'connect' -- \
  "$stockctl" submit create-sku --sku S --name -h --url $closed
expect help_word_as_key_value_is_sent 3 'connect' -- "$stockctl" views --key --help --url $closed
# A bare stockd flag takes no value: the --help after it is a request for help.
expect help_after_bare_stockd_flag 0 'Usage: stockctl send' -- "$stockctl" send --kafka.embedded --help

# ---- the Kafka commands take stockd's flags in both forms, --KEY=VALUE and --KEY VALUE ----------------------
expect send_two_word_flag_is_checked 2 'must be an integer in [1, 1024]' -- "$stockctl" send --kafka.partitions 0
expect verify_two_word_config_reads_it 2 'cannot open' -- "$stockctl" verify --config /nonexistent/stockd-missing.json
# A data_dir with nothing to compare is no proof of anything: refused before Kafka is asked.
expect verify_empty_data_dir 3 'nothing to compare' -- \
  "$stockctl" verify --data_dir /nonexistent/stockd-data --kafka.bootstrap 127.0.0.1:1
# Kafka unreachable: tail says so and exits 3 instead of waiting for ever.
expect tail_unreachable_broker_exits_3 3 'Kafka' -- \
  timeout 20 "$stockctl" tail events --count 1 --kafka.bootstrap 127.0.0.1:1
# A line longer than a command can be is reported under its own number, and the next line under its own.
input="$(head -c 70000 /dev/zero | tr '\0' 'x')
{}"
expect send_long_line_keeps_line_numbers 1 'line 2:' -- "$stockctl" send --kafka.bootstrap 127.0.0.1:1
expect send_long_line_named 1 'line 1: longer than' -- "$stockctl" send --kafka.bootstrap 127.0.0.1:1
input=''

# ---- base URLs are parsed strictly (exit 2, nothing sent) --------------------------------------------------
expect url_https 2 'https is not supported' -- "$stockctl" views --url https://127.0.0.1:8443
expect url_other_scheme 2 'is not an http:// URL' -- "$stockctl" views --url ftp://127.0.0.1
expect url_without_scheme 2 'is not an http:// URL' -- "$stockctl" views --url 127.0.0.1:8080
expect url_with_path 2 'without a path, query or fragment' -- "$stockctl" views --url http://127.0.0.1:8080/api
expect url_with_query 2 'without a path, query or fragment' -- "$stockctl" views --url 'http://127.0.0.1:8080?x=1'
expect url_user_info 2 'user info in the URL is not supported' -- "$stockctl" views --url http://u:p@127.0.0.1
expect url_port_zero 2 'the port must be 1..65535' -- "$stockctl" views --url http://127.0.0.1:0
expect url_port_too_big 2 'the port must be 1..65535' -- "$stockctl" views --url http://127.0.0.1:65536
expect url_port_sign 2 'the port must be 1..65535' -- "$stockctl" views --url http://127.0.0.1:+80
expect url_port_empty 2 'the port must be 1..65535' -- "$stockctl" views --url http://127.0.0.1:
expect url_empty_host 2 'is not a host name' -- "$stockctl" views --url http://:8080
expect url_bad_host 2 'is not a host name' -- "$stockctl" views --url 'http://exa_mple:8080'
expect url_v6_unterminated 2 'unterminated IPv6 address' -- "$stockctl" views --url 'http://[::1:8080'
expect url_v6_not_an_address 2 'is not an IPv6 address' -- "$stockctl" views --url 'http://[zz::1]:8080'
expect url_v6_garbage_after 2 'the port must be 1..65535' -- "$stockctl" views --url 'http://[::1]x:8080'
STOCKCTL_URL=http://127.0.0.1:99999 expect url_from_environment 2 'the port must be 1..65535' -- "$stockctl" views
expect key_with_space_not_printed 2 'must be 1-1024 printable ASCII' -- "$stockctl" views --key 'sec ret'
output=$("$stockctl" views --key 'sec ret' 2>&1)
if [[ $output == *"sec ret"* ]]; then failed=$((failed + 1)); echo "FAIL key_printed: $output"; else
  passed=$((passed + 1)); fi

# ---- connection refused: exit 3 with a clear message -------------------------------------------------------
expect connection_refused 3 'GET http://127.0.0.1:1/v1/skus/MUG: cannot connect: Connection refused' -- \
  "$stockctl" get sku MUG --url $closed
STOCKCTL_URL=$closed expect connection_refused_environment_url 3 'cannot connect' -- "$stockctl" health
expect connection_refused_submit 3 'POST http://127.0.0.1:1/v1/skus/MUG/receipts: cannot connect' -- \
  "$stockctl" submit receive --sku MUG --location WH-1 --quantity 5 --url $closed

# ---- against the fake server: exact requests, output and exit codes ----------------------------------------
if ! command -v python3 >/dev/null; then
  echo "SKIP the HTTP tests: no python3"
else
  fake=$(mktemp -d)
  python3 "$(dirname "$0")/stockctl_fake_server.py" "$fake" &
  fake_pid=$!
  trap 'kill $fake_pid 2>/dev/null; rm -rf "$fake"' EXIT
  for _ in $(seq 100); do [ -f "$fake/port" ] && break; sleep 0.05; done
  port=$(cat "$fake/port")
  export STOCKCTL_URL=http://127.0.0.1:$port

  # request NAME LINE...: every LINE is a whole line of the last request's head (request line, headers)
  request() {
    local name=$1 line ok=1
    shift
    for line in "$@"; do grep -Fxq -- "$line" "$fake/last_head" || ok=0; done
    if [ $ok = 1 ]; then passed=$((passed + 1)); else
      failed=$((failed + 1)); printf 'FAIL %s: head was:\n%s\n' "$name" "$(cat "$fake/last_head")"; fi
  }
  # body NAME EXACT: the last request's body, byte for byte
  body() {
    local got
    got=$(cat "$fake/last_body"; printf x)
    if [ "${got%x}" = "$2" ]; then passed=$((passed + 1)); else
      failed=$((failed + 1)); printf 'FAIL %s: body %s, want %s\n' "$1" "${got%x}" "$2"; fi
  }
  no_header() {
    if grep -qi "^$2:" "$fake/last_head"; then failed=$((failed + 1)); printf 'FAIL %s: has %s\n' "$1" "$2"; else
      passed=$((passed + 1)); fi
  }

  expect submit_receive_pending 0 'pending: command c-gen accepted for processing' -- \
    "$stockctl" submit receive --sku MUG --location WH-1 --quantity 5
  request submit_receive_request 'POST /v1/skus/MUG/receipts' "Host: 127.0.0.1:$port" \
    'Content-Type: application/json' 'Content-Length: 32' 'Connection: close'
  body submit_receive_body '{"location":"WH-1","quantity":5}'
  no_header submit_without_key_sends_no_authorization Authorization
  no_header submit_without_wait_sends_no_prefer Prefer

  STOCKD_API_KEY=k-1 expect submit_exact_big_integer 0 'pending' -- \
    "$stockctl" submit receive --sku MUG --location=WH-1 --quantity=9007199254740993 --id c-42
  request submit_key_and_id 'Authorization: Bearer k-1' 'Idempotency-Key: c-42'
  body submit_integer_digits_kept '{"location":"WH-1","quantity":9007199254740993}'

  expect submit_adjust_min_int64 0 'pending' -- \
    "$stockctl" submit adjust --sku MUG --location WH-1 --reason $'said "hi"\tand\\left\n' --delta -9223372036854775808
  body submit_adjust_escapes_and_int64_min \
    '{"location":"WH-1","reason":"said \"hi\"\tand\\left\n","delta":-9223372036854775808}'
  expect submit_adjust_counted 0 'pending' -- \
    "$stockctl" submit adjust --sku MUG --location WH-1 --reason count --counted 7
  request submit_adjust_route 'POST /v1/skus/MUG/adjustments'
  body submit_adjust_counted_body '{"location":"WH-1","reason":"count","counted":7}'

  expect submit_create_sku 0 'accepted: CreateSku c-gen on MUG at 2:1873' -- \
    "$stockctl" submit create-sku --sku MUG --name 'Coffee mug' --reorder-point 5 --wait 2
  request submit_create_sku_route 'POST /v1/skus' 'Prefer: wait=2'
  body submit_create_sku_body '{"sku":"MUG","name":"Coffee mug","reorder_point":5}'

  expect submit_reserve_sync_events 0 'StockReserved  seq 4  at 2:1873' -- \
    "$stockctl" submit reserve --sku MUG --reservation_id R-1 --location WH-1 --quantity 2 --ttl-seconds 60 --wait 1
  request submit_reserve_route 'POST /v1/reservations'
  body submit_reserve_body '{"sku":"MUG","reservation_id":"R-1","location":"WH-1","quantity":2,"ttl_seconds":60}'

  expect submit_transfer 0 'pending' -- \
    "$stockctl" submit transfer --sku MUG --from-location WH-1 --to-location WH-2 --quantity 1
  request submit_transfer_route 'POST /v1/skus/MUG/transfers'
  body submit_transfer_body '{"from_location":"WH-1","to_location":"WH-2","quantity":1}'

  expect submit_release_without_sku 0 'pending' -- "$stockctl" submit release --reservation-id R-1
  request submit_release_route 'POST /v1/reservations/R-1/release'
  body submit_release_empty_object '{}'
  expect submit_fulfil_with_sku 0 'pending' -- "$stockctl" submit fulfil --reservation-id R-1 --sku MUG
  request submit_fulfil_route 'POST /v1/reservations/R-1/fulfil'
  body submit_fulfil_body '{"sku":"MUG"}'

  expect submit_rejected 1 'rejected: insufficient_stock: available 8 < 9' -- \
    "$stockctl" submit reserve --sku SHORT --reservation-id R-9 --location WH-1 --quantity 9 --wait 2
  expect submit_invalid_field 1 '400 invalid-body: quantity: must be in [1, 1000000000] (field quantity)' -- \
    "$stockctl" submit receive --sku MUG --location WH-1 --quantity 0
  expect submit_unknown_reservation 4 '404 not-found' -- "$stockctl" submit release --reservation-id R-NONE
  STOCKD_API_KEY=reader expect submit_role_too_low 5 '403 forbidden' -- \
    "$stockctl" submit receive --sku MUG --location WH-1 --quantity 5
  expect submit_json_prints_body 0 '{"command_id": "c-gen", "status": "pending"}' -- \
    "$stockctl" submit receive --sku MUG --location WH-1 --quantity 5 --json

  printf '%s\n' '{"type":"ReceiveStock","sku":"MUG","data":{"location":"WH-1","quantity":1}}' '' \
    '{"bad":1}' '{"type":"ReceiveStock","sku":"MUG","data":{"location":"WH-1","quantity":2}}' >"$fake/commands"
  before=$(cat "$fake/count")
  expect submit_file_reports_lines 1 'line 3: 400 invalid-body' -- "$stockctl" submit --file "$fake/commands"
  after=$(cat "$fake/count")
  if [ $((after - before)) = 3 ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL submit_file_posts_each_line: $((after - before)) requests"; fi
  request submit_file_route 'POST /v1/commands'
  body submit_file_line_as_is '{"type":"ReceiveStock","sku":"MUG","data":{"location":"WH-1","quantity":2}}'

  # nothing is sent when the command line is wrong
  before=$(cat "$fake/count")
  "$stockctl" submit receive --sku MUG --location WH-1 --quantity five >/dev/null 2>&1
  "$stockctl" get sku 'MUG%00' >/dev/null 2>&1
  "$stockctl" history MUG --limit 500 >/dev/null 2>&1
  if [ "$(cat "$fake/count")" = "$before" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL usage_errors_send_nothing"; fi

  expect get_sku_totals 0 'on_hand 10  reserved 2  available 8  reorder_point 5' -- "$stockctl" get sku MUG
  expect get_sku_locations 0 'WH-2            3         0          3' -- "$stockctl" get sku MUG
  request get_sku_route 'GET /v1/skus/MUG' 'Accept: application/json, application/problem+json'
  no_header get_sends_no_content_type Content-Type
  expect get_sku_min_position 0 'Coffee mug' -- "$stockctl" get sku MUG --min-position 0:5,1:7
  request get_min_position_query 'GET /v1/skus/MUG?min_position=0:5,1:7'
  expect get_sku_as_of 0 'as of 2026-11-25T10:00:05Z: right after event 5 StockReserved at 2:105' -- \
    "$stockctl" get sku MUG --as-of 2026-11-25T10:00:05Z
  expect get_sku_as_of_position 0 'right after event 5' -- "$stockctl" get sku MUG --as-of 2:105
  request get_sku_as_of_sent 'GET /v1/skus/MUG?as_of=2:105'
  expect get_sku_json_as_is 0 '"locations": [{"location": "WH-1"' -- "$stockctl" get sku MUG --json
  expect get_sku_not_found 4 '404 not-found: no SKU NONE [request req-1]' -- "$stockctl" get sku NONE
  expect get_sku_not_found_json 4 '"status": 404' -- "$stockctl" get sku NONE --json
  expect get_sku_server_error 3 '500 internal: the view failed' -- "$stockctl" get sku ERR
  expect get_sku_unauthorised 5 '401 unauthorized' -- "$stockctl" get sku AUTH
  expect get_sku_wrong_key 5 'pass a key with --key' -- "$stockctl" get sku MUG --key wrong
  output=$("$stockctl" get sku MUG --key wrong 2>&1)
  if [[ $output == *wrong* ]]; then failed=$((failed + 1)); echo "FAIL key_printed_on_401: $output"; else
    passed=$((passed + 1)); fi
  expect get_sku_body_over_bound 3 'more than the 1048576 stockctl reads' -- "$stockctl" get sku BIG
  expect get_sku_chunked 0 'WH-1            7         2          5' -- "$stockctl" get sku CHUNKED
  expect get_sku_not_json 3 'is not the JSON object stockd sends' -- "$stockctl" get sku BROKEN
  expect get_sku_timeout 3 'no valid answer' -- "$stockctl" get sku SLOW --timeout-ms 300
  expect get_skus 0 'MUG       10         2          8        5  no     Coffee mug' -- \
    "$stockctl" get skus --below-reorder-point --limit 10
  request get_skus_query 'GET /v1/skus?below_reorder_point=true&limit=10'
  expect get_reservation 0 'created_command_id  c-7' -- "$stockctl" get reservation R-1 --sku MUG
  request get_reservation_query 'GET /v1/reservations/R-1?sku=MUG'
  expect get_reservation_ambiguous 1 '409 ambiguous-reservation: several SKUs use R-AMB (SKUs: A B; pass --sku)' -- \
    "$stockctl" get reservation R-AMB
  expect get_command_accepted 0 'StockReserved  seq 4  at 2:1873' -- "$stockctl" get command c-1
  expect get_command_rejected_is_found 0 'reason          insufficient_stock' -- "$stockctl" get command c-rej

  expect history_first_page 0 '  2  2026-11-25T10:00:02.000Z  StockReceived  c-2      2:102     location=WH-1 quantity=10' -- \
    "$stockctl" history MUG --order newest --limit 2
  request history_query 'GET /v1/skus/MUG/history?order=newest&limit=2'
  expect history_says_more 0 '(more: --cursor c/2+, or --all)' -- "$stockctl" history MUG
  expect history_all_follows_cursor 0 'reservation_id=R-1 location=WH-1 quantity=2' -- "$stockctl" history MUG --all
  request history_cursor_encoded 'GET /v1/skus/MUG/history?cursor=c%2F2%2B'
  expect history_cursor 0 'StockReserved' -- "$stockctl" history MUG --cursor c/2+
  lines=$("$stockctl" history MUG --all --json | wc -l)
  if [ "$lines" = 2 ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL history_all_json_one_line_per_page: $lines lines"; fi

  expect views_table 0 'history  rebuilding  no      17     1217  running (progress 0.5)' -- "$stockctl" views
  expect lag_per_partition 0 'history          1       627  634    7' -- "$stockctl" lag
  expect rebuild_requested 0 'rebuild of stock: requested' -- "$stockctl" rebuild stock
  request rebuild_route 'POST /v1/views/stock/rebuild' 'Content-Length: 0'
  expect rebuild_running 1 '409 rebuild-running' -- "$stockctl" rebuild history
  expect rebuild_unknown_view 4 '404 not-found' -- "$stockctl" rebuild nope
  expect health_not_ready 3 'not ready: broker ok, replicas ok, shards ok, views FAILING' -- "$stockctl" health
  request health_route 'GET /readyz'
  expect health_not_ready_says_why 3 '  a view is more than views.lag_max events behind' -- "$stockctl" health
  expect health_live 0 'ok' -- "$stockctl" health --live
  request health_live_route 'GET /healthz'
  expect unknown_route_is_not_found 4 '404' -- "$stockctl" get command c-unknown
fi
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
