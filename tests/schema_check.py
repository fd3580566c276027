#!/usr/bin/env python3
"""schema_check.py - the JSON Schemas in schema/ against the metaschema, their examples and the C codec.

Usage: schema_check.py CODEC_TOOL (tests/tools/codec_tool; needs the PyPI package jsonschema). Checks the
schemas, their examples (they validate and the codec decodes them), random codec-encoded envelopes (they
validate), known-bad documents (both refuse them) and the type and reason names (the domain's). Prints each
failure, exits 1 if any. STOCKD_TEST_SEED=<n> changes the samples.
"""
import json
import os
import subprocess
import sys

import jsonschema

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema")
SAMPLES_PER_TYPE = 100

failures = []


def fail(what):
    failures.append(what)
    print("FAIL: " + what)


def load_schema(name):
    with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
        schema = json.load(f)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as error:
        fail(f"{name}: not a valid draft 2020-12 schema: {error.message}")
        return schema, None
    return schema, jsonschema.Draft202012Validator(schema)


def tool_run(tool, arguments, stdin=b""):
    return subprocess.run([tool] + arguments, input=stdin, capture_output=True, timeout=120)


def schema_types(schema):
    """The type names of the oneOf branches ({"$ref": "#/$defs/<Type>"})."""
    return [branch["$ref"].rsplit("/", 1)[1] for branch in schema["oneOf"]]


def with_defaults(schema, document):
    """The document with every absent data field that has a "default" filled in: the codec writes them."""
    data_schema = schema["$defs"].get(document.get("type"), {}).get("properties", {}).get("data", {})
    data = dict(document.get("data", {}))
    for key, field in data_schema.get("properties", {}).items():
        if key not in data and "default" in field:
            data[key] = field["default"]
    return dict(document, data=data)


def check_examples(tool, name, schema, validator, verb):
    seen = set()
    for index, example in enumerate(schema.get("examples", [])):
        where = f"{name} examples[{index}] ({example.get('type')})"
        seen.add(example.get("type"))
        for error in validator.iter_errors(example):
            fail(f"{where}: invalid against the schema: {error.message}")
        result = tool_run(tool, [verb], json.dumps(example, ensure_ascii=False).encode("utf-8"))
        if result.returncode != 0:
            fail(f"{where}: refused by the codec: {result.stdout.decode(errors='replace').strip()}")
        elif json.loads(result.stdout) != with_defaults(schema, example):
            fail(f"{where}: the codec re-encodes it differently: {result.stdout.decode().strip()}")
    missing = set(schema_types(schema)) - seen
    if missing:
        fail(f"{name}: no example for {sorted(missing)}")


def check_samples(tool, name, validator, verb, type_count, seed):
    count = SAMPLES_PER_TYPE * type_count
    result = tool_run(tool, [verb, str(count), str(seed)])
    if result.returncode != 0:
        fail(f"{name}: codec_tool {verb} failed: {result.stderr.decode(errors='replace').strip()}")
        return
    lines = result.stdout.decode("utf-8").splitlines()
    if len(lines) != count:
        fail(f"{name}: codec_tool {verb} printed {len(lines)} lines, not {count}")
    types = set()
    for line in lines:
        document = json.loads(line)
        types.add(document["type"])
        for error in validator.iter_errors(document):
            fail(f"{name}: encoded sample invalid against the schema: {error.message}: {line[:300]}")
            break
    if len(types) != type_count:
        fail(f"{name}: samples cover {len(types)} types, not {type_count}")


def check_refused(tool, name, validator, verb, documents, by_schema):
    for label, document in documents:
        text = document if isinstance(document, bytes) else json.dumps(document, ensure_ascii=False).encode()
        result = tool_run(tool, [verb], text)
        if result.returncode != 1:
            fail(f"{name} bad document '{label}': the codec accepts it (exit {result.returncode})")
        if by_schema and validator.is_valid(document):
            fail(f"{name} bad document '{label}': the schema accepts it")


def check_names(tool, command_schema, event_schema):
    result = tool_run(tool, ["names"])
    names = {"command": set(), "event": set(), "reason": set()}
    for line in result.stdout.decode().splitlines():
        kind, value = line.split(" ", 1)
        names[kind].add(value)
    rejected = event_schema["$defs"]["CommandRejected"]["properties"]["data"]["properties"]
    pairs = [
        ("command schema types", set(schema_types(command_schema)),
         names["command"] - {"ExpireReservations"}),
        ("command schema type enum", set(command_schema["properties"]["type"]["enum"]),
         names["command"] - {"ExpireReservations"}),
        ("event schema types", set(schema_types(event_schema)), names["event"]),
        ("event schema type enum", set(event_schema["properties"]["type"]["enum"]), names["event"]),
        ("CommandRejected command_type", set(rejected["command_type"]["enum"]), names["command"]),
        ("CommandRejected reason", set(rejected["reason"]["enum"]), names["reason"]),
    ]
    for label, in_schema, in_domain in pairs:
        if in_schema != in_domain:
            fail(f"{label}: schema has {sorted(in_schema)}, the domain {sorted(in_domain)}")


def command(type_name, data, **envelope):
    document = {"command_id": "c-1", "type": type_name, "sku": "SKU-1", "data": data}
    document.update(envelope)
    return document


def event(type_name, data, **envelope):
    document = {"type": type_name, "sku": "SKU-1", "sequence": 1, "command_id": "c-1", "time_ms": 0,
                "data": data}
    document.update(envelope)
    return document


def receive(quantity):
    return command("ReceiveStock", {"location": "W", "quantity": quantity})


BAD_COMMANDS = [
    ("unknown type", command("Frobnicate", {})),
    ("internal type", command("ExpireReservations", {"reservation_ids": ["r-1"]})),
    ("missing data", {"command_id": "c", "type": "CreateSku", "sku": "S"}),
    ("extra envelope key", command("CreateSku", {"name": "x"}, extra=1)),
    ("case-variant data key", command("ReceiveStock", {"location": "W", "Quantity": 1})),
    ("unknown data key", command("ReceiveStock", {"location": "W", "quantity": 1, "name": "x"})),
    ("quantity as string", receive("5")),
    ("quantity 0", receive(0)),
    ("quantity -1", receive(-1)),
    ("quantity 1.5", receive(1.5)),
    ("quantity above max", receive(1000000001)),
    ("quantity 2^31", receive(2147483648)),
    ("quantity true", receive(True)),
    ("quantity null", receive(None)),
    ("sku one byte too long", command("CreateSku", {"name": "x"}, sku="s" * 65)),
    ("sku starting with '-'", command("CreateSku", {"name": "x"}, sku="-s")),
    ("sku empty", command("CreateSku", {"name": "x"}, sku="")),
    ("lead time 0", command("CreateSku", {"name": "x", "lead_time_days": 0})),
    ("lead time 3651", command("CreateSku", {"name": "x", "lead_time_days": 3651})),
    ("sku with a space", command("CreateSku", {"name": "x"}, sku="a b")),
    ("sku with a trailing newline", command("CreateSku", {"name": "x"}, sku="abc\n")),
    ("command_id one byte too long", command("CreateSku", {"name": "x"}, command_id="c" * 129)),
    ("location one byte too long", receive(1) | {"data": {"location": "w" * 65, "quantity": 1}}),
    ("name empty", command("CreateSku", {"name": ""})),
    ("name 257 bytes", command("CreateSku", {"name": "n" * 257})),
    ("name with a newline", command("CreateSku", {"name": "a\nb"})),
    ("name with a C1 control", command("CreateSku", {"name": "a\u0085b"})),
    ("reorder_point -1", command("CreateSku", {"name": "x", "reorder_point": -1})),
    ("adjust with delta and counted",
     command("AdjustStock", {"location": "W", "reason": "r", "delta": 1, "counted": 1})),
    ("adjust with neither", command("AdjustStock", {"location": "W", "reason": "r"})),
    ("adjust delta 0", command("AdjustStock", {"location": "W", "reason": "r", "delta": 0})),
    ("adjust counted above max",
     command("AdjustStock", {"location": "W", "reason": "r", "counted": 10**15 + 1})),
    ("reserve ttl 0",
     command("ReserveStock", {"reservation_id": "r", "location": "W", "quantity": 1, "ttl_seconds": 0})),
    ("reserve ttl above max",
     command("ReserveStock",
             {"reservation_id": "r", "location": "W", "quantity": 1, "ttl_seconds": 2592001})),
    ("transfer with location",
     command("TransferStock", {"location": "A", "to_location": "B", "quantity": 1})),
    ("release without id", command("ReleaseReservation", {})),
    ("command id beginning with order:", command("CreateSku", {"name": "x"}, command_id="order:x")),
    ("reserve on an order line's reservation id",
     command("ReserveStock", {"reservation_id": "order:A:0", "location": "W", "quantity": 1})),
    ("release of an order line's reservation", command("ReleaseReservation", {"reservation_id": "order:A:1"})),
    ("fulfil with an order line's command id",
     command("FulfilReservation", {"reservation_id": "r-1"}, command_id="order:A:0:fulfil")),
    ("top level array", [command("CreateSku", {"name": "x"})]),
]

BAD_EVENTS = [
    ("unknown type", event("StockRecieved", {"location": "W", "quantity": 1})),
    ("command type as event type", event("ReceiveStock", {"location": "W", "quantity": 1})),
    ("sequence 0", event("StockReceived", {"location": "W", "quantity": 1}, sequence=0)),
    ("sequence 2^53", event("StockReceived", {"location": "W", "quantity": 1}, sequence=2**53)),
    ("time_ms -1", event("StockReceived", {"location": "W", "quantity": 1}, time_ms=-1)),
    ("missing sequence", {k: v for k, v in event("StockReceived", {"location": "W", "quantity": 1}).items()
                          if k != "sequence"}),
    ("SkuCreated without reorder_point", event("SkuCreated", {"name": "x"})),
    ("adjusted delta 0 without counted",
     event("StockAdjusted", {"location": "W", "delta": 0, "reason": "r"})),
    ("adjusted delta beyond on-hand max",
     event("StockAdjusted", {"location": "W", "delta": 10**15 + 1, "reason": "r"})),
    ("reserved expires_at_ms 0",
     event("StockReserved", {"reservation_id": "r", "location": "W", "quantity": 1, "expires_at_ms": 0})),
    ("released without location", event("ReservationReleased", {"reservation_id": "r", "quantity": 1})),
    ("rejected unknown reason",
     event("CommandRejected", {"command_type": "CreateSku", "reason": "nope", "detail": ""})),
    ("rejected unknown command type",
     event("CommandRejected", {"command_type": "Nope", "reason": "sku_exists", "detail": ""})),
    ("rejected detail 257 bytes",
     event("CommandRejected", {"command_type": "CreateSku", "reason": "sku_exists", "detail": "d" * 257})),
    ("extra data key", event("StockReceived", {"location": "W", "quantity": 1, "note": "x"})),
    ("version newer than known", event("StockReceived", {"location": "W", "quantity": 1}, version=2)),
    ("SkuCreated version 3", event("SkuCreated", {"name": "x", "reorder_point": 0}, version=3)),
    ("SkuCreated version 0", event("SkuCreated", {"name": "x", "reorder_point": 0}, version=0)),
    ("SkuCreated version 1 with lead time",
     event("SkuCreated", {"name": "x", "reorder_point": 0, "lead_time_days": 3})),
    ("SkuCreated lead time 0", event("SkuCreated", {"name": "x", "reorder_point": 0, "lead_time_days": 0},
                                     version=2)),
]

# Older versions of event types, as written before the current one: both accept them for ever, and the
# codec re-encodes them in the current version (tests/fixtures holds a whole stream of them).
OLD_EVENTS = [
    ("SkuCreated version 1", event("SkuCreated", {"name": "x", "reorder_point": 3}),
     dict(event("SkuCreated", {"name": "x", "reorder_point": 3}), version=2)),
    ("StockReceived version 1 spelled out", event("StockReceived", {"location": "W", "quantity": 1}, version=1),
     event("StockReceived", {"location": "W", "quantity": 1})),
]


# The order stage's own line commands (docs/orders.md): the codec decodes them, for the handler reads them
# on commands.by-sku, but no client may send them, so the command schema (what clients send) refuses them.
ORDER_LINE_COMMANDS = [
    ("ReserveStock of order line 0",
     command("ReserveStock", {"reservation_id": "order:A:0", "location": "W", "quantity": 1},
             command_id="order:A:0:reserve")),
    ("ReleaseReservation of order line 3",
     command("ReleaseReservation", {"reservation_id": "order:A:3"}, command_id="order:A:3:release")),
]


def check_order_line_commands(tool, validator):
    for label, document in ORDER_LINE_COMMANDS:
        if validator.is_valid(document):
            fail(f"order line command '{label}': the command schema accepts an id beginning with order:")
        result = tool_run(tool, ["decode-command"], json.dumps(document).encode())
        if result.returncode != 0:
            fail(f"order line command '{label}': the codec refuses it: {result.stdout.decode(errors='replace')}")


def check_old_events(tool, validator):
    for label, document, current in OLD_EVENTS:
        for error in validator.iter_errors(document):
            fail(f"old event '{label}': invalid against the schema: {error.message}")
        result = tool_run(tool, ["decode-event"], json.dumps(document).encode())
        if result.returncode != 0:
            fail(f"old event '{label}': refused by the codec: {result.stdout.decode(errors='replace').strip()}")
        elif json.loads(result.stdout) != current:
            fail(f"old event '{label}': re-encoded as {result.stdout.decode().strip()}")


# What no JSON Schema can say (the parsed value hides it): refused by the codec only.
CODEC_ONLY_BAD = [
    ("duplicate key", b'{"command_id":"c","type":"CreateSku","sku":"S","sku":"T","data":{"name":"x"}}'),
    ("duplicate key differing in case",
     b'{"command_id":"c","type":"ReceiveStock","sku":"S","data":{"location":"W","quantity":1,"Quantity":2}}'),
    ("NUL escape", b'{"command_id":"c","type":"CreateSku","sku":"S","data":{"name":"a\\u0000b"}}'),
    ("raw NUL byte", b'{"command_id":"c","type":"CreateSku","sku":"S","data":{"name":"a\x00b"}}'),
    ("invalid UTF-8", b'{"command_id":"c","type":"CreateSku","sku":"S","data":{"name":"a\xc0\xafb"}}'),
    ("trailing garbage", b'{"command_id":"c","type":"CreateSku","sku":"S","data":{"name":"x"}} x'),
    ("nesting deeper than 8",
     b'{"command_id":"c","type":"CreateSku","sku":"S","data":{"name":[[[[[[[1]]]]]]]}}'),
    ("byte order mark", b'\xef\xbb\xbf{"command_id":"c","type":"CreateSku","sku":"S","data":{"name":"x"}}'),
    ("leading zero",
     b'{"command_id":"c","type":"ReceiveStock","sku":"S","data":{"location":"W","quantity":01}}'),
    ("name of 86 characters but 258 bytes",
     ('{"command_id":"c","type":"CreateSku","sku":"S","data":{"name":"' + "\u20ac" * 86 + '"}}').encode()),
    ("empty input", b""),
    ("over 64 KiB", b'{"command_id":"c","type":"CreateSku","sku":"S","data":{"name":"x"}}' + b" " * 65536),
]


def check_order_schema(command_schema):
    """order.schema.json: a valid schema whose examples validate (tests/test_order.c decodes the same examples
    with the C codec), with the reject reasons of command rejections."""
    order_schema, order_validator = load_schema("order.schema.json")
    if order_validator is None:
        return
    for index, example in enumerate(order_schema.get("examples", [])):
        for error in order_validator.iter_errors(example):
            fail(f"order.schema.json: example {index} does not validate: {error.message}")
    outcome = next(branch for branch in order_schema["oneOf"]
                   if branch["properties"]["type"].get("const") == "OrderLineOutcome")
    reasons = set(outcome["properties"]["reason"]["enum"])
    event_schema, _ = load_schema("event.schema.json")
    expected = set(find_reject_reasons(event_schema))
    if reasons != expected:
        fail(f"order.schema.json: reject reasons {sorted(reasons ^ expected)} differ from event.schema.json's")


def find_reject_reasons(node):
    """The reject reason enum of a schema (the one that holds insufficient_stock)."""
    if isinstance(node, dict):
        if "insufficient_stock" in node.get("enum", []):
            return node["enum"]
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            found = find_reject_reasons(item)
            if found:
                return found
    return []


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    seed = int(os.environ.get("STOCKD_TEST_SEED", "20251124"))
    command_schema, command_validator = load_schema("command.schema.json")
    event_schema, event_validator = load_schema("event.schema.json")
    if command_validator is None or event_validator is None:
        return 1
    check_names(tool, command_schema, event_schema)
    check_examples(tool, "command.schema.json", command_schema, command_validator, "decode-command")
    check_examples(tool, "event.schema.json", event_schema, event_validator, "decode-event")
    check_samples(tool, "command.schema.json", command_validator, "sample-commands",
                  len(schema_types(command_schema)), seed)
    check_samples(tool, "event.schema.json", event_validator, "sample-events",
                  len(schema_types(event_schema)), seed)
    check_refused(tool, "command.schema.json", command_validator, "decode-command", BAD_COMMANDS, True)
    check_refused(tool, "event.schema.json", event_validator, "decode-event", BAD_EVENTS, True)
    check_old_events(tool, event_validator)
    check_order_line_commands(tool, command_validator)
    check_refused(tool, "codec", None, "decode-command", CODEC_ONLY_BAD, False)
    check_order_schema(command_schema)
    print(f"schema_check: {len(failures)} failure(s), seed {seed}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
