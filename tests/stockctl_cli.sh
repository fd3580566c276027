#!/usr/bin/env bash
# stockctl_cli.sh - stockctl's offline commands: exit codes and messages scripts rely on.
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

printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
