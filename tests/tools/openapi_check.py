#!/usr/bin/env python3
"""openapi_check.py - schema/openapi.yaml against the server's route table and the envelope schemas.

Usage: openapi_check.py API_ROUTES_DUMP [OPENAPI_YAML]
  API_ROUTES_DUMP  tests/tools/api_routes_dump (prints src/api/routes.c's table as JSON)
  OPENAPI_YAML     default: schema/openapi.yaml

Fails (exit 1, one line per difference) when a route or method is in one and not the other, when a route's
statuses differ, when its security differs from its role (public: security []; else [{bearer: [role]}]),
when the unrouted statuses differ, when a $ref does not resolve, when a 4xx/5xx is not the shared Problem
as problem+json or a response lacks X-Request-Id, when a schema is not valid JSON Schema 2020-12 or an
example does not validate, and when the command and event schemas the spec embeds differ from
schema/command.schema.json (command_id optional) and schema/event.schema.json once every $ref is resolved.
Needs python3-yaml and python3-jsonschema.
"""
import copy
import json
import os
import subprocess
import sys

import jsonschema
import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBLEM_TYPE_PATTERN = "^urn:stockd:problem:[a-z-]+$"
# Error statuses whose body is not a problem: docs/http-api.md says /readyz answers 503 with its checks.
NOT_PROBLEMS = {("GET", "/readyz", "503")}
# Keywords for people: the embedded schemas may word them differently from the JSON Schema files.
ANNOTATIONS = ("description", "$comment", "title", "examples", "example")

failures = []


def fail(what):
    failures.append(what)
    print("FAIL: " + what)


def pointer_get(document, pointer):
    """The node at a JSON pointer ("#/a/b"), or raises KeyError."""
    if not pointer.startswith("#"):
        raise KeyError(pointer)
    node = document
    for part in pointer[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(pointer)
    return node


def check_refs(document, node, where):
    """Every $ref in node is local and resolves in document."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            try:
                pointer_get(document, ref)
            except (KeyError, ValueError, IndexError):
                fail(f"{where}: $ref {ref!r} does not resolve")
        for key, value in node.items():
            check_refs(document, value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            check_refs(document, value, f"{where}/{index}")


def resolved(document, node, depth=0):
    """node with every $ref replaced by what it names (siblings of a $ref kept), annotations dropped."""
    if depth > 64:
        raise RecursionError("$ref cycle")
    if isinstance(node, list):
        return [resolved(document, value, depth + 1) for value in node]
    if not isinstance(node, dict):
        return node
    out = {}
    if "$ref" in node:
        target = resolved(document, pointer_get(document, node["$ref"]), depth + 1)
        if not isinstance(target, dict):
            return target
        out = dict(target)
    for key, value in node.items():
        if key == "$ref" or key in ANNOTATIONS:
            continue
        value = resolved(document, value, depth + 1)
        if key in out and out[key] != value:
            return {"allOf": [out, {k: v for k, v in node.items() if k != "$ref"}]}
        out[key] = value
    return out


def first_difference(left, right, where="$"):
    """A path where two JSON values differ, or None."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            if key not in left:
                return f"{where}.{key} only in the JSON Schema file"
            if key not in right:
                return f"{where}.{key} only in openapi.yaml"
            difference = first_difference(left[key], right[key], f"{where}.{key}")
            if difference:
                return difference
        return None
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right)):
            difference = first_difference(a, b, f"{where}[{index}]")
            if difference:
                return difference
        return None
    if left != right or type(left) is not type(right):
        return f"{where}: openapi.yaml has {json.dumps(left)}, the JSON Schema file {json.dumps(right)}"
    return None


def check_routes(spec, table):
    spec_operations = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                spec_operations[(method.upper(), path)] = item[method]
    table_routes = {(route["method"], route["path"]): route for route in table["routes"]}

    for key in sorted(set(table_routes) - set(spec_operations)):
        fail(f"{key[0]} {key[1]}: in api_routes[] but not in openapi.yaml")
    for key in sorted(set(spec_operations) - set(table_routes)):
        fail(f"{key[0]} {key[1]}: in openapi.yaml but not in api_routes[]")

    global_security = spec.get("security")
    for key in sorted(set(table_routes) & set(spec_operations)):
        route, operation = table_routes[key], spec_operations[key]
        name = f"{key[0]} {key[1]}"
        responses = operation.get("responses", {})
        spec_statuses = set()
        for status in responses:
            if not str(status).isdigit():
                fail(f"{name}: response {status!r} is not an exact status code")
            else:
                spec_statuses.add(int(status))
        table_statuses = set(route["statuses"])
        if spec_statuses != table_statuses:
            missing = sorted(table_statuses - spec_statuses)
            extra = sorted(spec_statuses - table_statuses)
            fail(f"{name}: statuses differ: api_routes[] only {missing}, openapi.yaml only {extra}")

        security = operation.get("security", global_security)
        expected = [] if route["role"] == "public" else [{"bearer": [route["role"]]}]
        if security != expected:
            fail(f"{name}: security {json.dumps(security)} but the route's role {route['role']} "
                 f"means {json.dumps(expected)}")
        if operation.get("summary") != route["summary"]:
            fail(f"{name}: summary {operation.get('summary')!r} differs from the table's {route['summary']!r}")

    unrouted = spec.get("x-stockd-unrouted-statuses")
    if unrouted != table["unrouted_statuses"]:
        fail(f"x-stockd-unrouted-statuses {unrouted} differs from api_unrouted_statuses "
             f"{table['unrouted_statuses']}")


def check_responses(spec):
    """Every response has X-Request-Id; every 4xx/5xx is the shared Problem as problem+json."""
    problem = spec.get("components", {}).get("schemas", {}).get("Problem", {})
    type_pattern = problem.get("properties", {}).get("type", {}).get("pattern")
    if type_pattern != PROBLEM_TYPE_PATTERN:
        fail(f"components.schemas.Problem.type.pattern is {type_pattern!r}, not {PROBLEM_TYPE_PATTERN!r}")
    if problem.get("additionalProperties") is not False:
        fail("components.schemas.Problem does not say additionalProperties: false")
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                name = f"{method.upper()} {path} {status}"
                try:
                    while "$ref" in response:
                        response = pointer_get(spec, response["$ref"])
                except KeyError:
                    continue  # reported by check_refs
                if "X-Request-Id" not in response.get("headers", {}):
                    fail(f"{name}: no X-Request-Id response header")
                if str(status)[0] in "45" and (method.upper(), path, str(status)) not in NOT_PROBLEMS:
                    content = response.get("content", {})
                    schema = content.get("application/problem+json", {}).get("schema", {})
                    if list(content) != ["application/problem+json"] or \
                            schema.get("$ref") != "#/components/schemas/Problem":
                        fail(f"{name}: not application/problem+json with the shared Problem schema")
                if str(status) == "401" and "WWW-Authenticate" not in response.get("headers", {}):
                    fail(f"{name}: no WWW-Authenticate header")


def check_schemas(spec):
    """Component schemas are valid 2020-12 schemas; examples validate against their (resolved) schemas."""
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as error:
            fail(f"components.schemas.{name}: not a valid JSON Schema: {error.message}")
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method, {})
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                if "example" not in content:
                    continue
                try:
                    schema = resolved(spec, content["schema"])
                except (KeyError, RecursionError):
                    continue  # reported by check_refs
                errors = list(jsonschema.Draft202012Validator(schema).iter_errors(content["example"]))
                for error in errors:
                    fail(f"{method.upper()} {path} request example ({media}): {error.message}")


def json_schema_load(name):
    with open(os.path.join(ROOT, "schema", name), encoding="utf-8") as f:
        return json.load(f)


def without_command_id(schema):
    """The schema with command_id removed from its required list (POST /v1/commands may leave it out)."""
    schema = copy.deepcopy(schema)
    schema["required"] = [key for key in schema.get("required", []) if key != "command_id"]
    return schema


def envelope_top(document):
    """A JSON Schema file's top-level schema without the file's own keys."""
    return {key: value for key, value in document.items() if key not in ("$schema", "$id", "$defs")}


def check_embedded(spec):
    """The command and event schemas in openapi.yaml equal the JSON Schema files, every $ref resolved."""
    schemas = spec.get("components", {}).get("schemas", {})
    pairs = []
    command = json_schema_load("command.schema.json")
    event = json_schema_load("event.schema.json")
    pairs.append(("Command", without_command_id(resolved(command, envelope_top(command)))))
    for branch in command["oneOf"]:
        type_name = branch["$ref"].rsplit("/", 1)[1]
        pairs.append((type_name + "Command", without_command_id(resolved(command, branch))))
    pairs.append(("Event", resolved(event, envelope_top(event))))
    for branch in event["oneOf"]:
        type_name = branch["$ref"].rsplit("/", 1)[1]
        pairs.append(("Event" + type_name, resolved(event, branch)))
    for name, expected in pairs:
        if name not in schemas:
            fail(f"components.schemas.{name}: missing (schema/*.schema.json has it)")
            continue
        try:
            actual = resolved(spec, schemas[name])
        except (KeyError, RecursionError):
            continue  # reported by check_refs
        if name == "Command":
            expected["oneOf"] = [without_command_id(branch) for branch in expected["oneOf"]]
        difference = first_difference(actual, expected)
        if difference:
            fail(f"components.schemas.{name} differs from schema/*.schema.json: {difference}")


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    spec_path = sys.argv[2] if len(sys.argv) == 3 else os.path.join(ROOT, "schema", "openapi.yaml")
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    dump = subprocess.run([sys.argv[1]], capture_output=True, timeout=60, check=True)
    table = json.loads(dump.stdout)

    if not str(spec.get("openapi", "")).startswith("3.1."):
        fail(f"openapi is {spec.get('openapi')!r}, not 3.1.x")
    check_refs(spec, spec, "#")
    check_routes(spec, table)
    check_responses(spec)
    check_schemas(spec)
    check_embedded(spec)

    if failures:
        print(f"openapi_check: {len(failures)} difference(s) between {os.path.relpath(spec_path)} and the server")
        return 1
    print(f"openapi_check: {len(table['routes'])} routes agree with {os.path.relpath(spec_path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
