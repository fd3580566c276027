"""schemathesis_hooks.py - stockd's versions of two schemathesis checks, loaded by tests/e2e/schemathesis.sh.

schemathesis's not_a_server_error and positive_data_acceptance judge by status alone. stockd has answers a
schema cannot tell apart from bugs by status: an opaque cursor the generator made up (400, field cursor), a
min_position no event has reached (503 position-not-reached, after http.wait_ms_max) or naming a partition
the topics do not have (400, field min_position; STOCKD_PARTITIONS says how many), a well-formed command
the domain rejects (409/422 with a reason), a name of 256 characters that is over 256 bytes in UTF-8 (400),
an as_of position token of a partition the SKU does not live on (400, field as_of).
These checks accept exactly those, by the problem's type and field, and fail everything else the built-in
ones fail; the run excludes the built-in two (tests/e2e/schemathesis.toml).
"""
import json
import os
import re

import schemathesis


def _problem(response):
    """The problem+json body as a dict, or {}."""
    if not response.headers.get("content-type", [""])[0].startswith("application/problem+json"):
        return {}
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _problem_code(problem):
    problem_type = problem.get("type", "")
    prefix = "urn:stockd:problem:"
    return problem_type[len(prefix):] if isinstance(problem_type, str) and problem_type.startswith(prefix) else ""


def _query(case):
    return case.query or {}


def _over_bytes(case, field, bytes_max):
    """Whether the body's field (a dotted path) is a string of more than bytes_max bytes in UTF-8."""
    node = case.body
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return isinstance(node, str) and len(node.encode("utf-8")) > bytes_max


# Free-text fields whose limit is in bytes (the schema's maxLength counts characters).
TEXT_FIELDS_BYTES_MAX = {"name": 256, "reason": 256, "data.name": 256, "data.reason": 256,
                         "description": 512, "brand": 128, "data.description": 512, "data.brand": 128}


def _search_query_refused(case):
    """Whether q is one the schema cannot bound: white space only, over 256 bytes, over 16 words."""
    q = _query(case).get("q")
    return isinstance(q, str) and (not q.split() or len(q.encode("utf-8")) > 256 or len(q.split()) > 16)


def _catalog_attributes(case):
    """The attributes object of an UpdateCatalog body or envelope, or {}."""
    body = case.body if isinstance(case.body, dict) else {}
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    attributes = data.get("attributes")
    return attributes if isinstance(attributes, dict) else {}


def _catalog_refusal_explained(case, field):
    """A GTIN whose check digit is wrong, or an attribute value over 128 bytes (the schema counts characters)."""
    attributes = _catalog_attributes(case)
    if field in ("attributes.gtin", "data.attributes.gtin") and "gtin" in attributes:
        return "a GTIN whose check digit the schema cannot check"
    if field in ("attributes", "data.attributes") and any(
            isinstance(value, str) and len(value.encode("utf-8")) > 128 for value in attributes.values()):
        return "an attribute value over its byte limit"
    return None


def _partition_out_of_range(case):
    """Whether min_position names a partition the topics do not have (the schema cannot know how many)."""
    partitions = int(os.environ.get("STOCKD_PARTITIONS", "0"))
    tokens = str(_query(case).get("min_position", ""))
    return partitions > 0 and any(int(token.split(":")[0]) >= partitions
                                  for token in tokens.split(",") if token.split(":")[0].isdigit())


def _order_lines_repeat(case, field):
    """Whether field is lines[N] of an order body whose line N repeats an earlier line's SKU and location."""
    match = re.match(r"^lines\[([0-9]+)\]$", field or "")
    lines = case.body.get("lines") if isinstance(case.body, dict) else None
    if match is None or not isinstance(lines, list) or int(match.group(1)) >= len(lines):
        return False
    key = lambda line: (line.get("sku"), line.get("location")) if isinstance(line, dict) else None
    index = int(match.group(1))
    return any(key(lines[earlier]) == key(lines[index]) for earlier in range(index))


def _explained(case, response):
    """Why a 400/409/422/503 to schema-valid input is not a bug, or None when it is not explained."""
    problem = _problem(response)
    code, field = _problem_code(problem), problem.get("field")
    status = response.status_code
    if status == 503 and code == "position-not-reached" and "min_position" in _query(case):
        return "min_position beyond what the view has passed"
    if status == 503 and code == "too-many-waits":
        return None  # the run waits once at a time: http.waits_max is never reached by it
    if status == 400 and field == "min_position" and _partition_out_of_range(case):
        return "a partition above kafka.partitions"
    if status == 400 and field == "as_of" and ":" in str(_query(case).get("as_of", "")).split("T")[0]:
        return "a position token of another partition than the SKU's (the schema cannot know which)"
    if status == 400 and field == "cursor" and "cursor" in _query(case):
        return "a made-up cursor"
    if status == 400 and field in TEXT_FIELDS_BYTES_MAX and _over_bytes(case, field, TEXT_FIELDS_BYTES_MAX[field]):
        return "text over its byte limit"
    if status == 400 and field == "below_reorder_point" and "q" in _query(case):
        return "a search (q) lists no stock, so below_reorder_point is refused with it"
    if status == 400 and field == "q" and _search_query_refused(case):
        return "a search q the schema cannot bound"
    if status == 400 and _catalog_refusal_explained(case, field):
        return _catalog_refusal_explained(case, field)
    if status == 400 and code == "invalid-body" and _order_lines_repeat(case, field):
        return "two order lines of one SKU and location (the schema cannot say one line per pair)"
    if status in (409, 422) and problem.get("reason"):
        return "the domain rejected the command"
    if status == 422 and code in ("idempotency-key-reused", "idempotency-key-mismatch"):
        return "an Idempotency-Key drawn twice, or a command_id that differs from it"
    if status == 409 and code in ("ambiguous-reservation", "rebuild-running"):
        return "state, not input"
    return None


@schemathesis.check
def stockd_not_a_server_error(ctx, response, case):
    """No 5xx, except 503 position-not-reached for a min_position the generator made up."""
    if response.status_code >= 500 and _explained(case, response) is None:
        raise AssertionError(
            f"Server error {response.status_code}: {response.content[:300].decode('utf-8', 'replace')}")
    return None


@schemathesis.check
def stockd_positive_data_acceptance(ctx, response, case):
    """Schema-valid input is accepted (2xx, 401/403/404/409), or refused for one of the reasons above."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    status = response.status_code
    if 200 <= status < 300 or status in (401, 403, 404, 409):
        return None
    if status >= 500:
        return None  # stockd_not_a_server_error's
    if _explained(case, response) is not None:
        return None
    raise AssertionError(
        f"Valid data refused with {status}: {response.content[:300].decode('utf-8', 'replace')}")
