#!/usr/bin/env python3
"""test_http.py - the HTTP API over real HTTP against real stockd processes and a real Kafka broker.

Starts its own stockd subprocesses (own temp data dirs, one unique kafka.topic_prefix per run, free
127.0.0.1 ports, 3 partitions) and drives every route of src/api/routes.c: successes, every documented error
with its problem+json body, commands async and sync, idempotency, queries with paging and min_position on
two instances, API keys and roles, and hostile requests by name (each must get its 4xx, leave the server
answering /healthz and write nothing to <prefix>.commands or <prefix>.commands.by-sku). HTTP commands go to
<prefix>.commands.by-sku without the router (docs/write-path.md): one SKU's commands are decided in submission
order on any API instance, a key sent again while in flight is decided once, an instance without the router
role decides them, and nothing reaches <prefix>.commands or the DLQ. At the end it checks that every (method,
route, status) it saw is in the route table and lists the ones it never saw; every route must have had a 2xx.

Docs are the contract (docs/http-api.md, schema/openapi.yaml): a case asserts what they say, so a failing
case names a server bug (or a doc bug) precisely. Python 3 standard library only.

Environment (ctest sets it): STOCKD_BINARY, STOCKD_TEST_BOOTSTRAP, STOCKD_ROUTES_DUMP (tests/tools/
api_routes_dump), STOCKD_TOPIC_OFFSETS (tests/tools/topic_offsets), STOCKD_TOPICS_DELETE
(bench/topics_delete.c: the run's topics and groups are deleted at the end; skipped when unset).
STOCKD_KEEP=1 keeps the data dirs, logs and topics. Exit 0 only when every case passed and every stockd exited 0 on SIGTERM.
"""

import ctypes
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

PARTITIONS = 3
WAIT_MS_MAX = 2000  # --http.wait_ms_max: min_position and Prefer: wait are cut to this
REQUEST_TIMEOUT_MS = 2000  # --http.request_timeout_ms: slow clients are cut off after this
HTTP_THREADS = 16  # --http.threads: small, so the slowloris case can hold more connections than threads
READY_TIMEOUT_S = 60  # first start: topic creation, transactions, views catching up
STOP_TIMEOUT_S = 30  # SIGTERM to exit
OUTCOME_TIMEOUT_S = 20  # an async command's outcome reaches the outcomes view
HTTP_TIMEOUT_S = 15  # any single answer
BODY_BYTES_MAX = 65536  # http.body_bytes_max default
ORDER_COMMANDS = 40  # commands of one SKU submitted one after another in the ordering case
IN_FLIGHT_COPIES = 4  # one Idempotency-Key and one command sent this many times at once

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
POSITION_LIST_RE = re.compile(r"^([0-9]{1,4}:[0-9]{1,18}(,[0-9]{1,4}:[0-9]{1,18})*)?$")
TOKEN_RE = re.compile(r"^[0-9]+:[0-9]+$")
PROBLEM_TYPE_RE = re.compile(r"^urn:stockd:problem:[a-z-]+$")
FAR_POSITION = "0:999999999"

QUERY_TEMPLATES = {
    ("GET", "/v1/skus/{sku}"),
    ("GET", "/v1/skus"),
    ("GET", "/v1/reservations/{id}"),
    ("GET", "/v1/skus/{sku}/history"),
    ("GET", "/v1/commands/{id}"),
}


def say(message):
    print(message, flush=True)


# ---- route table and coverage ---------------------------------------------------------------------------------


class RouteTable:
    """The server's route table: from api_routes_dump (JSON) when given, else read from src/api/routes.c."""

    def __init__(self, dump_path):
        if dump_path:
            output = subprocess.run([dump_path], check=True, capture_output=True, text=True).stdout
            table = json.loads(output)
        else:
            with open(os.path.join(SOURCE_ROOT, "src", "api", "routes.c")) as source:
                table = self.parse(source.read())
        self.routes = table["routes"]
        self.unrouted = set(table["unrouted_statuses"])
        check(len(self.routes) >= 19, f"the route table has {len(self.routes)} routes")

    @staticmethod
    def parse(text):
        """The table of routes.c by regular expression (when tests/tools/api_routes_dump is not built)."""
        def numbers(list_text):
            return [int(n) for n in re.findall(r"\d+", list_text) if int(n) != 0]

        text = text.replace("\\\n", " ")  # macro line continuations
        command = re.search(r"#define COMMAND_STATUSES\(success\)[^{]*\{\s*success,([^}]*)\}", text)
        reservation = re.search(r"#define RESERVATION_STATUSES[^{]*\{([^}]*)\}", text)
        routes = []
        entry = re.compile(r'\[API_ROUTE_\w+\]\s*=\s*\{\s*API_ROUTE_\w+,\s*"(\w+)",\s*"([^"]+)",\s*API_ROLE_(\w+),'
                           r'\s*"[^"]*",\s*(COMMAND_STATUSES\((\d+)\)|RESERVATION_STATUSES|\{([^}]*)\})')
        for match in entry.finditer(text):
            if match.group(5):
                statuses = [int(match.group(5))] + numbers(command.group(1))
            elif match.group(4) == "RESERVATION_STATUSES":
                statuses = numbers(reservation.group(1))
            else:
                statuses = numbers(match.group(6))
            routes.append({"method": match.group(1), "path": match.group(2), "role": match.group(3).lower(),
                           "statuses": sorted(statuses)})
        unrouted = re.search(r"api_unrouted_statuses\[\]\s*=\s*\{([^}]*)\}", text)
        return {"routes": routes, "unrouted_statuses": numbers(unrouted.group(1))}

    def classify(self, method, raw_path):
        """The (method, template) the server routes this request to, or (method, None) when unrouted
        (unknown path, other method, too many segments)."""
        path = raw_path.split("?", 1)[0].split("#", 1)[0]
        segments = path[1:].split("/") if path not in ("", "/") else []
        for route in self.routes:
            parts = route["path"][1:].split("/")
            if len(parts) != len(segments):
                continue
            if all(p.startswith("{") or p == s for p, s in zip(parts, segments)):
                if route["method"] == method:
                    return (method, route["path"])
        return (method, None)


class Coverage:
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}  # (method, template or None, status) -> first case name

    def record(self, key, status, case):
        with self.lock:
            self.seen.setdefault((key[0], key[1], status), case)


ROUTES = None
COVERAGE = Coverage()
QUERY_WITHOUT_POSITION = {}  # (template, status) -> a body: query answers without X-Stockd-Position
CURRENT_CASE = ["setup"]


# ---- HTTP ---------------------------------------------------------------------------------------------------


class Answer:
    def __init__(self, status, headers, body, method, path, elapsed_s):
        self.status = status
        self.header_list = headers  # [(name, value)] as received
        self.headers = {}
        for name, value in headers:
            self.headers.setdefault(name.lower(), value)
        self.body = body
        self.method = method
        self.path = path
        self.elapsed_s = elapsed_s
        self.retried = False  # answered by a second submission after a Prefer: wait ran out
        self._json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def header_count(self, name):
        return sum(1 for n, _ in self.header_list if n.lower() == name.lower())

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as error:
                raise AssertionError(
                    f"{self.method} {self.path} -> {self.status}: body is not JSON ({error}): {self.body[:300]!r}"
                )
        return self._json

    def __str__(self):
        return f"{self.method} {self.path} -> {self.status} {self.body[:400]!r}"


def check(condition, message):
    if not condition:
        raise AssertionError(message)


# Problems answered before a request is routed (civetweb's own errors, header limits): unrouted statuses.
UNROUTED_PROBLEMS = {"urn:stockd:problem:bad-request", "urn:stockd:problem:headers-too-large"}


def unrouted(answer):
    if not (answer.header("Content-Type") or "").startswith("application/problem+json"):
        return False
    try:
        return json.loads(answer.body.decode("utf-8")).get("type") in UNROUTED_PROBLEMS
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False


def check_answer(answer, expect_body=True):
    """What every answer must have: X-Request-Id; a problem+json body for errors; X-Stockd-Position on
    every answer of a query route once the route runs (200, 400, 404, 409 and 503 position-not-reached;
    not 401/403, refused before it, nor 503 view-unavailable). Records the (method, route, status)."""
    key = ROUTES.classify(answer.method, answer.path)
    if unrouted(answer):
        key = (answer.method, None)
    COVERAGE.record(key, answer.status, CURRENT_CASE[0])
    request_id = answer.header("X-Request-Id")
    check(request_id is not None, f"{answer}: no X-Request-Id header")
    check(REQUEST_ID_RE.match(request_id), f"{answer}: X-Request-Id {request_id!r} is not 1-64 of [A-Za-z0-9._-]")
    check(answer.header_count("X-Request-Id") == 1, f"{answer}: X-Request-Id sent more than once")
    if answer.status >= 400 and expect_body and key != ("GET", "/readyz"):  # readyz 503 has its own body
        check_problem(answer, answer.status)
        check(answer.json["request_id"] == request_id, f"{answer}: problem request_id differs from X-Request-Id")
    if key in QUERY_TEMPLATES and answer.header("X-Stockd-Position") is None:
        with COVERAGE.lock:
            QUERY_WITHOUT_POSITION.setdefault((key[1], answer.status), answer.body[:120])
    problem = answer.json if answer.status >= 400 and answer.body and isinstance(answer.json, dict) else {}
    undecodable = str(problem.get("detail", "")).startswith("the path ")  # not routed: no view either
    positioned = (answer.status in (200, 400, 404, 409) and not undecodable) or (
        answer.status == 503 and str(problem.get("type", "")).endswith(":position-not-reached"))
    if key in QUERY_TEMPLATES and positioned:
        position = answer.header("X-Stockd-Position")
        check(position is not None, f"{answer}: a query answer without X-Stockd-Position")
        check(POSITION_LIST_RE.match(position), f"{answer}: X-Stockd-Position {position!r} is not a token list")
    return answer


def check_problem(answer, status, code=None):
    content_type = answer.header("Content-Type") or ""
    check(
        content_type.startswith("application/problem+json"),
        f"{answer}: error with Content-Type {content_type!r}, not application/problem+json",
    )
    problem = answer.json
    check(isinstance(problem, dict), f"{answer}: problem is not an object")
    for member in ("type", "title", "status", "detail", "request_id"):
        check(member in problem, f"{answer}: problem lacks {member!r}")
    check(PROBLEM_TYPE_RE.match(str(problem["type"])), f"{answer}: problem type {problem['type']!r}")
    check(problem["status"] == answer.status, f"{answer}: problem status {problem['status']} != HTTP {answer.status}")
    check(isinstance(problem["title"], str) and problem["title"], f"{answer}: empty title")
    check(isinstance(problem["detail"], str), f"{answer}: detail is not a string")
    if code is not None:
        check(problem["type"] == "urn:stockd:problem:" + code, f"{answer}: expected problem {code}")
    return problem


def expect(answer, status, code=None):
    """Asserts the status (and the problem code for errors)."""
    check(answer.status == status, f"expected {status}{' ' + code if code else ''}, got {answer}")
    if code is not None:
        check_problem(answer, status, code)
    return answer


class Stockd:
    """One stockd subprocess with its own data dir, port and log (stdout and stderr together)."""

    def __init__(self, run, name, roles="api,router,handler,projector", extra=()):
        self.run = run
        self.name = name
        self.roles = roles
        self.extra = list(extra)
        self.port = free_port()
        self.data_dir = os.path.join(run.root, name)
        self.log_path = os.path.join(run.root, name + ".log")
        self.process = None
        self.exit_code = None

    def start(self):
        args = [
            self.run.binary,
            f"--instance.id={self.run.prefix}-{self.name}",
            f"--roles={self.roles}",
            f"--data_dir={self.data_dir}",
            f"--kafka.bootstrap={self.run.bootstrap}",
            f"--kafka.topic_prefix={self.run.prefix}",
            f"--kafka.partitions={PARTITIONS}",
            f"--http.listen=127.0.0.1:{self.port}",
            f"--http.wait_ms_max={WAIT_MS_MAX}",
            f"--http.request_timeout_ms={REQUEST_TIMEOUT_MS}",
            f"--http.threads={HTTP_THREADS}",
        ] + self.extra
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                        preexec_fn=die_with_parent)
        self.run.instances.append(self)
        say(f"  started {self.name} (pid {self.process.pid}) on 127.0.0.1:{self.port}, roles {self.roles}")

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode} before ready:\n{self.log_tail()}")
            try:
                last = self.get("/readyz")
                body = last.json
                check(set(body) == {"ready", "checks", "reasons"} and body["ready"] == (last.status == 200), f"{last}: body")
                if last.status == 200:
                    return
                check(last.status == 503, f"{last}: readyz is 200 or 503")
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready within {READY_TIMEOUT_S} s (last {last}):\n{self.log_tail()}")

    def stop(self):
        if self.process is None or self.exit_code is not None:
            return self.exit_code
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self.exit_code = "killed after SIGTERM timeout"
        self.log.close()
        return self.exit_code

    def log_text(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode("utf-8", "replace")

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- requests --

    def request(self, method, path, body=None, headers=None, key=None, json_body=None, timeout=HTTP_TIMEOUT_S):
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        if key is not None:
            headers["Authorization"] = "Bearer " + key
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        started = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            answer = Answer(response.status, response.getheaders(), data, method, path, time.monotonic() - started)
        finally:
            connection.close()
        return check_answer(answer, expect_body=method != "HEAD")

    def get(self, path, **options):
        return self.request("GET", path, **options)

    def post(self, path, json_body=None, **options):
        return self.request("POST", path, json_body=json_body, **options)

    def healthy(self):
        answer = self.get("/healthz")
        check(answer.status == 200 and answer.json == {"status": "ok"}, f"/healthz after the request: {answer}")


def die_with_parent():
    """In the child before exec: SIGKILL when the test process dies (a ctest timeout leaves no stockd)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- raw sockets (requests http.client will not send) -------------------------------------------------------


def raw_read_answer(sock, timeout_s=HTTP_TIMEOUT_S, leftover=None):
    """Reads one HTTP answer from sock. Returns (status, [(name, value)], body), or (None, [], b"") when
    the server closed (or reset) the connection without answering. leftover: a list of one bytes object
    holding what was read past this answer (pipelined answers), kept across calls."""
    sock.settimeout(timeout_s)
    data = leftover[0] if leftover else b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        if b"\r\n\r\n" not in data:
            return (None, [], data)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        length = next((int(v) for n, v in headers if n.lower() == "content-length"), None)
        while length is not None and len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        if length is not None and leftover is not None:
            body, leftover[0] = body[:length], body[length:]
        return (status, headers, body)
    except (ConnectionResetError, BrokenPipeError):
        return (None, [], data)


def raw_answer(instance, method, path, raw, status, headers, body, started):
    answer = Answer(status, headers, body, method, path, time.monotonic() - started)
    return check_answer(answer, expect_body=method != "HEAD")


def raw_request(instance, method, path, data, timeout_s=HTTP_TIMEOUT_S):
    """Sends bytes as they are and reads the answer (sending errors after a refusal are ignored)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", instance.port), timeout=timeout_s) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, headers, body = raw_read_answer(sock, timeout_s)
    check(status is not None, f"{method} {path}: connection closed without an answer ({body[:200]!r})")
    return raw_answer(instance, method, path, data, status, headers, body, started)


# ---- the run ------------------------------------------------------------------------------------------------


class Run:
    def __init__(self):
        self.binary = os.environ.get("STOCKD_BINARY")
        self.bootstrap = os.environ.get("STOCKD_TEST_BOOTSTRAP", "127.0.0.1:19092")
        self.routes_dump = os.environ.get("STOCKD_ROUTES_DUMP")
        self.topic_offsets = os.environ.get("STOCKD_TOPIC_OFFSETS")
        self.topics_delete = os.environ.get("STOCKD_TOPICS_DELETE")
        for name, value in (("STOCKD_BINARY", self.binary), ("STOCKD_ROUTES_DUMP", self.routes_dump or None),
                            ("STOCKD_TOPIC_OFFSETS", self.topic_offsets)):
            if name == "STOCKD_ROUTES_DUMP" and not value:
                continue  # optional: the table is read from src/api/routes.c
            if not value or not os.access(value, os.X_OK):
                raise SystemExit(f"test_http.py: {name} must name an executable (ctest sets it), got {value!r}")
        self.prefix = f"ithttp-{os.getpid()}-{os.urandom(4).hex()}"
        self.root = tempfile.mkdtemp(prefix="stockd-test-http.")
        self.instances = []
        self.commands_topic = self.prefix + ".commands"
        self.by_sku_topic = self.prefix + ".commands.by-sku"

    def topic_end(self, topic):
        """The sum of the topic's end offsets (0 when it does not exist)."""
        output = subprocess.run([self.topic_offsets, self.bootstrap, topic], check=True,
                                capture_output=True, text=True, timeout=60).stdout
        return int(output.strip())

    def produced_end(self):
        """Records on <prefix>.commands and <prefix>.commands.by-sku: what a command the API took adds to. The
        API writes by-sku itself; the router writes it only from <prefix>.commands."""
        return self.topic_end(self.commands_topic) + self.topic_end(self.by_sku_topic)


class Cases:
    """Runs named cases, each a function; a failure is reported and the run goes on."""

    def __init__(self):
        self.results = []  # (name, ok, seconds, message)

    def run(self, name, function, *args):
        CURRENT_CASE[0] = name
        started = time.monotonic()
        try:
            function(*args)
            ok, message = True, ""
        except AssertionError as error:
            ok, message = False, str(error)
        except Exception:  # a bug of the test or a broken connection: a failure with its trace
            ok, message = False, traceback.format_exc()
        seconds = time.monotonic() - started
        self.results.append((name, ok, seconds, message))
        say(f"{'PASS' if ok else 'FAIL'} {name} ({seconds:.2f} s){'' if ok else ': ' + message}")
        return ok


# ---- shared helpers -----------------------------------------------------------------------------------------

WAIT = {"Prefer": "wait=5"}


def unique(stem):
    unique.counter += 1
    return f"{stem}-{unique.counter}"


unique.counter = 0


SYNC_FALLBACKS = []  # commands whose Prefer: wait ran out (a slow run): answered again from the outcome


def sync(instance, path, body, status, key=None, idempotency_key=None, code=None):
    """Submits with Prefer: wait and expects the outcome's status. When the wait (cut to http.wait_ms_max)
    runs out first, the answer is the 202 (documented): then the outcome is polled and the same command
    submitted again under its key, which answers the known outcome. Keeps a slow run from failing."""
    headers = dict(WAIT)
    headers["Idempotency-Key"] = idempotency_key if idempotency_key is not None else unique("sync")
    answer = instance.post(path, body, headers=headers, key=key)
    if answer.status == 202:
        SYNC_FALLBACKS.append(f"{path} {answer.json.get('command_id')}")
        poll_outcome(instance if "projector" in instance.roles else instance.run.instances[0],
                     headers["Idempotency-Key"], key=key)
        answer = instance.post(path, body, headers=headers, key=key)
        answer.retried = True
    expect(answer, status, code)
    return answer


def check_outcome(answer, command_type, sku, accepted=True):
    outcome = answer.json
    check(outcome.get("type") == command_type, f"{answer}: outcome type is not {command_type}")
    check(outcome.get("sku") == sku, f"{answer}: outcome sku is not {sku}")
    check(outcome.get("status") == ("accepted" if accepted else "rejected"), f"{answer}: outcome status")
    check(isinstance(outcome.get("events"), list) and outcome["events"], f"{answer}: no events")
    for event in outcome["events"]:
        check(TOKEN_RE.match(event.get("position", "")), f"{answer}: event position {event.get('position')!r}")
    check(outcome.get("position") == outcome["events"][-1]["position"], f"{answer}: position is not the last event's")
    check(outcome.get("decision_count") == 1, f"{answer}: decision_count is not 1")
    for member in ("command_id", "decided_at"):
        check(member in outcome, f"{answer}: outcome lacks {member}")
    if answer.header("Preference-Applied") is not None:
        check(re.match(r"^wait=[0-9]+$", answer.header("Preference-Applied")), f"{answer}: Preference-Applied")
    return outcome


def check_rejection(answer, status, reason):
    problem = expect(answer, status, "command-rejected").json
    check(problem.get("reason") == reason, f"{answer}: reason is not {reason}")
    check(problem.get("command_id"), f"{answer}: rejection without command_id")
    check(TOKEN_RE.match(problem.get("position", "")), f"{answer}: rejection without a position token")
    return problem


def create_sku(instance, sku, name=None, reorder_point=None, key=None):
    body = {"sku": sku, "name": name or ("name of " + sku)}
    if reorder_point is not None:
        body["reorder_point"] = reorder_point
    answer = sync(instance, "/v1/skus", body, 201, key=key)
    check_outcome(answer, "CreateSku", sku)
    return answer


def receive(instance, sku, location, quantity):
    answer = sync(instance, f"/v1/skus/{sku}/receipts", {"location": location, "quantity": quantity}, 200)
    check_outcome(answer, "ReceiveStock", sku)
    return answer


def reserve(instance, sku, reservation_id, location, quantity, status=201):
    body = {"sku": sku, "reservation_id": reservation_id, "location": location, "quantity": quantity}
    return sync(instance, "/v1/reservations", body, status)


def poll_outcome(instance, command_id, key=None):
    deadline = time.monotonic() + OUTCOME_TIMEOUT_S
    while True:
        answer = instance.get(f"/v1/commands/{command_id}", key=key)
        if answer.status == 200:
            return answer
        expect(answer, 404, "not-found")
        check(time.monotonic() < deadline, f"no outcome for {command_id} within {OUTCOME_TIMEOUT_S} s")
        time.sleep(0.05)


def nothing_produced(run, instance, action):
    """Runs action (which asserts its own answer), then checks /healthz and that neither <prefix>.commands nor
    <prefix>.commands.by-sku grew."""
    before = run.produced_end()
    action()
    instance.healthy()
    after = run.produced_end()
    check(after == before, f"the command topics grew from {before} to {after} records for a refused request")


# ---- cases: operations routes -------------------------------------------------------------------------------


def case_healthz(a):
    answer = expect(a.get("/healthz"), 200)
    check(answer.json == {"status": "ok"}, f"{answer}: body")


def case_stop_signals_blocked_in_every_thread(a):
    """SIGINT and SIGTERM are blocked in every thread and taken by one that sigwaits for them (cmd/stockd/main.c):
    a signal landing on another thread would cut its blocking call short (the embedded mock cluster's thread
    stops for good on an EINTR)."""
    stop_signals = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    tasks = os.listdir(f"/proc/{a.process.pid}/task")
    unblocked, waiters = [], 0
    for task in tasks:
        try:
            with open(f"/proc/{a.process.pid}/task/{task}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
        if fields["Name"].strip() == "signals":
            waiters += 1  # in sigwait the kernel shows the awaited signals unblocked
        elif int(fields["SigBlk"].strip(), 16) & stop_signals != stop_signals:
            unblocked.append(f"{fields['Name'].strip()} ({task})")
    check(len(tasks) > 10, f"{len(tasks)} threads: fewer than a stockd with every role runs")
    check(waiters == 1, f"{waiters} threads named signals, not one")
    check(not unblocked, f"threads that do not block SIGINT and SIGTERM: {', '.join(unblocked)}")


def case_readyz(a):
    answer = expect(a.get("/readyz"), 200)
    body = answer.json
    check(body.get("ready") is True, f"{answer}: ready is not true")
    check(body.get("checks") == {"broker": True, "replicas": True, "shards": True, "views": True},
          f"{answer}: checks")
    check(body.get("reasons") == [], f"{answer}: reasons of a ready instance")


def case_openapi_served(a):
    answer = expect(a.get("/openapi.yaml"), 200)
    with open(os.path.join(SOURCE_ROOT, "schema", "openapi.yaml"), "rb") as spec:
        expected = spec.read()
    check(answer.body == expected, f"GET /openapi.yaml: {len(answer.body)} bytes differ from schema/openapi.yaml")
    check("yaml" in (answer.header("Content-Type") or ""), f"{answer}: Content-Type {answer.header('Content-Type')}")


def case_metrics(a):
    answer = expect(a.get("/metrics"), 200)
    content_type = answer.header("Content-Type") or ""
    check(content_type.startswith("text/plain") and "version=0.0.4" in content_type,
          f"GET /metrics: Content-Type {content_type!r} is not Prometheus text 0.0.4")
    text = answer.body.decode()
    check("stockd_http_requests_total" in text, "GET /metrics: no stockd_http_requests_total")
    sample = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            check(sample.match(line), f"GET /metrics: line is not a sample: {line!r}")
    expect(a.get("/metrics?x=1"), 400, "invalid-parameter")


def case_views_list(a):
    answer = expect(a.get("/v1/views"), 200)
    views = answer.json.get("views")
    check(isinstance(views, list), f"{answer}: no views list")
    names = sorted(view["name"] for view in views)
    check(names == ["catalog", "history", "movements", "outcomes", "reservations", "stock"], f"{answer}: views {names}")
    for view in views:
        for member in ("name", "state", "lag", "ready", "events_applied", "rebuild", "partitions"):
            check(member in view, f"{answer}: view lacks {member}")
        check(view["state"] in ("ready", "catching_up", "rebuilding"), f"{answer}: state {view['state']}")
        check("running" in view["rebuild"] and "progress" in view["rebuild"], f"{answer}: rebuild shape")
        check(len(view["partitions"]) == PARTITIONS, f"{answer}: {len(view['partitions'])} partitions")
        for partition in view["partitions"]:
            for member in ("partition", "position", "end", "lag"):
                check(member in partition, f"{answer}: partition lacks {member}")
    expect(a.get("/v1/views?verbose=1"), 400, "invalid-parameter")


def case_request_id(a):
    answer = expect(a.get("/healthz", headers={"X-Request-Id": "client.id_1-x"}), 200)
    check(answer.header("X-Request-Id") == "client.id_1-x", f"{answer}: valid X-Request-Id not echoed")
    answer = expect(a.get("/healthz", headers={"X-Request-Id": "bad id!"}), 200)
    check(answer.header("X-Request-Id") != "bad id!", f"{answer}: invalid X-Request-Id echoed")
    answer = expect(a.get("/v1/skus/NOPE-" + "x" * 70), 400, "invalid-path")


# ---- cases: commands ----------------------------------------------------------------------------------------


def case_create_sku_sync_and_exists(a):
    sku = unique("CS")
    answer = create_sku(a, sku, reorder_point=5)
    check(answer.retried or answer.header("Preference-Applied") is not None, f"{answer}: no Preference-Applied")
    check(answer.header("Location") is not None, f"{answer}: no Location")
    check(answer.json["events"][0]["type"] == "SkuCreated", f"{answer}: first event")
    again = sync(a, "/v1/skus", {"sku": sku, "name": "again"}, 409)
    check_rejection(again, 409, "sku_exists")
    expect(a.post("/v1/skus", {"sku": sku}), 400, "invalid-body")  # name missing
    expect(a.post("/v1/skus", {"sku": sku, "name": "n", "colour": "red"}), 400, "invalid-body")  # unknown key


def case_async_202_then_poll(a):
    sku = unique("AS")
    answer = expect(a.post("/v1/skus", {"sku": sku, "name": "async"}), 202)
    body = answer.json
    check(body.get("status") == "pending" and body.get("command_id"), f"{answer}: body")
    location = answer.header("Location")
    check(location == "/v1/commands/" + body["command_id"], f"{answer}: Location {location!r}")
    outcome = poll_outcome(a, body["command_id"])
    check_outcome(outcome, "CreateSku", sku)
    # the default answer on the other command routes is 202 too
    expect(a.post(f"/v1/skus/{sku}/receipts", {"location": "L1", "quantity": 3}), 202)


def case_receipts(a):
    sku = unique("RC")
    create_sku(a, sku)
    outcome = check_outcome(receive(a, sku, "L1", 10), "ReceiveStock", sku)
    check(outcome["events"][0]["type"] == "StockReceived", f"ReceiveStock events {outcome['events']}")
    check_rejection(sync(a, f"/v1/skus/{unique('NOSKU')}/receipts", {"location": "L1", "quantity": 1}, 422),
                    422, "unknown_sku")
    expect(a.post(f"/v1/skus/{sku}/receipts", {"location": "L1", "quantity": "ten"}), 400, "invalid-body")
    expect(a.post(f"/v1/skus/{sku}/receipts", {"location": "L1", "quantity": 1, "sku": sku}), 400, "invalid-body")
    answer = expect(a.post(f"/v1/skus/{sku}/receipts", {"location": "L1"}), 400, "invalid-body")
    check(answer.json.get("field") == "quantity", f"{answer}: field is not quantity")


def case_adjustments(a):
    sku = unique("AD")
    create_sku(a, sku)
    receive(a, sku, "L1", 10)
    answer = sync(a, f"/v1/skus/{sku}/adjustments", {"location": "L1", "reason": "broken", "delta": -2}, 200)
    check_outcome(answer, "AdjustStock", sku)
    answer = sync(a, f"/v1/skus/{sku}/adjustments", {"location": "L1", "reason": "count", "counted": 7}, 200)
    check_outcome(answer, "AdjustStock", sku)
    reserve(a, sku, "adj-r1", "L1", 5)
    check_rejection(sync(a, f"/v1/skus/{sku}/adjustments", {"location": "L1", "reason": "count", "counted": 1}, 409),
                    409, "below_reserved")
    expect(a.post(f"/v1/skus/{sku}/adjustments", {"location": "L1", "reason": "x", "delta": 1, "counted": 1}),
           400, "invalid-body")
    check_rejection(sync(a, f"/v1/skus/{unique('NOSKU')}/adjustments",
                         {"location": "L1", "reason": "x", "delta": 1}, 422), 422, "unknown_sku")


def case_transfers(a):
    sku = unique("TR")
    create_sku(a, sku)
    receive(a, sku, "L1", 10)
    answer = sync(a, f"/v1/skus/{sku}/transfers", {"from_location": "L1", "to_location": "L2", "quantity": 4}, 200)
    check_outcome(answer, "TransferStock", sku)
    check_rejection(sync(a, f"/v1/skus/{sku}/transfers",
                         {"from_location": "L1", "to_location": "L2", "quantity": 400}, 409), 409, "insufficient_stock")
    check_rejection(sync(a, f"/v1/skus/{sku}/transfers",
                         {"from_location": "L1", "to_location": "L1", "quantity": 1}, 422), 422, "same_location")
    got = expect(a.get(f"/v1/skus/{sku}?min_position={answer.json['position']}"), 200).json
    by_location = {row["location"]: row["on_hand"] for row in got["locations"]}
    check(by_location == {"L1": 6, "L2": 4}, f"GET {sku}: locations {got['locations']}")


def case_reservations(a):
    sku = unique("RS")
    create_sku(a, sku)
    receive(a, sku, "L1", 10)
    answer = reserve(a, sku, "ord-1", "L1", 3)
    check_outcome(answer, "ReserveStock", sku)
    check_rejection(reserve(a, sku, "ord-1", "L1", 1, status=409), 409, "reservation_exists")
    check_rejection(reserve(a, sku, "ord-2", "L1", 100, status=409), 409, "insufficient_stock")
    check_rejection(reserve(a, unique("NOSKU"), "ord-3", "L1", 1, status=422), 422, "unknown_sku")
    body = {"sku": sku, "reservation_id": "ord-4", "location": "L1", "quantity": 1, "ttl_seconds": 900}
    check_outcome(sync(a, "/v1/reservations", body, 201), "ReserveStock", sku)
    expect(a.post("/v1/reservations", {"sku": sku, "reservation_id": "ord-5", "location": "L1"}), 400, "invalid-body")


def case_release_fulfil(a):
    sku = unique("RF")
    create_sku(a, sku)
    receive(a, sku, "L1", 20)
    positions = []
    for reservation in ("rf-1", "rf-2", "rf-3", "rf-4"):
        positions.append(reserve(a, sku, reservation, "L1", 1).json["position"])
    # the reservations view must hold them before a release without sku can find them
    expect(a.get(f"/v1/reservations/rf-4?min_position={positions[-1]}"), 200)
    # release without sku (looked up in the reservations view), with an empty JSON body
    answer = sync(a, "/v1/reservations/rf-1/release", {}, 200)
    check_outcome(answer, "ReleaseReservation", sku)
    # release with sku
    check_outcome(sync(a, "/v1/reservations/rf-2/release", {"sku": sku}, 200), "ReleaseReservation", sku)
    # fulfil without any body
    answer = a.request("POST", "/v1/reservations/rf-3/fulfil", headers=dict(WAIT))
    check_outcome(expect(answer, 200), "FulfilReservation", sku)
    # fulfil with sku
    check_outcome(sync(a, "/v1/reservations/rf-4/fulfil", {"sku": sku}, 200), "FulfilReservation", sku)
    # released already: a conflict
    check_rejection(sync(a, "/v1/reservations/rf-1/release", {"sku": sku}, 409), 409, "reservation_not_active")
    check_rejection(sync(a, "/v1/reservations/rf-3/fulfil", {"sku": sku}, 409), 409, "reservation_not_active")
    # unknown reservation: 404 without sku (the view does not hold it), 422 with sku (the handler decides)
    expect(a.post("/v1/reservations/rf-none/release", {}, headers=dict(WAIT)), 404, "not-found")
    expect(a.post("/v1/reservations/rf-none/fulfil", {}, headers=dict(WAIT)), 404, "not-found")
    check_rejection(sync(a, "/v1/reservations/rf-none/release", {"sku": sku}, 422), 422, "unknown_reservation")
    check_rejection(sync(a, "/v1/reservations/rf-none/fulfil", {"sku": sku}, 422), 422, "unknown_reservation")
    expect(a.post("/v1/reservations/rf-1/release", {"sku": sku, "reason": "x"}), 400, "invalid-body")
    final = expect(a.get(f"/v1/reservations/rf-3?sku={sku}"), 200).json
    check(final["status"] == "fulfilled", f"rf-3 status {final['status']}")


def order_settled(instance, order_id, statuses):
    """Polls GET /v1/orders/{id} until the order's status is one of statuses (bounded by OUTCOME_TIMEOUT_S)."""
    deadline = time.monotonic() + OUTCOME_TIMEOUT_S
    while True:
        answer = instance.get(f"/v1/orders/{order_id}")
        if answer.status == 200 and answer.json.get("status") in statuses:
            return answer
        check(time.monotonic() < deadline, f"order {order_id} not {statuses} within {OUTCOME_TIMEOUT_S} s: {answer}")
        time.sleep(0.05)


def order_sync(instance, path, body, status, settled, code=None):
    """POSTs an order route with Prefer: wait; when the wait (cut to http.wait_ms_max) runs out first (202),
    polls the order until it settled and asks again, which answers the settled order."""
    answer = instance.post(path, body, headers=dict(WAIT))
    if answer.status == 202:
        SYNC_FALLBACKS.append(path)
        order_settled(instance, answer.json["order_id"], settled)
        answer = instance.post(path, body, headers=dict(WAIT))
    return expect(answer, status, code)


def case_orders(a, b):
    """Orders across two SKUs: confirmed 201, rejected 409 with each line's reason and nothing held, async 202
    and GET, release and fulfil of every line, and the refusals."""
    one, two = unique("OR"), unique("OR")
    for sku, quantity in ((one, 10), (two, 1)):
        create_sku(a, sku)
        receive(a, sku, "L1", quantity)
    lines = [{"sku": one, "location": "L1", "quantity": 2}, {"sku": two, "location": "L1", "quantity": 1}]
    first, second, third = unique("order"), unique("order"), unique("order")
    confirmed = order_sync(a, "/v1/orders", {"order_id": first, "lines": lines}, 201, ("confirmed", "rejected")).json
    check(confirmed["status"] == "confirmed" and all(line["status"] == "reserved" for line in confirmed["lines"]),
          f"order {first}: {confirmed}")
    check(confirmed["lines"][0]["reservation_id"] == f"order:{first}:0", f"reservation id of {first}")
    problem = order_sync(a, "/v1/orders", {"order_id": second, "lines": lines}, 409, ("confirmed", "rejected"),
                         "order-rejected").json
    rejected = problem["order"]
    check(rejected["status"] == "rejected" and rejected["reason"] == "line_rejected", f"order {second}: {rejected}")
    check(rejected["lines"][1]["status"] == "rejected" and rejected["lines"][1]["reason"] == "insufficient_stock",
          f"order {second} line 1: {rejected['lines'][1]}")
    check(rejected["lines"][0]["status"] == "released", f"order {second} line 0: {rejected['lines'][0]}")
    # the released line left only the confirmed order's units reserved
    position = rejected["lines"][0]["position"]
    stock = expect(a.get(f"/v1/skus/{one}?min_position={position}"), 200).json
    check(stock["reserved"] == 2, f"{one} holds {stock['reserved']} reserved, not the confirmed order's 2")
    # async, then GET; a retry of the same order answers its state
    answer = expect(a.post("/v1/orders", {"order_id": third, "lines": lines[:1], "ttl_seconds": 600}), 202)
    check(set(answer.json) == {"order_id", "status", "position"} and answer.json["order_id"] == third and
          answer.json["status"] == "pending" and re.fullmatch(r"[0-9]+:[0-9]+", answer.json["position"]),
          f"{answer}")
    check(answer.header("Location") == f"/v1/orders/{third}", f"{answer}: Location")
    order_settled(a, third, ("confirmed",))
    expect(a.post("/v1/orders", {"order_id": third, "lines": lines[:1], "ttl_seconds": 600}), 201)
    expect(a.post("/v1/orders", {"order_id": third, "lines": lines}), 409, "order-exists")
    # release and fulfil every line
    released = order_sync(a, f"/v1/orders/{third}/release", None, 200, ("released",)).json
    check(released["status"] == "released", f"order {third}: {released}")
    expect(a.post(f"/v1/orders/{third}/fulfil"), 409, "order-not-confirmed")
    fulfilled = order_sync(a, f"/v1/orders/{first}/fulfil", None, 200, ("fulfilled",)).json
    check(all(line["status"] == "fulfilled" for line in fulfilled["lines"]), f"order {first}: {fulfilled}")
    expect(a.post(f"/v1/orders/{second}/release"), 409, "order-not-confirmed")
    # refusals
    expect(a.get(f"/v1/orders/{unique('none')}"), 404, "not-found")
    expect(a.post(f"/v1/orders/{unique('none')}/release"), 404, "not-found")
    expect(a.get("/v1/orders/bad%20id"), 400, "invalid-path")
    expect(a.post("/v1/orders", {"order_id": unique("o"), "lines": []}), 400, "invalid-body")
    expect(a.post("/v1/orders", {"order_id": unique("o"), "lines": [lines[0], lines[0]]}), 400, "invalid-body")
    expect(a.post("/v1/orders", {"order_id": "x" * 65, "lines": lines}), 400, "invalid-body")
    expect(a.post(f"/v1/orders/{first}/release", {"sku": one}), 400, "invalid-body")
    reserved_id = {"sku": one, "reservation_id": "order:forged:0", "location": "L1", "quantity": 1}
    expect(a.post("/v1/reservations", reserved_id), 422, "reserved-id")
    # an instance without the orders role cannot read orders
    expect(b.get(f"/v1/orders/{first}"), 503, "order-unavailable")


def case_order_min_position(a):
    """GET /v1/orders/{id}?min_position= with the position of a 202: the order is there at once (a plain GET
    right after the 202 may still be 404); the same refusals and timeout as the views' min_position."""
    sku = unique("OMP")
    create_sku(a, sku)
    receive(a, sku, "L1", 5)
    order_id = unique("order")
    lines = [{"sku": sku, "location": "L1", "quantity": 1}]
    answer = expect(a.post("/v1/orders", {"order_id": order_id, "lines": lines}), 202).json
    position = answer.get("position")
    check(position is not None and position.split(":")[0].isdigit(), f"202 of POST /v1/orders: {answer}")
    got = expect(a.get(f"/v1/orders/{order_id}?min_position={position}"), 200).json
    check(got["order_id"] == order_id, f"GET with min_position: {got}")
    order_settled(a, order_id, ("confirmed",))
    release = expect(a.post(f"/v1/orders/{order_id}/release"), 202).json
    got = expect(a.get(f"/v1/orders/{order_id}?min_position={release['position']}"), 200).json
    check(got["status"] in ("releasing", "released"), f"GET after the release's position: {got}")
    started = time.monotonic()
    expect(a.get(f"/v1/orders/{order_id}?min_position={FAR_POSITION}"), 503, "position-not-reached")
    elapsed = time.monotonic() - started
    check(WAIT_MS_MAX / 1000 - 0.2 <= elapsed <= WAIT_MS_MAX / 1000 + 2.5,
          f"position-not-reached after {elapsed:.2f} s, expected about http.wait_ms_max {WAIT_MS_MAX} ms")
    for garbage in ("abc", "1:", f"{PARTITIONS}:0", "0:1,,x"):
        expect(a.get(f"/v1/orders/{order_id}?min_position={urllib.parse.quote(garbage)}"), 400,
               "invalid-parameter")
    expect(a.get(f"/v1/orders/{order_id}?limit=1"), 400, "invalid-parameter")


def case_order_expires(a):
    """A confirmed order whose ttl runs out: expiring, then expired (one line expired, the others released),
    no unit held, and release or fulfil of it 409 order-expired."""
    skus = [unique("OEX"), unique("OEX")]
    for sku in skus:
        create_sku(a, sku)
        receive(a, sku, "L1", 4)
    order_id = unique("order")
    lines = [{"sku": sku, "location": "L1", "quantity": 3} for sku in skus]
    order_sync(a, "/v1/orders", {"order_id": order_id, "lines": lines, "ttl_seconds": 2}, 201, ("confirmed",))
    expired = order_settled(a, order_id, ("expired",)).json
    statuses = sorted(line["status"] for line in expired["lines"])
    check(expired["reason"] == "line_expired" and statuses == ["expired", "released"],
          f"order {order_id}: {expired}")
    for line in expired["lines"]:
        stock = expect(a.get(f"/v1/skus/{line['sku']}?min_position={line['position']}"), 200).json
        check(stock["reserved"] == 0, f"{line['sku']} still holds {stock['reserved']} for the expired order")
    for action in ("release", "fulfil"):
        problem = expect(a.post(f"/v1/orders/{order_id}/{action}"), 409, "order-expired").json
        check(problem["order"]["status"] == "expired", f"{action} of an expired order: {problem}")


def case_ambiguous_reservation(a):
    skus = [unique("AMB"), unique("AMB")]
    last = None
    for sku in skus:
        create_sku(a, sku)
        receive(a, sku, "L1", 5)
        last = reserve(a, sku, "amb-1", "L1", 1).json["position"]
    first = reserve(a, skus[0], "amb-solo", "L1", 1).json["position"]
    expect(a.get(f"/v1/reservations/amb-solo?min_position={first}"), 200)
    answer = expect(a.get(f"/v1/reservations/amb-1?min_position={last}"), 409, "ambiguous-reservation")
    check(sorted(answer.json.get("skus", [])) == sorted(skus), f"{answer}: skus {answer.json.get('skus')}")
    got = expect(a.get(f"/v1/reservations/amb-1?sku={skus[1]}"), 200).json
    check(got["sku"] == skus[1] and got["reservation_id"] == "amb-1", f"GET amb-1?sku=: {got}")
    # release and fulfil without sku: 409 ambiguous-reservation with skus (docs/http-api.md)
    for action in ("release", "fulfil"):
        answer = expect(a.post(f"/v1/reservations/amb-1/{action}", {}), 409, "ambiguous-reservation")
        check(sorted(answer.json.get("skus", [])) == sorted(skus),
              f"{answer}: docs/http-api.md says 409 ambiguous-reservation comes with skus")


def case_idempotency(a):
    sku = unique("ID")
    key = unique("idem-key")
    body = {"sku": sku, "name": "idempotent"}
    # async twice with one key and one body: one command, one outcome
    first = expect(a.post("/v1/skus", body, headers={"Idempotency-Key": key}), 202)
    second = a.post("/v1/skus", body, headers={"Idempotency-Key": key})
    check(second.status in (201, 202), f"same key, same body again: {second}")
    check(first.json["command_id"] == key, f"{first}: command_id is not the Idempotency-Key")
    outcome = poll_outcome(a, key)
    check_outcome(outcome, "CreateSku", sku)
    # once the outcome is known the answer is that outcome, with or without Prefer: wait
    third = expect(a.post("/v1/skus", body, headers={"Idempotency-Key": key, **WAIT}), 201)
    check(third.json["events"] == outcome.json["events"] and third.json["position"] == outcome.json["position"],
          f"retry answered another outcome: {third} vs {outcome}")
    # same key, different body: 422
    for other in ({"sku": sku, "name": "another name"}, {"sku": sku + "X", "name": "idempotent"}):
        answer = expect(a.post("/v1/skus", other, headers={"Idempotency-Key": key}), 422, "idempotency-key-reused")
    answer = expect(a.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 1},
                           headers={"Idempotency-Key": key}), 422, "idempotency-key-reused")
    # sync twice with one key: the same outcome (one decision)
    key2 = unique("idem-key")
    first = sync(a, f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 2}, 200, idempotency_key=key2)
    again = sync(a, f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 2}, 200, idempotency_key=key2)
    check(first.json["events"] == again.json["events"] and again.json["decision_count"] == 1,
          f"sync retry: {first} vs {again}")
    expect(a.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 3},
                  headers={"Idempotency-Key": key2}), 422, "idempotency-key-reused")
    stock = expect(a.get(f"/v1/skus/{sku}?min_position={again.json['position']}"), 200).json
    check(stock["on_hand"] == 2, f"GET {sku}: on_hand {stock['on_hand']} after one receipt of 2 sent twice")


def case_idempotency_concurrent_bodies(a):
    """One Idempotency-Key, two different bodies, sent at the same moment: one is accepted, the other is refused
    with 422. The key is claimed before the command is produced, so the second cannot slip in meanwhile."""
    sku = unique("IC")
    sync(a, "/v1/skus", {"sku": sku, "name": "concurrent"}, 201)
    for round_number in range(12):
        key = unique("idem-race")
        answers = [None, None]
        barrier = threading.Barrier(2)

        def send(index):
            barrier.wait()
            answers[index] = a.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": index + 1},
                                    headers={"Idempotency-Key": key})

        threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(answer.status for answer in answers)
        check(statuses == [202, 422],
              f"round {round_number}: key {key} with two bodies at once: statuses {statuses}")


def case_idempotency_forgotten_key_retry(a, b):
    """b remembers 4 keys. Once a key has left its table, a reuse of it with other fields (same type and SKU) is
    answered with the key's outcome, which the outcomes view cannot tell apart; that reuse must not leave its own
    fields in the table, or the genuine retry of the key's command would then be refused with 422."""
    sku, key, first = keyed_receipt_on_b(a, b, "IF", 5)
    for _ in range(5):
        expect(b.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 1},
                      headers={"Idempotency-Key": unique("idem-evict")}), 202)
    other = expect(b.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 6},
                          headers={"Idempotency-Key": key}), 200)
    check(other.json["events"] == first.json["events"], f"reuse answered another outcome: {other}")
    retry = expect(b.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 5},
                          headers={"Idempotency-Key": key}), 200)
    check(retry.json["events"] == first.json["events"], f"retry answered another outcome: {retry}")


def case_command_envelope(a):
    sku = unique("EN")
    answer = expect(a.post("/v1/commands", {"type": "CreateSku", "sku": sku, "data": {"name": "env"}}), 202)
    check(answer.json.get("command_id"), f"{answer}: no generated command_id")
    check_outcome(poll_outcome(a, answer.json["command_id"]), "CreateSku", sku)
    sku2 = unique("EN")
    envelope = {"command_id": unique("env-cmd"), "type": "CreateSku", "sku": sku2, "data": {"name": "env2"}}
    answer = expect(a.post("/v1/commands", envelope, headers=dict(WAIT)), 201)
    check(answer.json["command_id"] == envelope["command_id"], f"{answer}: command_id")
    check_outcome(answer, "CreateSku", sku2)
    receipt = {"type": "ReceiveStock", "sku": sku2, "data": {"location": "L1", "quantity": 4}}
    check_outcome(expect(a.post("/v1/commands", receipt, headers=dict(WAIT)), 200), "ReceiveStock", sku2)
    check_rejection(expect(a.post("/v1/commands", envelope | {"command_id": unique("env-cmd")},
                                  headers=dict(WAIT)), 409), 409, "sku_exists")
    unknown = {"type": "ReceiveStock", "sku": unique("NOSKU"), "data": {"location": "L1", "quantity": 1}}
    check_rejection(expect(a.post("/v1/commands", unknown, headers=dict(WAIT)), 422), 422, "unknown_sku")
    mismatch = envelope | {"command_id": "env-a"}
    expect(a.post("/v1/commands", mismatch, headers={"Idempotency-Key": "env-b"}), 422, "idempotency-key-mismatch")
    expect(a.post("/v1/commands", {"type": "ExpireReservations", "sku": sku2, "data": {}}), 400, "invalid-body")
    expect(a.post("/v1/commands", {"type": "Nope", "sku": sku2, "data": {}}), 400, "invalid-body")
    expect(a.post("/v1/commands", {"type": "CreateSku", "sku": sku2, "data": {"name": "x"}, "extra": 1}),
           400, "invalid-body")


def case_prefer_wait_cut_to_max(a):
    sku = unique("PW")
    started = time.monotonic()
    answer = a.post("/v1/skus", {"sku": sku, "name": "wait"}, headers={"Prefer": "wait=99999"})
    expect(answer, 201)
    check(answer.header("Preference-Applied") == f"wait={WAIT_MS_MAX // 1000}",
          f"{answer}: Preference-Applied {answer.header('Preference-Applied')!r}, expected wait cut to "
          f"{WAIT_MS_MAX // 1000}")
    check(time.monotonic() - started < WAIT_MS_MAX / 1000 + 3, f"{answer}: took {time.monotonic() - started:.1f} s")
    expect(a.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 1},
                  headers={"Content-Type": "application/json; charset=utf-8"}), 202)


def command_routes(sku, reservation_id):
    """(path, a valid body) of every command route."""
    return [
        ("/v1/skus", {"sku": unique(sku), "name": "every route"}),
        (f"/v1/skus/{sku}/receipts", {"location": "L1", "quantity": 1}),
        (f"/v1/skus/{sku}/adjustments", {"location": "L1", "reason": "r", "delta": 1}),
        (f"/v1/skus/{sku}/transfers", {"from_location": "L1", "to_location": "L2", "quantity": 1}),
        ("/v1/reservations", {"sku": sku, "reservation_id": unique(reservation_id), "location": "L1", "quantity": 1}),
        (f"/v1/reservations/{reservation_id}/release", {"sku": sku}),
        (f"/v1/reservations/{reservation_id}/fulfil", {"sku": sku}),
        ("/v1/commands", {"type": "ReceiveStock", "sku": sku, "data": {"location": "L1", "quantity": 1}}),
    ]


def post_declared_oversize(instance, path):
    """POST with a Content-Length above http.body_bytes_max, headers only: the answer must come first."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {BODY_BYTES_MAX + 1}\r\n\r\n").encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", instance.port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall(head)
        status, headers, body = raw_read_answer(sock)
    check(status is not None, f"POST {path} declaring {BODY_BYTES_MAX + 1} bytes: no answer before the body")
    return raw_answer(instance, "POST", path, head, status, headers, body, started)


def case_every_command_route(run, a):
    sku = unique("EV")
    create_sku(a, sku)
    receive(a, sku, "L1", 10)
    reserve(a, sku, "ev-r", "L1", 1)

    def refusals():
        for path, body in command_routes(sku, "ev-r"):
            expect(post_declared_oversize(a, path), 413, "body-too-large")
            answer = a.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "text/plain"})
            expect(answer, 415, "unsupported-media-type")
            expect(a.post(path, {"bogus": 1}), 400, "invalid-body")
            expect(a.post(path + "?x=1", body), 400, "invalid-parameter")

    nothing_produced(run, a, refusals)
    before = run.produced_end()
    for path, body in command_routes(sku, "ev-r"):
        answer = expect(a.post(path, body), 202)
        check(answer.header("Location") == "/v1/commands/" + answer.json["command_id"], f"{answer}: Location")
    after = run.produced_end()  # the check itself sees what is produced: one record per 202
    check(after == before + 8, f"8 commands answered 202, the command topics grew from {before} to {after}")
    # on_hand_limit: a count at the maximum on-hand, then one more received
    sku2 = unique("EV")
    create_sku(a, sku2)
    receive(a, sku2, "L1", 1)
    sync(a, f"/v1/skus/{sku2}/adjustments", {"location": "L1", "reason": "count", "counted": 10**15}, 200)
    check_rejection(sync(a, f"/v1/skus/{sku2}/receipts", {"location": "L1", "quantity": 1}, 409), 409, "on_hand_limit")


# ---- cases: queries -----------------------------------------------------------------------------------------


def case_sku_get(a):
    sku = unique("GS")
    create_sku(a, sku, name="Gadget", reorder_point=7)
    receive(a, sku, "L1", 5)
    position = receive(a, sku, "L2", 4).json["position"]
    reserve(a, sku, "gs-1", "L1", 2)
    answer = expect(a.get(f"/v1/skus/{sku}?min_position={position}"), 200)
    got = answer.json
    for member in ("sku", "name", "reorder_point", "on_hand", "reserved", "available", "below_reorder_point",
                   "sequence", "updated_at", "locations"):
        check(member in got, f"{answer}: lacks {member}")
    check(got["sku"] == sku and got["name"] == "Gadget" and got["reorder_point"] == 7, f"{answer}: identity")
    check(got["on_hand"] == 9, f"{answer}: on_hand")
    for row in got["locations"]:
        check(set(row) == {"location", "on_hand", "reserved", "available"}, f"{answer}: location row {row}")
    expect(a.get(f"/v1/skus/{unique('NOSKU')}"), 404, "not-found")
    expect(a.get("/v1/skus/-leading-dash"), 400, "invalid-path")
    expect(a.get(f"/v1/skus/{sku}?limit=2"), 400, "invalid-parameter")


def case_sku_as_of(a):
    sku = unique("AO")
    created = sync(a, "/v1/skus", {"sku": sku, "name": "As of", "reorder_point": 3, "lead_time_days": 4}, 201).json
    first = receive(a, sku, "L2", 5).json["position"]
    second = receive(a, sku, "L1", 4).json["position"]
    third = reserve(a, sku, "ao-1", "L1", 3).json["position"]
    now = expect(a.get(f"/v1/skus/{sku}?min_position={third}"), 200).json
    check(now.get("lead_time_days") == 4 and "as_of" not in now, f"GET SKU now: {now}")
    at = {}
    for token, on_hand, reserved, sequence in ((created["position"], 0, 0, 1), (first, 5, 0, 2), (second, 9, 0, 3),
                                               (third, 9, 3, 4)):
        answer = expect(a.get(f"/v1/skus/{sku}?as_of={token}&min_position={third}"), 200)
        got = answer.json
        check(got["on_hand"] == on_hand and got["reserved"] == reserved, f"as_of {token}: {got}")
        check(got["as_of"]["position"] == token and got["as_of"]["sequence"] == sequence, f"as_of {token}: {got}")
        check(got["lead_time_days"] == 4 and got["name"] == "As of", f"as_of {token}: {got}")
        check([row["location"] for row in got["locations"]] == sorted(row["location"] for row in got["locations"]),
              f"as_of {token}: locations out of order")
        at[sequence] = got
    # by time: the event's own time gives the state right after it (or after a later event of the same ms)
    answer = expect(a.get(f"/v1/skus/{sku}?" + urllib.parse.urlencode({"as_of": at[2]["as_of"]["time"]})), 200)
    check(answer.json["as_of"]["sequence"] >= 2 and answer.json["on_hand"] >= 5, f"as_of time: {answer.json}")
    expect(a.get(f"/v1/skus/{sku}?as_of=2001-01-01T00:00:00Z"), 404, "not-found")
    partition = int(first.split(":")[0])
    expect(a.get(f"/v1/skus/{sku}?as_of={(partition + 1) % PARTITIONS}:0"), 400, "invalid-parameter")
    for bad in ("yesterday", "1:", "99:1", "2026-12-01", "2026-12-01T10:00:00"):
        answer = expect(a.get(f"/v1/skus/{sku}?" + urllib.parse.urlencode({"as_of": bad})), 400, "invalid-parameter")
        check(answer.json.get("field") == "as_of", f"as_of={bad}: field {answer.json.get('field')}")
    expect(a.get(f"/v1/skus/{unique('NOSKU')}?as_of={first}"), 404, "not-found")


def case_movements_and_reorder(a):
    sku = unique("MV")
    sync(a, "/v1/skus", {"sku": sku, "name": "Moves", "lead_time_days": 10}, 201)
    receive(a, sku, "L1", 10)
    reserve(a, sku, "mv-1", "L1", 4)
    fulfilled = sync(a, "/v1/reservations/mv-1/fulfil", {"sku": sku}, 200).json
    today = fulfilled["decided_at"][:10]
    position = fulfilled["position"]
    answer = expect(a.get(f"/v1/skus/{sku}/movements?days=3&until={today}&min_position={position}"), 200)
    got = answer.json
    check(got["sku"] == sku and got["until"] == today and len(got["days"]) == 3, f"movements: {got}")
    check(got["on_hand"] == 6 and got["available"] == 6 and got["lead_time_days"] == 10, f"movements: {got}")
    day = got["days"][-1]
    check(day["date"] == today and day["received"] == 10 and day["reserved"] == 4 and day["fulfilled"] == 4,
          f"movements today: {day}")
    check(all(row["received"] == 0 for row in got["days"][:-1]), f"movements before today: {got['days']}")
    expect(a.get(f"/v1/skus/{sku}/movements"), 200)
    expect(a.get(f"/v1/skus/{unique('NOSKU')}/movements?min_position={position}"), 404, "not-found")
    for query in ("days=0", "days=367", "days=x", "until=2026-13-01", "until=1969-12-31", "until=today"):
        expect(a.get(f"/v1/skus/{sku}/movements?{query}"), 400, "invalid-parameter")
    # over one day, 4 a day against 6 available covers 1.5 days < 10: listed; over 28 days it covers 42
    seen, cursor, pages = [], None, 0
    while True:
        query = {"window_days": "1", "until": today, "limit": "100", "min_position": position}
        if cursor is not None:
            query["cursor"] = cursor
        page = expect(a.get("/v1/reorder?" + urllib.parse.urlencode(query)), 200).json
        check(page["window"] == {"from": today, "until": today, "days": 1}, f"reorder window: {page['window']}")
        seen += page["items"]
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None or pages > 100:
            break
    mine = [item for item in seen if item["sku"] == sku]
    check(len(mine) == 1 and mine[0]["available"] == 6 and mine[0]["fulfilled_in_window"] == 4 and
          abs(mine[0]["days_of_cover"] - 1.5) < 0.001, f"reorder over one day: {mine}")
    month = expect(a.get(f"/v1/reorder?window_days=28&until={today}&limit=100"), 200).json
    check(all(item["sku"] != sku for item in month["items"]), f"reorder over 28 days lists {sku}")
    for query in ("window_days=0", "window_days=366", "cursor=%21%21", "limit=0", "until=2026-02-30"):
        expect(a.get(f"/v1/reorder?{query}"), 400, "invalid-parameter")


def case_sku_list_paging(a):
    created = [unique("LP") for _ in range(5)]
    for index, sku in enumerate(created):
        position = create_sku(a, sku, reorder_point=10 if index % 2 == 0 else 0).json["position"]
    expect(a.get(f"/v1/skus/{created[-1]}?min_position={position}"), 200)
    for below in (None, "true", "false"):
        seen, pages, cursor = [], 0, None
        while True:
            query = {"limit": "2"}
            if below is not None:
                query["below_reorder_point"] = below
            if cursor is not None:
                query["cursor"] = cursor
            answer = expect(a.get("/v1/skus?" + urllib.parse.urlencode(query)), 200)
            page = answer.json
            check(set(page) == {"items", "next_cursor"}, f"{answer}: page members")
            check(len(page["items"]) <= 2, f"{answer}: more items than limit")
            pages += 1
            for item in page["items"]:
                check("locations" not in item, f"{answer}: summary with locations")
                if below == "true":  # docs: true filters; false or absent lists every SKU
                    check(item["below_reorder_point"], f"{answer}: filter broken: {item}")
            seen += [item["sku"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            check(pages < 200, "pagination does not end")
        check(seen == sorted(seen) and len(seen) == len(set(seen)), f"below={below}: pages out of order {seen}")
        expected = [sku for index, sku in enumerate(created)
                    if below is None or (index % 2 == 0) == (below == "true")]
        check(all(sku in seen for sku in expected), f"below={below}: missing {set(expected) - set(seen)}")
        if below is None:
            check(pages >= 3, f"only {pages} pages of limit 2")
    for bad in ("0", "101", "abc", "-1", ""):
        answer = expect(a.get(f"/v1/skus?limit={bad}"), 400, "invalid-parameter")
        check(answer.json.get("field") == "limit", f"{answer}: field is not limit")
    expect(a.get("/v1/skus?below_reorder_point=maybe"), 400, "invalid-parameter")
    expect(a.get("/v1/skus?limit=100"), 200)
    expect(a.get("/v1/skus"), 200)


def case_catalog_routes(a):
    """Each catalog route answers 2xx here (tests/integration/test_catalog.py covers them in depth)."""
    sku = unique("CATR")
    create_sku(a, sku)
    answer = sync(a, f"/v1/skus/{sku}/catalog", {"source": "erp", "name": "Route widget"}, 200)
    check_outcome(answer, "UpdateCatalog", sku)
    position = answer.json["position"]
    entry = expect(a.get(f"/v1/skus/{sku}/catalog?min_position={position}"), 200).json
    check(entry["name"] == "Route widget" and entry["sources"][0]["source"] == "erp", f"entry: {entry}")
    hits = expect(a.get(f"/v1/skus?q=route+widget&min_position={position}"), 200).json["items"]
    check(sku in [hit["sku"] for hit in hits], f"search: {hits}")
    expect(a.get("/v1/catalog/duplicates"), 200)
    expect(a.get(f"/v1/skus/{unique('CATR')}/catalog"), 404, "not-found")


def case_history_paging(a):
    sku = unique("HS")
    create_sku(a, sku)
    for quantity in (1, 2, 3, 4):
        position = receive(a, sku, "L1", quantity).json["position"]
    position = check_rejection(sync(a, "/v1/skus", {"sku": sku, "name": "again"}, 409), 409, "sku_exists")["position"]
    for order in ("oldest", "newest"):
        sequences, cursor, pages = [], None, 0
        while True:
            query = {"order": order, "limit": "2", "min_position": position}
            if cursor is not None:
                query["cursor"] = cursor
            answer = expect(a.get(f"/v1/skus/{sku}/history?" + urllib.parse.urlencode(query)), 200)
            page = answer.json
            check(page.get("sku") == sku and "items" in page and "next_cursor" in page, f"{answer}: page shape")
            for item in page["items"]:
                for member in ("sequence", "type", "command_id", "time", "position", "event"):
                    check(member in item, f"{answer}: item lacks {member}")
                check(isinstance(item["event"], dict), f"{answer}: event is not an object")
            sequences += [item["sequence"] for item in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
            check(pages < 50, "history pagination does not end")
        expected = list(range(1, 7))
        check(sequences == (expected if order == "oldest" else expected[::-1]),
              f"order={order}: sequences {sequences}")
        check(pages >= 3, f"order={order}: {pages} pages")
    empty = expect(a.get(f"/v1/skus/{unique('NOSKU')}/history"), 200).json
    check(empty["items"] == [] and empty["next_cursor"] is None, f"history of an unknown SKU: {empty}")
    expect(a.get(f"/v1/skus/{sku}/history?order=sideways"), 400, "invalid-parameter")
    expect(a.get(f"/v1/skus/{sku}/history?limit=0"), 400, "invalid-parameter")


def case_reservation_get(a):
    sku = unique("RG")
    create_sku(a, sku)
    receive(a, sku, "L1", 5)
    position = reserve(a, sku, "rg-1", "L1", 2).json["position"]
    answer = expect(a.get(f"/v1/reservations/rg-1?min_position={position}"), 200)
    got = answer.json
    for member in ("reservation_id", "sku", "status", "location", "quantity", "expires_at", "created_at",
                   "updated_at", "created_command_id", "updated_command_id"):
        check(member in got, f"{answer}: lacks {member}")
    check(got["status"] == "active" and got["quantity"] == 2 and got["sku"] == sku, f"{answer}: values")
    expect(a.get("/v1/reservations/rg-none"), 404, "not-found")
    expect(a.get(f"/v1/reservations/rg-1?sku={unique('NOSKU')}"), 404, "not-found")
    expect(a.get("/v1/reservations/%2Fetc"), 400, "invalid-path")
    expect(a.get("/v1/reservations/rg-1?order=newest"), 400, "invalid-parameter")


def case_command_get(a):
    sku = unique("CG")
    answer = create_sku(a, sku)
    # The answer may come from the handler's commit, before the outcomes view has folded it: read your write.
    got = expect(a.get(f"/v1/commands/{answer.json['command_id']}?min_position={answer.json['position']}"), 200)
    check(got.json == answer.json, f"GET outcome {got.json} differs from the sync answer {answer.json}")
    expect(a.get(f"/v1/commands/{unique('never')}"), 404, "not-found")
    expect(a.get("/v1/commands/.hidden"), 400, "invalid-path")


def sync_answers(instance):
    """stockd_sync_answers_total by source, from the instance's /metrics."""
    text = expect(instance.get("/metrics"), 200).body.decode()
    found = dict(re.findall(r'^stockd_sync_answers_total\{source="([a-z]+)"\} ([0-9]+)$', text, re.M))
    check(set(found) == {"handler", "view", "none"}, f"stockd_sync_answers_total sources: {found}")
    return {source: int(count) for source, count in found.items()}


def case_sync_answers_from_the_handler(a, b):
    """Instance a runs the handler of every partition: its synchronous answers come from the handler's commit
    (the outcome board), before the outcomes view has them, and equal what that view then holds. Instance b
    (api,projector) has no handler: its answers come from its outcomes view."""
    sku = unique("SH")
    before_a, before_b = sync_answers(a), sync_answers(b)
    answers = [create_sku(a, sku), receive(a, sku, "L1", 5)]
    answers.append(reserve(a, sku, unique("r"), "L1", 2))
    rejected = reserve(a, sku, unique("r"), "L1", 99, status=409)
    check_rejection(rejected, 409, "insufficient_stock")
    from_view = receive(b, sku, "L1", 1)
    for answer in answers + [from_view]:
        outcome = answer.json
        got = expect(a.get(f"/v1/commands/{outcome['command_id']}?min_position={outcome['position']}"), 200)
        check(got.json == outcome, f"outcomes view {got.json} differs from the sync answer {outcome}")
    problem = rejected.json
    got = expect(a.get(f"/v1/commands/{problem['command_id']}?min_position={problem['position']}"), 200).json
    check(got["status"] == "rejected" and got["reason"] == problem["reason"] and got["position"] == problem["position"],
          f"outcomes view {got} differs from the sync rejection {problem}")
    after_a, after_b = sync_answers(a), sync_answers(b)
    retried = sum(1 for answer in answers + [rejected] if getattr(answer, "retried", False))
    check(after_a["handler"] - before_a["handler"] >= 4 - retried,
          f"instance a answered {after_a['handler'] - before_a['handler']} of 4 from its handler ({before_a} -> {after_a})")
    check(after_b["handler"] == 0 and after_b["view"] > before_b["view"],
          f"instance b, without a handler, answered from elsewhere than its view: {before_b} -> {after_b}")


def case_min_position_same_instance(a):
    sku = unique("MP")
    create_sku(a, sku)
    position = receive(a, sku, "L1", 11).json["position"]
    got = expect(a.get(f"/v1/skus/{sku}?min_position={position}"), 200).json
    check(got["on_hand"] == 11, f"read-your-writes on the same instance: {got}")
    header = expect(a.get(f"/v1/skus/{sku}"), 200).header("X-Stockd-Position")
    expect(a.get(f"/v1/skus/{sku}?min_position={header}"), 200)
    started = time.monotonic()
    answer = expect(a.get(f"/v1/skus/{sku}?min_position={FAR_POSITION}"), 503, "position-not-reached")
    elapsed = time.monotonic() - started
    check(WAIT_MS_MAX / 1000 - 0.2 <= elapsed <= WAIT_MS_MAX / 1000 + 2.5,
          f"{answer}: position-not-reached after {elapsed:.2f} s, expected about http.wait_ms_max {WAIT_MS_MAX} ms")
    for garbage in ("abc", "1", "1:", ":1", "0:-1", f"{PARTITIONS}:0", "0:1,,x", "0:1;DROP"):
        expect(a.get(f"/v1/skus/{sku}?min_position={urllib.parse.quote(garbage)}"), 400, "invalid-parameter")


# ---- cases: a second instance (roles api,projector) -------------------------------------------------------


def case_read_your_writes_second_instance(a, b):
    sku = unique("RY")
    create_sku(a, sku)
    answer = receive(a, sku, "L1", 13)
    position = answer.json["position"]
    got = expect(b.get(f"/v1/skus/{sku}?min_position={position}"), 200).json
    check(got["on_hand"] == 13, f"read-your-writes on the second instance: {got}")
    outcome = expect(b.get(f"/v1/commands/{answer.json['command_id']}?min_position={position}"), 200)
    check(outcome.json == answer.json, f"outcome on the second instance {outcome.json} != {answer.json}")
    history = expect(b.get(f"/v1/skus/{sku}/history?min_position={position}"), 200).json
    check([item["sequence"] for item in history["items"]] == [1, 2], f"history on the second instance {history}")
    # a token from the first instance's X-Stockd-Position works on the second
    header = expect(a.get(f"/v1/skus/{sku}"), 200).header("X-Stockd-Position")
    check(header, "X-Stockd-Position is empty after writes")
    expect(b.get(f"/v1/skus?min_position={header}&limit=1"), 200)
    expect(b.get(f"/v1/skus/{sku}?min_position={FAR_POSITION}"), 503, "position-not-reached")
    # a command sent to the second instance (no handler there) is decided too, and readable on the first
    answer = sync(b, f"/v1/skus/{sku}/receipts", {"location": "L1", "quantity": 1}, 200)
    got = expect(a.get(f"/v1/skus/{sku}?min_position={answer.json['position']}"), 200).json
    check(got["on_hand"] == 14, f"write on the second instance, read on the first: {got}")


def case_idempotency_across_instances(a, b):
    sku = unique("IX")
    key = unique("idem-x")
    answer = sync(a, "/v1/skus", {"sku": sku, "name": "x"}, 201, idempotency_key=key)
    expect(b.get(f"/v1/commands/{key}?min_position={answer.json['position']}"), 200)
    # the same command again on the other instance: its known outcome
    again = expect(b.post("/v1/skus", {"sku": sku, "name": "x"}, headers={"Idempotency-Key": key}), 201)
    check(again.json["events"] == answer.json["events"], f"retry on another instance: {again} vs {answer}")
    # another command type or SKU under that key on another instance: refused from the outcomes view
    key2 = unique("idem-x")
    answer = sync(a, "/v1/skus", {"sku": sku + "Z", "name": "x"}, 201, idempotency_key=key2)
    expect(b.get(f"/v1/commands/{key2}?min_position={answer.json['position']}"), 200)
    expect(b.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 1}, headers={"Idempotency-Key": key2}),
           422, "idempotency-key-reused")
    expect(b.post("/v1/skus", {"sku": sku + "Y", "name": "x"}, headers={"Idempotency-Key": key2}),
           422, "idempotency-key-reused")
    # a refused command must not take the key over: the original command is still safe to retry
    again = b.post("/v1/skus", {"sku": sku + "Z", "name": "x"}, headers={"Idempotency-Key": key2})
    check(again.status == 201,
          f"retry of the original command after a refused reuse of its key: expected 201 with its outcome "
          f"(docs: the same key with the same command is safe to retry), got {again}")


def keyed_receipt_on_b(a, b, sku_prefix, quantity):
    """A new SKU (created on a) and a receipt of quantity submitted on b under a new Idempotency-Key, waited for
    and visible in b's outcomes view. Returns (sku, key, the receipt's answer)."""
    sku = unique(sku_prefix)
    sync(a, "/v1/skus", {"sku": sku, "name": "keyed"}, 201)
    key = unique("idem-" + sku_prefix.lower())
    answer = sync(b, f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": quantity}, 200, idempotency_key=key)
    expect(b.get(f"/v1/commands/{key}?min_position={answer.json['position']}"), 200)
    return sku, key, answer


def case_idempotency_table_keeps_client_keys(a, b):
    """b remembers 4 keys (--http.idempotency_keys_max=4). Commands without a key (generated ids) must not push
    a client's key out: the same key with other fields (same type and SKU, which the outcomes view cannot tell
    apart) is refused only by that table."""
    sku, key, _ = keyed_receipt_on_b(a, b, "IK", 1)
    for _ in range(5):
        expect(b.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 1}), 202)
    expect(b.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 2}, headers={"Idempotency-Key": key}),
           422, "idempotency-key-reused")


# ---- cases: HTTP commands skip the router (docs/write-path.md) ------------------------------------------------


def history_command_ids(instance, sku, position):
    """The command ids of a SKU's history, oldest first, once the view has passed position."""
    page = expect(instance.get(f"/v1/skus/{sku}/history?limit=100&min_position={position}"), 200).json
    check(page["next_cursor"] is None, f"history of {sku}: more than one page")
    return [item["command_id"] for item in page["items"]]


def case_sku_commands_decided_in_submission_order(a, b, d):
    """Each 202 means the command is on its SKU's by-sku partition, so the commands of one SKU submitted one after
    another (each after the previous answer) are decided in that order, whichever API instance took each: a (all
    roles), b (api,projector) and d (api only) in turn. Counted adjustments make the last one decided show."""
    sku = unique("SO")
    create_sku(a, sku)
    instances = (a, b, d)
    submitted = []
    for index in range(ORDER_COMMANDS):
        key = unique("order")
        body = {"location": "L1", "reason": "count", "counted": index + 1}
        expect(instances[index % len(instances)].post(f"/v1/skus/{sku}/adjustments", body,
                                                      headers={"Idempotency-Key": key}), 202)
        submitted.append(key)
    position = poll_outcome(a, submitted[-1]).json["position"]
    decided = history_command_ids(a, sku, position)[1:]  # after the CreateSku
    check(decided == submitted, f"{sku}: decided in the order {decided}, submitted in the order {submitted}")
    stock = expect(a.get(f"/v1/skus/{sku}?min_position={position}"), 200).json
    check(stock["on_hand"] == ORDER_COMMANDS, f"{sku}: on_hand {stock['on_hand']}, the last count was {ORDER_COMMANDS}")


def case_same_key_while_in_flight(a, b):
    """One Idempotency-Key with one command, sent IN_FLIGHT_COPIES times at once with Prefer: wait (on a, and once
    on b, which keeps its own key table): the copies go to the SKU's one partition and the handler decides the
    first and drops the rest as duplicates. One decision; every answer with an outcome has that outcome."""
    sku = unique("IQ")
    create_sku(a, sku)
    total = 0
    for round_number in range(3):
        key = unique("idem-flight")
        body = {"location": "L", "quantity": round_number + 1}
        total += round_number + 1
        answers = [None] * IN_FLIGHT_COPIES
        barrier = threading.Barrier(IN_FLIGHT_COPIES)

        def send(index):
            barrier.wait()
            instance = b if index == 0 else a
            answers[index] = instance.post(f"/v1/skus/{sku}/receipts", body, headers={"Idempotency-Key": key, **WAIT})

        threads = [threading.Thread(target=send, args=(i,)) for i in range(IN_FLIGHT_COPIES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcome = poll_outcome(a, key)
        check_outcome(outcome, "ReceiveStock", sku)  # decision_count 1
        for answer in answers:
            check(answer.status in (200, 202), f"round {round_number}: a copy of key {key} got {answer}")
            if answer.status == 200:  # 202: its wait ran out first (a slow run)
                check(answer.json["events"] == outcome.json["events"],
                      f"round {round_number}: a copy answered another outcome: {answer} vs {outcome}")
        position = outcome.json["position"]
    stock = expect(a.get(f"/v1/skus/{sku}?min_position={position}"), 200).json
    check(stock["on_hand"] == total, f"{sku}: on_hand {stock['on_hand']}, expected {total}: a copy was decided twice")


def case_router_not_on_the_path(run):
    """An instance with roles api,handler,projector on a prefix that no router serves decides HTTP commands: the
    API writes them to <prefix>.commands.by-sku itself, and <prefix>.commands and the DLQ stay empty."""
    prefix = run.prefix + "-norouter"
    n = Stockd(run, "n", roles="api,handler,projector", extra=[f"--kafka.topic_prefix={prefix}"])
    try:
        n.start()
        n.wait_ready()
        skus = [unique("NR") for _ in range(2 * PARTITIONS)]  # every partition, most likely
        for sku in skus:
            create_sku(n, sku)
        for quantity in (1, 2, 3):
            receive(n, skus[0], "L1", quantity)
        position = check_outcome(reserve(n, skus[0], "nr-1", "L1", 4), "ReserveStock", skus[0])["position"]
        stock = expect(n.get(f"/v1/skus/{skus[0]}?min_position={position}"), 200).json
        check(stock["on_hand"] == 6 and stock["reserved"] == 4, f"{skus[0]} without a router: {stock}")
        by_sku = run.topic_end(prefix + ".commands.by-sku")
        check(by_sku == len(skus) + 4, f"{prefix}.commands.by-sku holds {by_sku} records, {len(skus) + 4} sent")
        for topic in (prefix + ".commands", prefix + ".dlq"):
            check(run.topic_end(topic) == 0, f"{topic} holds {run.topic_end(topic)} records, expected none")
        # the handler's end-to-end latency starts at the API's CreateTime: one observation per decided command
        # (counted just after the handler's commit, which the views may see first: polled briefly)
        deadline = time.monotonic() + 5
        while True:
            metrics = expect(n.get("/metrics"), 200).body.decode()
            count = re.search(r"^stockd_command_end_to_end_seconds_count (\d+)$", metrics, re.MULTILINE)
            observed = int(count.group(1)) if count else None
            if observed == len(skus) + 4 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        check(observed == len(skus) + 4,
              f"stockd_command_end_to_end_seconds_count is {observed}, {len(skus) + 4} commands were decided")
    finally:
        n.stop()
        if run.topics_delete and not os.environ.get("STOCKD_KEEP"):
            subprocess.run([run.topics_delete, run.bootstrap, prefix], capture_output=True, timeout=60)


def case_nothing_routed_nothing_dead_lettered(run):
    """After every case: the API wrote no record to <prefix>.commands (the router had nothing to do) and none to
    the DLQ (the handler found every HTTP command decodable and on its SKU's partition)."""
    for topic in (run.commands_topic, run.prefix + ".dlq"):
        check(run.topic_end(topic) == 0, f"{topic} holds {run.topic_end(topic)} records, expected none")


def case_too_many_waits(run, b):
    """b runs with --http.waits_max=2: two held min_position waits, the third wait is 503 too-many-waits."""
    held = []

    def hold():
        held.append(b.get(f"/v1/skus?min_position={FAR_POSITION}"))

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    try:
        answer = expect(b.get(f"/v1/skus?min_position={FAR_POSITION}"), 503, "too-many-waits")
        check(answer.header("Retry-After") == "1", f"{answer}: Retry-After is not 1")
        check(answer.elapsed_s < 1.0, f"{answer}: too-many-waits took {answer.elapsed_s:.2f} s")

        def refused_command():
            answer = b.post("/v1/skus", {"sku": unique("TW"), "name": "w"}, headers=dict(WAIT))
            expect(answer, 503, "too-many-waits")
            check(answer.header("Retry-After") is not None, f"{answer}: no Retry-After")

        before = run.produced_end()
        refused_command()
        for path, body in command_routes("TW-SKU", "tw-r"):
            expect(b.post(path, body, headers=dict(WAIT)), 503, "too-many-waits")
        after = run.produced_end()
        check(after == before, f"a command refused with too-many-waits was produced ({before} -> {after})")
        expect(b.get("/v1/skus?limit=1"), 200)  # no wait: still served
    finally:
        for thread in threads:
            thread.join()
    check(len(held) == 2 and all(h.status == 503 for h in held), f"held waits: {[str(h) for h in held]}")
    for answer in held:
        expect(answer, 503, "position-not-reached")


# ---- cases: an instance with role api only -----------------------------------------------------------------


def case_shutdown_ends_waits(run):
    """SIGTERM while requests wait (a min_position far ahead; Prefer: wait for a command no instance of its prefix
    handles): the waits end at once with their fallback answers (503 position-not-reached, 202), and stockd
    exits 0 long before its 30 s wait bound."""
    prefix = run.prefix + "-idle"
    w = Stockd(run, "w", roles="api,projector", extra=["--http.wait_ms_max=30000", f"--kafka.topic_prefix={prefix}"])
    try:
        w.start()
        w.wait_ready()
        answers = {}

        def position_wait():
            try:
                answers["query"] = w.get("/v1/skus/SKU-W?min_position=0:999999999", timeout=40)
            except Exception as error:  # noqa: BLE001 - reported by the check below
                answers["query"] = error

        def command_wait():
            try:
                answers["command"] = w.post("/v1/skus", {"sku": "SKU-W", "name": "w"}, headers={"Prefer": "wait=30"},
                                            timeout=40)
            except Exception as error:  # noqa: BLE001 - reported by the check below
                answers["command"] = error

        threads = [threading.Thread(target=position_wait), threading.Thread(target=command_wait)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        started = time.monotonic()
        code = w.stop()
        took = time.monotonic() - started
        for thread in threads:
            thread.join()
        check(code == 0 and took < 10, f"stockd with two waiting requests: exit {code} after {took:.1f} s of SIGTERM")
        for name, status in (("query", 503), ("command", 202)):
            answer = answers.get(name)
            check(isinstance(answer, Answer) and answer.status == status,
                  f"{name} waiting at shutdown: {answer if not isinstance(answer, Answer) else answer.status}, "
                  f"expected {status}")
    finally:
        w.stop()
        if run.topics_delete and not os.environ.get("STOCKD_KEEP"):
            subprocess.run([run.topics_delete, run.bootstrap, prefix], capture_output=True, timeout=60)


def case_api_only_instance(run, a, d):
    sku = unique("AO")
    create_sku(a, sku)
    for path in (f"/v1/skus/{sku}", "/v1/skus", f"/v1/skus/{sku}/history", "/v1/reservations/r-1",
                 "/v1/commands/c-1"):
        expect(d.get(path), 503, "view-unavailable")
    expect(d.post("/v1/views/stock/rebuild"), 503, "view-unavailable")
    views = expect(d.get("/v1/views"), 200).json
    check(views == {"views": []}, f"views of an instance without projectors: {views}")
    expect(d.post("/v1/reservations/r-1/release", {}), 422, "sku-required")
    # Prefer: wait is ignored without the projector role: the 202 answer
    answer = expect(d.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 2}, headers=dict(WAIT)), 202)
    check(answer.header("Preference-Applied") is None, f"{answer}: Preference-Applied without a projector")
    check_outcome(poll_outcome(a, answer.json["command_id"]), "ReceiveStock", sku)
    expect(d.get("/readyz"), 200)


# ---- cases: API keys --------------------------------------------------------------------------------------

KEYS = {
    "read": "read-" + os.urandom(12).hex(),
    "write": "write-" + os.urandom(12).hex(),
    "admin": "admin-" + os.urandom(12).hex(),
    "expired": "expired-" + os.urandom(12).hex(),
}


def api_keys_flag():
    return (f"--http.api_keys=read:{KEYS['read']},write:{KEYS['write']},admin:{KEYS['admin']},"
            f"read:{KEYS['expired']}:1000000000")


def unauthorized(answer, key_sent=None):
    expect(answer, 401, "unauthorized")
    challenge = answer.header("WWW-Authenticate") or ""
    check(challenge.startswith("Bearer"), f"{answer}: WWW-Authenticate {challenge!r}")
    if key_sent is not None:
        check(key_sent.encode() not in answer.body, f"{answer}: the key is echoed in the answer")


def case_auth(run, k):
    sku = unique("AU")
    for path in ("/v1/skus", f"/v1/skus/{sku}", "/v1/views", "/metrics", f"/v1/commands/{sku}",
                 f"/v1/skus/{sku}/history", "/v1/reservations/r-1"):
        unauthorized(k.get(path))
        unauthorized(k.get(path, key="wrong-" + os.urandom(12).hex()))
        unauthorized(k.get(path, key=KEYS["expired"]), KEYS["expired"])
        unauthorized(k.get(path, headers={"Authorization": "Basic " + KEYS["read"]}), KEYS["read"])
        check(k.get(path, key=KEYS["read"]).status in (200, 404), f"GET {path} with a read key")
        check(k.get(path, key=KEYS["admin"]).status in (200, 404), f"GET {path} with an admin key")
    expect(k.get("/v1/skus", key=KEYS["read"] + "x"), 401, "unauthorized")
    expect(k.get("/v1/skus", key=KEYS["read"][:-1]), 401, "unauthorized")
    for path in ("/healthz", "/readyz", "/openapi.yaml"):
        expect(k.get(path), 200)
        expect(k.get(path, key="wrong-" + os.urandom(12).hex()), 200)

    def refused_writes():
        body = {"sku": sku, "name": "auth"}
        unauthorized(k.post("/v1/skus", body))
        unauthorized(k.post("/v1/skus", body, key=KEYS["expired"]), KEYS["expired"])
        expect(k.post("/v1/skus", body, key=KEYS["read"]), 403, "forbidden")
        expect(k.post("/v1/commands", {"type": "CreateSku", "sku": sku, "data": {"name": "a"}}, key=KEYS["read"]),
               403, "forbidden")
        unauthorized(k.post("/v1/commands", {"type": "CreateSku", "sku": sku, "data": {"name": "a"}}))
        for path in (f"/v1/skus/{sku}/receipts", f"/v1/skus/{sku}/adjustments", f"/v1/skus/{sku}/transfers",
                     "/v1/reservations", "/v1/reservations/r-1/release", "/v1/reservations/r-1/fulfil"):
            unauthorized(k.post(path, {}))
            expect(k.post(path, {}, key=KEYS["read"]), 403, "forbidden")
        unauthorized(k.post("/v1/views/stock/rebuild"))
        expect(k.post("/v1/views/stock/rebuild", key=KEYS["read"]), 403, "forbidden")
        expect(k.post("/v1/views/stock/rebuild", key=KEYS["write"]), 403, "forbidden")

    nothing_produced(run, k, refused_writes)
    answer = expect(k.post("/v1/skus", {"sku": sku, "name": "auth"}, key=KEYS["write"], headers=dict(WAIT)), 201)
    expect(k.post(f"/v1/skus/{sku}/receipts", {"location": "L", "quantity": 1}, key=KEYS["admin"]), 202)
    expect(k.get(f"/v1/skus/{sku}?min_position={answer.json['position']}", key=KEYS["read"]), 200)
    expect(k.post("/v1/views/outcomes/rebuild", key=KEYS["admin"]), 202)


def case_auth_no_key_logged(k):
    text = k.log_text()
    for role, key in KEYS.items():
        check(key not in text, f"the {role} API key appears in the instance's log {k.log_path}")


# ---- cases: hostile requests ------------------------------------------------------------------------------


def hostile_oversized_body_with_length(a):
    sku = unique("HB")
    body = json.dumps({"sku": sku, "name": "x" * (BODY_BYTES_MAX + 10)}).encode()
    head = (f"POST /v1/skus HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", a.port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall(head)  # the declared length alone must be refused, before any body byte
        status, headers, answer_body = raw_read_answer(sock)
        check(status is not None, "oversized body with Content-Length: no answer before the body was sent")
        try:
            sock.sendall(body)
        except OSError:
            pass
    expect(raw_answer(a, "POST", "/v1/skus", head, status, headers, answer_body, started), 413, "body-too-large")


def hostile_oversized_chunked_body(a):
    head = (b"POST /v1/skus HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"2000\r\n" + b" " * 0x2000 + b"\r\n"
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", a.port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall(head)
        sent = 0
        try:  # chunks until the server answers (it must, after http.body_bytes_max), at most 4 MiB
            while sent < 4 << 20:
                readable, _, _ = select.select([sock], [], [], 0.001)
                if readable:
                    break
                sock.sendall(chunk)
                sent += 0x2000
        except OSError:
            pass
        status, headers, body = raw_read_answer(sock)
    check(status is not None, f"chunked body: no answer after {sent} bytes")
    expect(raw_answer(a, "POST", "/v1/skus", head, status, headers, body, started), 413, "body-too-large")


def hostile_thousand_headers(a):
    body = json.dumps({"sku": unique("HH"), "name": "h"}).encode()
    fields = "".join(f"X-F{i}: {i}\r\n" for i in range(1000))
    data = (f"POST /v1/skus HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    expect(raw_request(a, "POST", "/v1/skus", data), 431, "headers-too-large")


def hostile_sixty_four_headers(a):
    fields = "".join(f"X-F{i}: {i}\r\n" for i in range(63))  # with Host: 64 fields, one above the limit
    data = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}\r\n".encode()
    expect(raw_request(a, "GET", "/healthz", data), 431, "headers-too-large")
    fields = "".join(f"X-F{i}: {i}\r\n" for i in range(62))  # 63 fields: allowed
    data = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}\r\n".encode()
    expect(raw_request(a, "GET", "/healthz", data), 200)


def hostile_twenty_kb_header(a):
    body = json.dumps({"sku": unique("HK"), "name": "k"}).encode()
    data = (f"POST /v1/skus HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * 20480}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    # docs/http-api.md: request line + headers at most 16 KiB (400 bad-request)
    expect(raw_request(a, "POST", "/v1/skus", data), 400, "bad-request")


def hostile_slow_client(a):
    """Headers one byte at a time, slower than http.request_timeout_ms: cut off, the server fine."""
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
    started = time.monotonic()
    closed_after = None
    with socket.create_connection(("127.0.0.1", a.port), timeout=HTTP_TIMEOUT_S) as sock:
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - started
                break
            readable, _, _ = select.select([sock], [], [], 0.05)
            if readable:
                data = b""
                try:
                    data = sock.recv(65536)
                except OSError:
                    pass
                closed_after = time.monotonic() - started
                if data:
                    status = int(data.split(b" ", 2)[1])
                    check(status in (400, 408), f"slow client: answered {data[:200]!r}")
                    COVERAGE.record(("GET", None), status, CURRENT_CASE[0])
                break
            if time.monotonic() - started > REQUEST_TIMEOUT_MS / 1000 + 8:
                break
    check(closed_after is not None, f"slow client still connected after {time.monotonic() - started:.1f} s")
    say(f"    slow client: cut off after {closed_after:.2f} s")
    check(closed_after < REQUEST_TIMEOUT_MS / 1000 + 3,
          f"slow client cut off after {closed_after:.1f} s, http.request_timeout_ms is {REQUEST_TIMEOUT_MS}")


def hostile_slowloris_with_normal_requests(a):
    """Connections sending headers slowly while normal requests go on: with fewer than http.threads (HTTP_THREADS)
    the normal ones are answered at once; with more they still are, within http.request_timeout_ms."""
    slowest_few = slowloris_phase(a, 8, 1.0)
    slowest_many = slowloris_phase(a, 24, REQUEST_TIMEOUT_MS / 1000 + 2)
    say(f"    slowloris: slowest normal request {slowest_few:.3f} s beside 8 slow connections, "
        f"{slowest_many:.3f} s beside 24 (http.threads {HTTP_THREADS}, http.request_timeout_ms {REQUEST_TIMEOUT_MS})")


def slowloris_phase(a, connections, latency_max_s):
    stop = threading.Event()

    def loris():
        try:
            with socket.create_connection(("127.0.0.1", a.port), timeout=10) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                while not stop.is_set():
                    sock.sendall(b"X-Loris: 1\r\n")
                    if stop.wait(0.3):
                        break
        except OSError:
            pass  # cut off: what should happen

    lorises = [threading.Thread(target=loris) for _ in range(connections)]
    for thread in lorises:
        thread.start()
    latencies = []
    failures = []
    try:
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            try:
                answer = a.get("/v1/skus?limit=1", timeout=10)
                latencies.append(answer.elapsed_s)
                if answer.status != 200:
                    failures.append(str(answer))
            except OSError as error:
                failures.append(repr(error))
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in lorises:
            thread.join()
    check(not failures, f"normal requests failed beside {connections} slow connections: {failures[:3]}")
    check(latencies and max(latencies) < latency_max_s,
          f"normal requests beside {connections} slow connections: {len(latencies)} answered, slowest "
          f"{max(latencies or [0]):.2f} s (at most {latency_max_s:.1f} s expected)")
    return max(latencies)


def hostile_malformed_json(a):
    for body in (b'{"sku": "X1", "name": ', b"not json", b'{"sku": "X1", "name": "n"} trailing', b"",
                 b'\xff\xfe{"sku":1}'):
        answer = a.request("POST", "/v1/skus", body=body, headers={"Content-Type": "application/json"})
        expect(answer, 400, "invalid-body")


def hostile_nul_in_json(a):
    for body in (b'{"sku": "NU1", "name": "x\x00y"}', b'{"sku": "NU\\u00001", "name": "x"}',
                 b'{"sku": "NU1", "name": "\xff\xfe"}'):
        answer = a.request("POST", "/v1/skus", body=body, headers={"Content-Type": "application/json"})
        expect(answer, 400, "invalid-body")


def hostile_bad_content_length(a):
    for value in ("abc", "-5", "1, 2"):
        data = (f"POST /v1/skus HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {value}\r\n\r\n{{}}").encode()
        answer = raw_request(a, "POST", "/v1/skus", data)
        check(400 <= answer.status < 500, f"Content-Length: {value}: {answer}")


def hostile_keep_alive_after_errors(a):
    """Three requests on one connection, the first two refused: three answers, the last 200."""
    data = (b"POST /v1/skus HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{bad}"
            b"GET /v1/skus?limit=0 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    started = time.monotonic()
    statuses = []
    leftover = [b""]
    with socket.create_connection(("127.0.0.1", a.port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall(data)
        for method, path in (("POST", "/v1/skus"), ("GET", "/v1/skus?limit=0"), ("GET", "/healthz")):
            status, headers, body = raw_read_answer(sock, leftover=leftover)
            check(status is not None, f"keep-alive: no answer to {method} {path} after {statuses}")
            statuses.append(raw_answer(a, method, path, data, status, headers, body, started).status)
    check(statuses == [400, 400, 200], f"keep-alive answers {statuses}, expected [400, 400, 200]")


def hostile_duplicate_keys(a):
    sku = unique("HD")
    for body in (f'{{"sku": "{sku}", "name": "a", "name": "b"}}', f'{{"sku": "{sku}", "name": "a", "NAME": "b"}}'):
        answer = a.request("POST", "/v1/skus", body=body.encode(), headers={"Content-Type": "application/json"})
        expect(answer, 400, "invalid-body")


def hostile_nested_json(a):
    nested = "[" * 50 + "]" * 50
    for path, body in (("/v1/skus", f'{{"sku": "N1", "name": "n", "reorder_point": {nested}}}'),
                       ("/v1/commands", f'{{"type": "CreateSku", "sku": "N1", "data": {{"name": {nested}}}}}'),
                       ("/v1/skus", '{"a":' * 50 + "1" + "}" * 50)):
        answer = a.request("POST", path, body=body.encode(), headers={"Content-Type": "application/json"})
        expect(answer, 400, "invalid-body")


def hostile_nul_in_sku(a):
    expect(a.get("/v1/skus/AB%00CD"), 400, "invalid-path")
    expect(a.post("/v1/skus/AB%00CD/receipts", {"location": "L", "quantity": 1}), 400, "invalid-path")
    expect(a.get("/v1/skus/%00"), 400, "invalid-path")
    expect(a.get("/v1/skus/AB%0"), 400, "invalid-path")  # malformed escape


def hostile_long_path(a):
    """A path over 512 bytes is 400 invalid-path: not a 404, whose query answers promise a position
    (schemathesis found GET /v1/skus/{long} -> 404 without X-Stockd-Position)."""
    long_sku = "%C3%A8" * 100  # 600 bytes raw
    expect(a.get(f"/v1/skus/{long_sku}"), 400, "invalid-path")
    expect(a.post(f"/v1/skus/{long_sku}/receipts", {"location": "L", "quantity": 1}), 400, "invalid-path")
    expect(a.get("/" + "x" * 600), 400, "invalid-path")
    expect(a.get("/v1/skus/" + "A" * 65), 400, "invalid-path")  # under 512 bytes: routed, the SKU refused


def hostile_multibyte_name_cut_in_detail(a):
    """schemathesis, seed 832009397: a view name of 4-byte UTF-8 characters, echoed in the 404's detail cut to 64
    bytes, ended the body in the middle of a character: not UTF-8, so not JSON. Every body is valid UTF-8."""
    bold = "%F0%9D%90%93%F0%9D%90%A1%F0%9D%90%9E%20"  # three 4-byte letters and a space, percent-encoded
    for name in ("x" + "%F0%9D%90%93" * 30, "xy" + "%F0%9D%90%93" * 30, "xyz" + "%F0%9D%90%93" * 30):
        answer = a.post(f"/v1/views/{name}/rebuild")  # 64 bytes end 3, 2 or 1 byte(s) into a character
        check(answer.status in (400, 404), f"rebuild of a 4-byte-character view name: {answer.status}")
        check(answer.json["status"] == answer.status, f"problem body: {answer.json}")
    answer = a.post(f"/v1/views/{bold * 12}/rebuild")
    check(answer.status in (400, 404), f"rebuild of a 4-byte-character view name: {answer.status}")
    check(answer.json["status"] == answer.status, f"problem body: {answer.json}")
    for path in (f"/v1/skus/{bold * 12}", f"/v1/commands/{bold * 12}", f"/v1/skus?cursor={bold * 12}"):
        answer = a.get(path)
        check(answer.status == 400 and answer.json["status"] == 400, f"GET {path[:40]}...: {answer.status}")


def hostile_percent_encoded_traversal(a):
    for path in ("/v1/skus/..%2F..%2Fetc%2Fpasswd", "/v1/skus/..%2F..%2F..%2Fetc%2Fpasswd/history",
                 "/v1/reservations/..%2F..%2Fetc%2Fpasswd", "/v1/commands/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                 "/v1/skus/%2e%2e"):
        answer = a.get(path)
        check(answer.status in (400, 404), f"traversal {path}: {answer}")
        check(b"root:" not in answer.body, f"traversal {path} leaked a file")
    expect(a.post("/v1/skus/..%2F..%2Fetc%2Fpasswd/receipts", {"location": "L", "quantity": 1}), 400,
           "invalid-path")
    data = b"GET /v1/../../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    answer = raw_request(a, "GET", "/v1/../../../../etc/passwd", data)
    check(answer.status in (400, 404) and b"root:" not in answer.body, f"raw traversal: {answer}")


def hostile_unknown_route(a):
    for path in ("/v2/skus", "/", "/v1", "/v1/skus/A/B/C/D/E", "/v1/skus/A/unknown", "/admin",
                 "/v1/skus/A/receipts/extra"):
        expect(a.get(path), 404, "not-found")
    expect(a.post("/v1/nothing", {"a": 1}), 404, "not-found")


def hostile_unknown_method(a):
    answer = a.request("BREW", "/v1/skus")
    check(answer.status in (400, 405), f"an unknown HTTP method: {answer}")
    for method, path, allow in (("DELETE", "/v1/skus", {"GET", "POST"}), ("PUT", "/v1/skus/A1", {"GET"}),
                                ("PATCH", "/v1/skus/A1/receipts", {"POST"}), ("DELETE", "/healthz", {"GET"}),
                                ("GET", "/v1/views/stock/rebuild", {"POST"}), ("POST", "/v1/commands/c1", {"GET"})):
        answer = expect(a.request(method, path, body=b"{}" if method != "GET" else None,
                                  headers={"Content-Type": "application/json"}), 405, "method-not-allowed")
        methods = {m.strip() for m in (answer.header("Allow") or "").split(",") if m.strip()}
        check(methods == allow, f"{answer}: Allow {answer.header('Allow')!r}, expected {sorted(allow)}")


def hostile_malformed_known_method(a):
    """civetweb refuses a malformed request of a method it knows (GET, POST) with 400: that stays a 400, not a 405
    (only methods civetweb does not know at all are turned into 405)."""
    for name, data in (
            ("Transfer-Encoding: gzip",
             b"POST /v1/skus HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Transfer-Encoding: gzip\r\nConnection: close\r\n\r\n{}"),
            ("a header line without a colon",
             b"GET /v1/skus HTTP/1.1\r\nHost: x\r\nBad Header x\r\nConnection: close\r\n\r\n"),
            ("a request target that is not a path", b"GET foo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")):
        answer = raw_request(a, "GET", name, data)
        check(answer.status == 400, f"{name}: {answer.status} {answer.body[:160]!r}, expected 400")


def hostile_unknown_method_after_keep_alive(a):
    """The Allow of a 405 for an unknown method is the path of that request, not of the one before it on the
    same keep-alive connection."""
    with socket.create_connection(("127.0.0.1", a.port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall(b"GET /v1/skus HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = raw_read_answer(sock)
        check(status == 200, f"GET /v1/skus on a keep-alive connection: {status}")
        sock.sendall(b"BREW /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, body = raw_read_answer(sock)
    allow = next((v for n, v in headers if n.lower() == "allow"), None)
    check(status == 405 and allow == "GET", f"BREW /healthz after GET /v1/skus: {status}, Allow {allow!r} {body[:120]!r}")


def hostile_head(a):
    """HEAD is not in the route table: 405 with Allow (docs/http-api.md), and never a body."""
    for path in ("/healthz", "/v1/skus"):
        data = f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", a.port), timeout=HTTP_TIMEOUT_S) as sock:
            sock.sendall(data)
            sock.settimeout(HTTP_TIMEOUT_S)
            raw = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
        head, _, rest = raw.partition(b"\r\n\r\n")
        check(rest == b"", f"HEAD {path}: a body of {len(rest)} bytes after the headers: {rest[:100]!r}")
        lines = head.decode("latin-1").split("\r\n")
        headers = [(line.split(":", 1)[0].strip(), line.split(":", 1)[1].strip()) for line in lines[1:] if ":" in line]
        answer = raw_answer(a, "HEAD", path, data, int(lines[0].split()[1]), headers, b"", started)
        check(answer.status == 405 and answer.header("Allow"), f"HEAD {path}: {lines[0]}, Allow {answer.header('Allow')}")


def hostile_wrong_content_type(a):
    sku = unique("CT")
    body = json.dumps({"sku": sku, "name": "c"}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", None):
        headers = {"Content-Type": content_type} if content_type else {}
        answer = a.request("POST", "/v1/skus", body=body, headers=headers)
        expect(answer, 415, "unsupported-media-type")


def hostile_idempotency_key_with_space(a):
    for key in ("has space", "-leading", "x" * 129, "semi;colon"):
        answer = a.post("/v1/skus", {"sku": unique("IK"), "name": "i"}, headers={"Idempotency-Key": key})
        expect(answer, 400, "invalid-header")


def hostile_bad_limits(a):
    for value in ("0", "101", "abc", "1e2", "%2B5"):
        expect(a.get(f"/v1/skus?limit={value}"), 400, "invalid-parameter")
        expect(a.get(f"/v1/skus/A1/history?limit={value}"), 400, "invalid-parameter")


def hostile_unknown_query_parameter(a):
    expect(a.get("/v1/skus?colour=red"), 400, "invalid-parameter")
    expect(a.get("/v1/skus/A1?verbose"), 400, "invalid-parameter")
    expect(a.post("/v1/skus?dry_run=1", {"sku": unique("QP"), "name": "q"}), 400, "invalid-parameter")


def hostile_repeated_query_parameter(a):
    expect(a.get("/v1/skus?limit=1&limit=2"), 400, "invalid-parameter")
    expect(a.get("/v1/skus/A1/history?order=oldest&order=oldest"), 400, "invalid-parameter")


def hostile_min_position_garbage(a):
    for value in ("garbage", "0:x", "99999:1", "0:1:2", "%00", "-1:5", "0:99999999999999999999999"):
        expect(a.get(f"/v1/skus?min_position={value}"), 400, "invalid-parameter")


def hostile_control_character_in_header(a):
    data = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad: a\x01b\r\n\r\n"
    answer = raw_request(a, "GET", "/healthz", data)
    check(answer.status == 400, f"control character in a header value: {answer}")


def hostile_malformed_request_line(a):
    wrong = []
    for line in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n", b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
                 b"GET http://elsewhere/healthz HTTP/1.1\r\nHost: x\r\n\r\n"):
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", a.port), timeout=HTTP_TIMEOUT_S) as sock:
            sock.sendall(line)
            status, headers, body = raw_read_answer(sock)
        if status is not None:
            answer = raw_answer(a, "GET", "/", line, status, headers, body, started)
            expected = 505 if b"HTTP/9.9" in line else None  # docs: an unknown HTTP version is 505
            if (expected is not None and answer.status != expected) or (
                    expected is None and not 400 <= answer.status < 500):
                wrong.append(f"{line!r}: {answer}")
    check(not wrong, "malformed request lines not answered 4xx, or 505 for HTTP/9.9: " + "; ".join(wrong))


# ---- cases: rebuild (last on an instance: it replays a view) ---------------------------------------------


def case_rebuild(a):
    expect(a.post("/v1/views/nosuchview/rebuild"), 404, "not-found")
    expect(a.post("/v1/views/stock/rebuild?now=1"), 400, "invalid-parameter")
    answer = a.request("POST", "/v1/views/stock/rebuild", body=b"x" * (BODY_BYTES_MAX + 1),
                       headers={"Content-Type": "application/json"})
    expect(answer, 413, "body-too-large")
    # the first asks, an immediate second finds it asked for or running: 409 (retried: a tiny view may be
    # rebuilt between the two)
    conflict = None
    for _ in range(5):
        first = expect(a.post("/v1/views/history/rebuild"), 202)
        check(first.json == {"view": "history", "status": "requested"}, f"{first}: body")
        second = a.post("/v1/views/history/rebuild")
        check(second.status in (202, 409), f"second rebuild: {second}")
        if second.status == 409:
            conflict = expect(second, 409, "rebuild-running")
            break
        time.sleep(0.2)
    check(conflict is not None, "five immediate second rebuild requests never got 409")
    deadline = time.monotonic() + 30
    while True:
        views = {v["name"]: v for v in expect(a.get("/v1/views"), 200).json["views"]}
        if not views["history"]["rebuild"]["running"] and views["history"]["state"] == "ready":
            break
        check(time.monotonic() < deadline, f"history rebuild not finished within 30 s: {views['history']}")
        time.sleep(0.2)
    expect(a.get("/v1/skus?limit=1"), 200)


# ---- route coverage -----------------------------------------------------------------------------------------


def case_route_coverage():
    """Every observed (method, route, status) is in the table; every route had a 2xx. Prints the gaps."""
    wrong = []
    for (method, template, status), case in sorted(COVERAGE.seen.items(), key=lambda item: str(item[0])):
        if template is None:
            if status not in ROUTES.unrouted:
                wrong.append(f"unrouted {method} -> {status} (in {case}) is not in unrouted_statuses "
                             f"{sorted(ROUTES.unrouted)}")
            continue
        route = next(r for r in ROUTES.routes if r["method"] == method and r["path"] == template)
        if status in (411, 505) and status in ROUTES.unrouted:
            continue  # civetweb answers these before any route is chosen, whatever the path
        if status not in route["statuses"]:
            wrong.append(f"{method} {template} -> {status} (in {case}) is not in the route table {route['statuses']}")
    without_success = []
    never = []
    for route in ROUTES.routes:
        statuses = {s for (m, t, s) in COVERAGE.seen if m == route["method"] and t == route["path"]}
        if not any(200 <= s < 300 for s in statuses):
            without_success.append(f"{route['method']} {route['path']}")
        missing = [s for s in route["statuses"] if s not in statuses]
        if missing:
            never.append(f"{route['method']} {route['path']}: {missing}")
    unrouted_seen = {s for (m, t, s) in COVERAGE.seen if t is None}
    say("  route/status pairs of the table this run never saw:")
    for line in never:
        say("    " + line)
    say(f"    unrouted statuses never seen: {sorted(ROUTES.unrouted - unrouted_seen)}")
    say("  query answers without X-Stockd-Position (those refused before the route runs, or with no view):")
    for (template, status), body in sorted(QUERY_WITHOUT_POSITION.items()):
        say(f"    GET {template} -> {status} {body!r}")
    check(not wrong, "statuses outside the route table:\n  " + "\n  ".join(wrong))
    check(not without_success, "routes never answered with a 2xx: " + ", ".join(without_success))


# ---- main ---------------------------------------------------------------------------------------------------


def main():
    global ROUTES
    run = Run()
    ROUTES = RouteTable(run.routes_dump)
    cases = Cases()
    started = time.monotonic()
    say(f"test_http.py: prefix {run.prefix}, files in {run.root}, broker {run.bootstrap}")
    a = Stockd(run, "a", roles="api,router,handler,projector,orders")
    b = Stockd(run, "b", roles="api,projector", extra=["--http.waits_max=2", "--http.idempotency_keys_max=4"])
    d = Stockd(run, "d", roles="api")
    k = Stockd(run, "k", roles="api,projector", extra=[api_keys_flag(), "--log.level=debug"])
    try:
        a.start()
        ok = cases.run("start: instance a (all roles) ready", a.wait_ready)
        if ok:
            for instance in (b, d, k):
                instance.start()
            for instance in (b, d, k):
                ok = cases.run(f"start: instance {instance.name} ({instance.roles}) ready", instance.wait_ready) and ok
        if ok:
            cases.run("healthz answers ok", case_healthz, a)
            cases.run("readyz answers ready with its checks", case_readyz, a)
            cases.run("SIGINT and SIGTERM are blocked in every thread (one sigwaits)",
                      case_stop_signals_blocked_in_every_thread, a)
            cases.run("openapi.yaml is served byte for byte", case_openapi_served, a)
            cases.run("metrics are Prometheus text with stockd_http_requests_total", case_metrics, a)
            cases.run("views list has the four views with positions", case_views_list, a)
            cases.run("X-Request-Id echoed when valid, replaced when not", case_request_id, a)
            cases.run("create SKU: sync 201, sku_exists 409, bad bodies 400", case_create_sku_sync_and_exists, a)
            cases.run("async 202 with Location, outcome by polling", case_async_202_then_poll, a)
            cases.run("receipts: 200, unknown_sku 422, invalid bodies 400", case_receipts, a)
            cases.run("adjustments: delta and counted 200, below_reserved 409", case_adjustments, a)
            cases.run("transfers: 200, insufficient_stock 409, same_location 422", case_transfers, a)
            cases.run("reservations: 201, exists/insufficient 409, unknown_sku 422", case_reservations, a)
            cases.run("release and fulfil with and without sku", case_release_fulfil, a)
            cases.run("reservation id on two SKUs: 409 ambiguous with skus", case_ambiguous_reservation, a)
            cases.run("orders: confirmed, rejected holding nothing, release, fulfil, refusals", case_orders, a, b)
            cases.run("orders: GET with min_position of a 202, refusals, timeout", case_order_min_position, a)
            cases.run("orders: a confirmed order's ttl runs out: expired, nothing held, 409", case_order_expires, a)
            cases.run("Idempotency-Key: same body same outcome, other body 422", case_idempotency, a)
            cases.run("Idempotency-Key with two bodies at once: one 202, one 422", case_idempotency_concurrent_bodies, a)
            cases.run("POST /v1/commands with envelopes", case_command_envelope, a)
            cases.run("every command route: 202, 400, 413, 415 (nothing produced), on_hand_limit 409",
                      case_every_command_route, run, a)
            cases.run("Prefer: wait=99999 is cut to http.wait_ms_max", case_prefer_wait_cut_to_max, a)
            cases.run("GET SKU: shape, 404, 400", case_sku_get, a)
            cases.run("list SKUs: keyset pages of 2, below_reorder_point, bad limits", case_sku_list_paging, a)
            cases.run("GET SKU as_of a position or a time: the fold up to it, 404 before, 400", case_sku_as_of, a)
            cases.run("movements per day and the reorder listing: shape, window, 404, 400",
                      case_movements_and_reorder, a)
            cases.run("catalog: update, entry, search, duplicates answer 2xx", case_catalog_routes, a)
            cases.run("history: pages of 2 oldest and newest first", case_history_paging, a)
            cases.run("GET reservation: shape, 404, 400", case_reservation_get, a)
            cases.run("GET command: outcome, 404, 400", case_command_get, a)
            cases.run("sync answers from the handler's commit equal the outcomes view's", case_sync_answers_from_the_handler,
                      a, b)
            cases.run("min_position on the same instance; far ahead 503; garbage 400",
                      case_min_position_same_instance, a)
            cases.run("read-your-writes on a second instance", case_read_your_writes_second_instance, a, b)
            cases.run("Idempotency-Key reused on another instance: 422", case_idempotency_across_instances, a, b)
            cases.run("Idempotency-Key table keeps client keys, not generated ids", case_idempotency_table_keeps_client_keys,
                      a, b)
            cases.run("Idempotency-Key forgotten by the table: a reuse does not block the retry",
                      case_idempotency_forgotten_key_retry, a, b)
            cases.run("one SKU's commands on three API instances: decided in submission order",
                      case_sku_commands_decided_in_submission_order, a, b, d)
            cases.run("Idempotency-Key sent again while in flight: decided once, one outcome",
                      case_same_key_while_in_flight, a, b)
            cases.run("no router on the path: roles api,handler,projector decide HTTP commands",
                      case_router_not_on_the_path, run)
            cases.run("too many waits: 503 too-many-waits with Retry-After, nothing produced",
                      case_too_many_waits, run, b)
            cases.run("instance with role api only: 503 view-unavailable, Prefer ignored",
                      case_api_only_instance, run, a, d)
            cases.run("API keys: 401 missing/wrong/expired, 403 role too low, public routes open", case_auth, run, k)
            cases.run("SIGTERM ends waiting requests with their fallback answers", case_shutdown_ends_waits, run)
            hostile = [
                ("oversized body with Content-Length: 413", hostile_oversized_body_with_length),
                ("oversized chunked body without length: 413", hostile_oversized_chunked_body),
                ("1,000 headers: 431", hostile_thousand_headers),
                ("64 header fields: 431, 63 allowed", hostile_sixty_four_headers),
                ("a 20 KB header: 400", hostile_twenty_kb_header),
                ("slow client: cut off after http.request_timeout_ms", hostile_slow_client),
                ("slowloris in parallel with normal requests", hostile_slowloris_with_normal_requests),
                ("malformed JSON: 400 invalid-body", hostile_malformed_json),
                ("duplicate JSON keys: 400 invalid-body", hostile_duplicate_keys),
                ("NUL and invalid UTF-8 in JSON: 400 invalid-body", hostile_nul_in_json),
                ("malformed Content-Length: 4xx", hostile_bad_content_length),
                ("keep-alive connection survives refused requests", hostile_keep_alive_after_errors),
                ("JSON nested 50 deep: 400 invalid-body", hostile_nested_json),
                ("NUL in a SKU path segment: 400 invalid-path", hostile_nul_in_sku),
                ("percent-encoded traversal: 400 or 404, never 200", hostile_percent_encoded_traversal),
                ("a 4-byte UTF-8 name cut in a detail: the body stays UTF-8", hostile_multibyte_name_cut_in_detail),
                ("path over 512 bytes: 400 invalid-path", hostile_long_path),
                ("unknown route: 404", hostile_unknown_route),
                ("unknown method: 405 with Allow", hostile_unknown_method),
                ("malformed request of a known method: 400, not 405", hostile_malformed_known_method),
                ("unknown method after keep-alive: Allow of its own path", hostile_unknown_method_after_keep_alive),
                ("HEAD: 405 with Allow, no body", hostile_head),
                ("wrong content type: 415", hostile_wrong_content_type),
                ("Idempotency-Key with a space: 400", hostile_idempotency_key_with_space),
                ("limit=0/101/abc: 400", hostile_bad_limits),
                ("unknown query parameter: 400", hostile_unknown_query_parameter),
                ("repeated query parameter: 400", hostile_repeated_query_parameter),
                ("min_position garbage: 400", hostile_min_position_garbage),
                ("control character in a header value: 400", hostile_control_character_in_header),
                ("malformed request line: 4xx or closed", hostile_malformed_request_line),
            ]
            for name, function in hostile:
                cases.run("hostile: " + name, nothing_produced, run, a, lambda f=function: f(a))
            cases.run("rebuild: 202, 409 running, 404, 400, 413", case_rebuild, a)
            cases.run("nothing on <prefix>.commands or the DLQ after every case",
                      case_nothing_routed_nothing_dead_lettered, run)
    finally:
        for instance in list(run.instances):
            code = instance.stop()
            cases.run(f"stop: {instance.name} exits 0 on SIGTERM",
                      lambda i=instance, c=code: check(c == 0, f"{i.name} exited {c}:\n{i.log_tail()}"))
    for instance in run.instances:
        cases.run(f"sanitizers: no ASan/UBSan report from {instance.name}",
                  lambda i=instance: check(not re.search(r"runtime error|AddressSanitizer|LeakSanitizer", i.log_text()),
                                           f"{i.name}'s log {i.log_path} has a sanitizer report:\n{i.log_tail(60)}"))
    if k in run.instances:
        cases.run("API keys are never logged", case_auth_no_key_logged, k)
    cases.run("route coverage: observed statuses are in the table, every route had a 2xx", case_route_coverage)

    if SYNC_FALLBACKS:
        say(f"  {len(SYNC_FALLBACKS)} Prefer: wait answers ran out of time and were asked again: {SYNC_FALLBACKS[:5]}")
    failed = [result for result in cases.results if not result[1]]
    seconds = time.monotonic() - started
    say(f"\ntest_http.py: {len(cases.results) - len(failed)} of {len(cases.results)} cases passed in {seconds:.1f} s")
    for name, _, _, message in failed:
        say(f"  FAILED {name}: " + "\n    ".join(message.splitlines()[:6]))
    if failed or os.environ.get("STOCKD_KEEP") == "1":
        say(f"kept {run.root} (logs and data); topics {run.prefix}.*")
    else:
        shutil.rmtree(run.root, ignore_errors=True)
        if run.topics_delete:
            deleted = subprocess.run([run.topics_delete, run.bootstrap, run.prefix], capture_output=True, text=True,
                                     timeout=60)
            if deleted.returncode != 0:
                say(f"could not delete the topics of {run.prefix}: {deleted.stderr.strip()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
