#!/usr/bin/env python3
"""cluster.py - chaos scenarios on scripts/kafka's three-broker cluster, each followed by a check.

Scenarios (one per ctest test, label chaos; `cluster.py --help`):
  leader-kill     kill -9 the broker leading most command partitions under load, restart it; then stop
                  a second and a third broker so that min.insync.replicas=2 cannot be met: commands get
                  503 problem+json, /readyz says why; the brokers come back and stockd resumes.
  cut-instance    one of three instances reaches the brokers through tests/chaos/faultproxy.py; its
                  connections stall for longer than transaction.timeout.ms and come back: it is fenced or
                  recovers, the other two take over its partitions meanwhile.
  brokers-down-at-start
                  an instance starts while its brokers are unreachable (connections reset): it waits and
                  starts once they come back; with no broker at all it exits non-zero with a message.

Load: client threads post commands (async 202 and sync `Prefer: wait`) to all instances, hot SKUs among
them, and log every command with the answer. Per fault round it prints the time from the fault until
the acknowledged throughput is back to half the rate before the fault. The check afterwards reads
<prefix>.events from offset 0 (stockctl tail --json, read_committed) and asserts: every acknowledged
command is decided exactly once; no command nobody sent; per-SKU sequences 1, 2, 3... without gaps or
repeats; a sync outcome equals its event; every instance's stock view equals the fold of the topic. Then
the independent checker (tests/chaos/check) reads the same run back from the command log this load writes in
its format. Run with the Python of scripts/pytools' venv (tests/chaos/run cluster.py SCENARIO), which has
the checker's Kafka client.

Environment: STOCKD_BINARY, STOCKCTL_BINARY, STOCKD_PARTITION_LEADERS, STOCKD_TOPICS_DELETE (tools), STOCKD_CHAOS_S (seconds
of load per phase, default 8), STOCKD_CHAOS_KAFKA_PORT (the cluster's base port, default 19600),
STOCKD_CHAOS_VAR (its data, default a directory under the build tree). The cluster is started when it
does not answer and left running for the next scenario; `cluster.py stop-cluster` stops it.
"""

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultproxy import FaultProxy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KAFKA_SCRIPT = os.path.join(REPO, "scripts", "kafka")
BROKERS = 3
PARTITIONS = 6
PHASE_S = float(os.environ.get("STOCKD_CHAOS_S", "8"))
BASE_PORT = int(os.environ.get("STOCKD_CHAOS_KAFKA_PORT", "19600"))
VAR = os.environ.get("STOCKD_CHAOS_VAR", os.path.join(tempfile.gettempdir(), f"stockd-chaos-cluster-{BASE_PORT}"))

# Bounds of every wait, generous for two loaded cores (each names what it waits for).
READY_TIMEOUT_S = 120  # an instance's /readyz after start: topics, group join, shard restore
RECOVERY_TIMEOUT_S = 90  # throughput back after a fault
DRAIN_TIMEOUT_S = 120  # events of every acknowledged command visible after the load stops
HTTP_TIMEOUT_S = 40  # one request: the API's produce times out at 15 s, a sync wait at most 5 s more
STOP_TIMEOUT_S = 30  # SIGTERM to exit
REFUSAL_TIMEOUT_S = 90  # from losing min ISR to the first 503 and /readyz naming it
TRANSACTION_TIMEOUT_S = 5  # stockd's transaction.timeout.ms (src/kafka/eos.c)
SESSION_TIMEOUT_S = 6  # stockd's session.timeout.ms (src/kafka/eos.c)
# How long the cut instance stays cut beyond the load phase: well past both timeouts above, so that the
# broker aborts its open transaction and the group moves its partitions while it is away (20 s, as when the
# two timeouts were 10 s each).
CUT_BEYOND_PHASE_S = 20

SKUS = 24
HOT_SKUS = 2  # most traffic goes to these: one partition's handler is busiest
CLIENT_THREADS = 6
HEALTH_INTERVAL_S = 1.0  # the load's "load balancer" probes /readyz this often
HEALTH_TIMEOUT_S = 3
SYNC_SHARE = 0.2  # commands sent with Prefer: wait=5
RECOVERED_SHARE = 0.5  # throughput "back": this share of the rate before the fault, over one window
WINDOW_S = 1.0


def say(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def env_path(name, default):
    value = os.environ.get(name)
    if value:
        return value
    return default


STOCKD = env_path("STOCKD_BINARY", os.path.join(REPO, "build", "asan", "stockd"))
STOCKCTL = env_path("STOCKCTL_BINARY", os.path.join(os.path.dirname(STOCKD), "stockctl"))
TOPICS_DELETE = env_path("STOCKD_TOPICS_DELETE", os.path.join(os.path.dirname(STOCKD), "bench_topics_delete"))
LEADERS = env_path("STOCKD_PARTITION_LEADERS",
                   os.path.join(os.path.dirname(STOCKD), "tests", "tools", "partition_leaders"))


# ---- the cluster -------------------------------------------------------------------------------------------


def kafka(*arguments, check=True):
    environment = dict(os.environ, STOCKD_KAFKA_NODES=str(BROKERS), STOCKD_KAFKA_PORT=str(BASE_PORT),
                       STOCKD_VAR=VAR, STOCKD_KAFKA_QUORUM="split")
    done = subprocess.run([KAFKA_SCRIPT, *arguments], env=environment, capture_output=True, text=True,
                          timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"scripts/kafka {' '.join(arguments)}: exit {done.returncode}\n"
                             f"{done.stdout}{done.stderr}")
    return done


def bootstrap(kind="direct"):
    return kafka("bootstrap", kind).stdout.strip()


def broker_port(node):
    return BASE_PORT + 10 * node


def cluster_up():
    if kafka("status", check=False).returncode != 0:
        say(f"starting the {BROKERS}-broker cluster (base port {BASE_PORT}, var {VAR})")
        kafka("start")


def leaders(topic):
    """{partition: (leader, [isr])} of topic, asked of the brokers that answer."""
    done = subprocess.run([LEADERS, bootstrap(), topic], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"partition_leaders: {done.stderr.strip()}")
    result = {}
    for line in done.stdout.splitlines():
        partition, leader, _replicas, isr = line.split()
        result[int(partition)] = (int(leader), [int(b) for b in isr.split(",")] if isr != "-" else [])
    return result


# ---- stockd instances --------------------------------------------------------------------------------------


class Instance:
    def __init__(self, name, prefix, workdir, kafka_bootstrap, port):
        self.name = name
        self.prefix = prefix
        self.data_dir = os.path.join(workdir, name)
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.bootstrap = kafka_bootstrap
        self.port = port
        self.process = None

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        arguments = [STOCKD, f"--instance.id={self.prefix}-{self.name}", f"--data_dir={self.data_dir}",
                     f"--http.listen=127.0.0.1:{self.port}", f"--kafka.bootstrap={self.bootstrap}",
                     f"--kafka.topic_prefix={self.prefix}", f"--kafka.partitions={PARTITIONS}",
                     "--kafka.replication_factor=3", "--kafka.min_insync_replicas=2", "--handler.threads=1",
                     "--router.threads=1", "--http.threads=16"]
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT,
                                        env=dict(os.environ, ASAN_OPTIONS=os.environ.get(
                                            "ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")))
        log.close()
        say(f"started {self.name} (pid {self.process.pid}) on 127.0.0.1:{self.port} via {self.bootstrap}")

    def request(self, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT_S):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            all_headers = {"Content-Type": "application/json"} if payload else {}
            all_headers.update(headers or {})
            connection.request(method, path, body=payload, headers=all_headers)
            answer = connection.getresponse()
            data = answer.read()
            try:
                decoded = json.loads(data) if data else None
            except ValueError:
                decoded = None
            return answer.status, decoded, answer.getheader("Content-Type", "")
        finally:
            connection.close()

    def readyz(self):
        try:
            return self.request("GET", "/readyz", timeout=10)
        except OSError:
            return None, None, ""

    def wait_ready(self, timeout_s=READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            status, body, _ = self.readyz()
            last = body
            if status == 200:
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name} not ready within {timeout_s} s (last /readyz {last})\n{self.log_tail()}")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)
            raise AssertionError(f"{self.name} did not exit within {STOP_TIMEOUT_S} s of SIGTERM")

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def sanitizer_reports(self):
        with open(self.log_path, errors="replace") as log:
            return [line for line in log if "ERROR: AddressSanitizer" in line or "runtime error:" in line]


# ---- load --------------------------------------------------------------------------------------------------


class Load:
    """Client threads posting commands to every instance; every command and its answer is kept."""

    def __init__(self, instances, prefix):
        self.instances = instances
        self.prefix = prefix
        self.skus = [f"{prefix}-S{i:03d}" for i in range(SKUS)]
        self.lock = threading.Lock()
        self.log = []  # dicts: command, instance, status, answer, sent_s, done_s
        self.stop_flag = threading.Event()
        self.threads = []
        self.sequence = 0
        self.ready = {i.name for i in instances}

    def next_id(self, kind):
        with self.lock:
            self.sequence += 1
            return f"{self.prefix}-{kind}-{self.sequence}"

    def send(self, instance, command, sync):
        headers = {"Prefer": "wait=5"} if sync else {}
        sent_s = time.monotonic()
        wall_ms = time.time() * 1000
        try:
            status, answer, content_type = instance.request("POST", "/v1/commands", command, headers)
        except OSError as error:
            status, answer, content_type = None, {"error": str(error)}, ""
        entry = {"command": command, "instance": instance.name, "status": status, "answer": answer,
                 "content_type": content_type, "sync": sync, "sent_s": sent_s, "done_s": time.monotonic(),
                 "wall_ms": wall_ms}
        with self.lock:
            self.log.append(entry)
        return entry

    def create_skus(self):
        for sku in self.skus:
            entry = self.send(self.instances[0], {"command_id": self.next_id("create"), "type": "CreateSku",
                                                  "sku": sku, "data": {"name": f"chaos {sku}"}}, True)
            if entry["status"] not in (200, 201):
                raise AssertionError(f"CreateSku {sku}: {entry['status']} {entry['answer']}")

    def command(self, rng):
        sku = rng.choice(self.skus[:HOT_SKUS]) if rng.random() < 0.5 else rng.choice(self.skus)
        if rng.random() < 0.6:
            return {"command_id": self.next_id("rcv"), "type": "ReceiveStock", "sku": sku,
                    "data": {"location": f"L{rng.randrange(3)}", "quantity": rng.randrange(1, 6)}}
        return {"command_id": self.next_id("rsv"), "type": "ReserveStock", "sku": sku,
                "data": {"reservation_id": self.next_id("r"), "location": f"L{rng.randrange(3)}",
                         "quantity": rng.randrange(1, 4)}}

    def live(self):
        return [i for i in self.instances if i.process is not None and i.process.poll() is None]

    def run_health(self):
        """What a load balancer does: probes /readyz every HEALTH_INTERVAL_S; clients use the ready
        instances, or every live one when none is ready (then they see what stockd answers)."""
        while not self.stop_flag.is_set():
            ready = set()
            for instance in self.live():
                try:
                    status, _, _ = instance.request("GET", "/readyz", timeout=HEALTH_TIMEOUT_S)
                except OSError:
                    status = None
                if status == 200:
                    ready.add(instance.name)
            with self.lock:
                self.ready = ready
            self.stop_flag.wait(HEALTH_INTERVAL_S)

    def run_client(self, number):
        rng = random.Random(number)
        while not self.stop_flag.is_set():
            live = self.live()
            with self.lock:
                chosen = [i for i in live if i.name in self.ready] or live
            if not chosen:
                time.sleep(0.1)
                continue
            instance = chosen[rng.randrange(len(chosen))]
            self.send(instance, self.command(rng), rng.random() < SYNC_SHARE)

    def start(self):
        thread = threading.Thread(target=self.run_health, daemon=True)
        thread.start()
        self.threads.append(thread)
        for number in range(CLIENT_THREADS):
            thread = threading.Thread(target=self.run_client, args=(number,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stop_flag.set()
        for thread in self.threads:
            thread.join(HTTP_TIMEOUT_S + 5)

    def write_log(self, path):
        """The command log in the format of the independent checker (tests/chaos/check, "Command log line")."""
        with self.lock, open(path, "w") as log:
            for entry in self.log:
                command, answer, status = entry["command"], entry["answer"] or {}, entry["status"]
                outcome = None
                if not acknowledged(entry):
                    verdict = "refused" if status is not None and 400 <= status < 500 else "unknown"
                elif status in (200, 201):
                    events = answer.get("events") or [{}]
                    verdict = "acked"
                    outcome = {"status": answer.get("status"), "reason": answer.get("reason"),
                               "position": events[0].get("position"), "sequence": events[0].get("sequence"),
                               "event_type": events[0].get("type")}
                elif status == 409:
                    verdict = "acked"
                    outcome = {"status": "rejected", "reason": answer.get("reason"),
                               "position": answer.get("position"), "sequence": None}
                else:
                    verdict = "acked"
                line = {"id": command["command_id"], "sku": command["sku"], "type": command["type"],
                        "via": "http-sync" if entry["sync"] else "http-async", "answer": verdict,
                        "t_ms": int(entry["wall_ms"]), "status": status, "attempts": 1, "outcome": outcome}
                log.write(json.dumps(line) + "\n")

    def acked_between(self, begin_s, end_s):
        with self.lock:
            return sum(1 for e in self.log if acknowledged(e) and begin_s <= e["done_s"] < end_s)

    def rate(self, begin_s, end_s):
        return self.acked_between(begin_s, end_s) / max(end_s - begin_s, 1e-3)

    def wait_recovered(self, fault_s, baseline_rate, label):
        """Seconds from the fault until one window's acknowledged rate reaches RECOVERED_SHARE of baseline."""
        target = baseline_rate * RECOVERED_SHARE
        deadline = fault_s + RECOVERY_TIMEOUT_S
        window_start = fault_s
        while time.monotonic() < deadline:
            time.sleep(WINDOW_S / 4)
            now = time.monotonic()
            while window_start + WINDOW_S <= now:
                if self.rate(window_start, window_start + WINDOW_S) >= target:
                    recovered = window_start + WINDOW_S - fault_s
                    say(f"ROUND {label}: throughput back ({target:.1f}/s of {baseline_rate:.1f}/s before) "
                        f"{recovered:.1f} s after the fault")
                    return recovered
                window_start += WINDOW_S / 4
        raise AssertionError(f"{label}: throughput not back to {target:.1f}/s within {RECOVERY_TIMEOUT_S} s")


# ---- the check ---------------------------------------------------------------------------------------------


def read_events(prefix, expected_ids):
    """Events of <prefix>.events from offset 0 (read_committed), until every expected command id is seen
    and nothing new came for a while, or DRAIN_TIMEOUT_S."""
    process = subprocess.Popen([STOCKCTL, "tail", "events", "--from-beginning", "--json",
                                f"--kafka.bootstrap={bootstrap()}", f"--kafka.topic_prefix={prefix}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    seen = set()
    lock = threading.Lock()

    def reader():
        for line in process.stdout:
            event = json.loads(line)
            with lock:
                events.append(event)
                seen.add(event["command_id"])

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    quiet_since, last_count = time.monotonic(), -1
    while time.monotonic() < deadline:
        time.sleep(0.5)
        with lock:
            count, complete = len(events), expected_ids <= seen
        if count != last_count:
            quiet_since, last_count = time.monotonic(), count
        if complete and time.monotonic() - quiet_since > 3:
            break
    process.terminate()
    process.wait(STOP_TIMEOUT_S)
    thread.join(STOP_TIMEOUT_S)
    return events


def acknowledged(entry):
    """202 accepted, a sync outcome (200/201 accepted, 409 command-rejected: decided, rejected)."""
    if entry["status"] in (200, 201, 202):
        return True
    answer = entry["answer"] or {}
    return entry["status"] == 409 and str(answer.get("type", "")).endswith(":command-rejected")


def check(load, instances):
    """Returns a list of violations, the first of each kind with its command id, SKU and position."""
    acked = {e["command"]["command_id"]: e for e in load.log if acknowledged(e)}
    sent = {e["command"]["command_id"]: e for e in load.log}
    events = read_events(load.prefix, set(acked))
    by_command = {}
    for event in events:
        by_command.setdefault(event["command_id"], []).append(event)
    violations = []
    for command_id, entry in acked.items():
        found = by_command.get(command_id, [])
        if len(found) != 1:
            violations.append(f"acknowledged command {command_id} (SKU {entry['command']['sku']}, "
                              f"{entry['status']} from {entry['instance']}) decided {len(found)} times")
            break
    for command_id, found in by_command.items():
        if command_id not in sent:
            violations.append(f"event for command {command_id} nobody sent: {found[0]}")
            break
        if len(found) > 1:
            violations.append(f"command {command_id} decided {len(found)} times: sequences "
                              f"{[e['sequence'] for e in found]}")
            break
    sequences = {}
    for event in events:
        sequences.setdefault(event["sku"], []).append(event["sequence"])
    for sku, found in sequences.items():
        if sorted(found) != list(range(1, len(found) + 1)):
            violations.append(f"SKU {sku}: sequences are not 1..{len(found)}: first differences in "
                              f"{sorted(found)[:20]}")
            break
    for command_id, entry in acked.items():
        answer = entry["answer"] or {}
        if entry["status"] in (200, 201, 409) and by_command.get(command_id):
            event = by_command[command_id][0]
            decided = "rejected" if event["type"] == "CommandRejected" else "accepted"
            if entry["status"] == 409:  # a problem+json: rejected, with the event's position
                told_status, told = "rejected", [(event["type"], event["sequence"])]
            else:
                told_status = answer.get("status")
                told = [(e.get("type"), e.get("sequence")) for e in answer.get("events", [])]
            if told_status != decided or told != [(event["type"], event["sequence"])]:
                violations.append(f"sync outcome of {command_id} (SKU {event['sku']}) was "
                                  f"{told_status} {told}, the event is {event['type']} "
                                  f"#{event['sequence']}")
                break
    statuses = {}
    landed = {}
    for command_id, entry in sent.items():
        statuses[entry["status"]] = statuses.get(entry["status"], 0) + 1
        if command_id not in acked and command_id in by_command:
            landed[entry["status"]] = landed.get(entry["status"], 0) + 1
    say(f"check: {len(sent)} sent (answers {statuses}), {len(acked)} acknowledged, {len(events)} events; "
        f"unacknowledged commands decided anyway, by answer: {landed}")
    refused = [c for c, e in sent.items() if c in by_command and e["status"] is not None and
               400 <= e["status"] < 500 and not acknowledged(e)]
    if refused:
        entry = sent[refused[0]]
        violations.append(f"command {refused[0]} (SKU {entry['command']['sku']}) was refused with "
                          f"{entry['status']} {entry['answer']} but decided on events")
    violations += check_views(instances, events)
    return violations


def fold_stock(events, violations):
    """{sku: (on_hand, reserved, last sequence)} folded in sequence order, checking 0 <= reserved <=
    on_hand after every event (the load only receives and reserves)."""
    stock = {}
    for event in sorted(events, key=lambda e: (e["sku"], e["sequence"])):
        on_hand, reserved, _ = stock.get(event["sku"], (0, 0, 0))
        if event["type"] == "StockReceived":
            on_hand += event["data"]["quantity"]
        elif event["type"] == "StockReserved":
            reserved += event["data"]["quantity"]
        if not 0 <= reserved <= on_hand and not violations:
            violations.append(f"SKU {event['sku']} oversold at sequence {event['sequence']} (command "
                              f"{event['command_id']}): reserved {reserved}, on hand {on_hand}")
        changed = event["sequence"] if event["type"] != "CommandRejected" else stock.get(event["sku"], (0, 0, 0))[2]
        stock[event["sku"]] = (on_hand, reserved, changed)  # a rejection changes no stock, nor its sequence
    return stock


def check_views(instances, events):
    """Each live instance's stock view against the fold of the topic: equal within DRAIN_TIMEOUT_S."""
    violations = []
    expected = fold_stock(events, violations)
    for instance in instances:
        if instance.process is None or instance.process.poll() is not None:
            continue
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        for sku, (on_hand, reserved, sequence) in sorted(expected.items()):
            while True:
                status, body, _ = instance.request("GET", f"/v1/skus/{urllib.parse.quote(sku)}")
                seen = (body or {}).get("on_hand"), (body or {}).get("reserved"), (body or {}).get("sequence")
                if status == 200 and seen == (on_hand, reserved, sequence):
                    break
                if time.monotonic() > deadline:
                    violations.append(f"{instance.name}: stock view of SKU {sku} is (on_hand, reserved, sequence) "
                                      f"{seen} (HTTP {status}), the fold of events says {(on_hand, reserved, sequence)}")
                    break
                time.sleep(0.5)
            if violations:
                return violations
    say(f"check: the stock views of {sum(1 for i in instances if i.process and i.process.poll() is None)} "
        f"instances equal the fold of {len(expected)} SKUs")
    return violations


# ---- scenarios ---------------------------------------------------------------------------------------------


class Scenario:
    def __init__(self, name):
        self.name = name
        self.prefix = f"chaos-{name}-{os.getpid()}"
        self.workdir = tempfile.mkdtemp(prefix=f"stockd-chaos-{name}-")
        self.instances = []
        self.proxy = None
        self.load = None
        self.began = time.monotonic()

    def instance(self, name, kafka_bootstrap, port):
        found = Instance(name, self.prefix, self.workdir, kafka_bootstrap, port)
        self.instances.append(found)
        return found

    def start_three(self, proxied_last=False):
        ports = [free_port() for _ in range(3)]
        names = ["a", "b", "c"]
        for index, name in enumerate(names):
            kind = "proxied" if proxied_last and index == 2 else "direct"
            instance = self.instance(name, bootstrap(kind), ports[index])
            instance.start()
            if index == 0:
                instance.wait_ready()  # the first one creates the topics
        for instance in self.instances:
            instance.wait_ready()
        self.load = Load(self.instances, self.prefix)
        self.load.create_skus()
        self.load.start()

    def baseline(self, seconds=PHASE_S):
        began = time.monotonic()
        time.sleep(seconds)
        rate = self.load.rate(began, time.monotonic())
        say(f"baseline: {rate:.1f} acknowledged commands/s over {seconds:.0f} s")
        if rate <= 0:
            raise AssertionError("no command acknowledged before the fault: nothing to measure")
        return rate

    def in_flight(self):
        with self.load.lock:
            finished = len(self.load.log)
        return f"{finished} commands answered so far, {CLIENT_THREADS} clients in flight"

    def finish(self):
        failures = []
        if self.load is not None:
            self.load.stop()
            violations = check(self.load, self.instances)
            failures += violations
            failures += self.independent_check()
        for instance in self.instances:
            try:
                instance.stop()
            except AssertionError as error:
                failures.append(str(error))
            reports = instance.sanitizer_reports() if os.path.exists(instance.log_path) else []
            if reports:
                failures.append(f"{instance.name}: sanitizer report: {reports[0].strip()}")
        if self.proxy is not None:
            self.proxy.stop()
        return failures

    def independent_check(self):
        """tests/chaos/check (wt-chaos's checker, sharing no code with this file or stockd) on the same run."""
        checker = os.path.join(HERE, "check")
        log_path = os.path.join(self.workdir, "load.log")
        self.load.write_log(log_path)
        command = [sys.executable, checker, "--bootstrap", bootstrap(), "--prefix", self.prefix, "--log", log_path,
                   "--timeout-s", str(DRAIN_TIMEOUT_S)]
        for instance in self.instances:
            if instance.process is not None and instance.process.poll() is None:
                command += ["--http", f"http://127.0.0.1:{instance.port}", "--data-dir", instance.data_dir]
        say(f"checker: {' '.join(command)}")
        try:
            verdict = subprocess.run(command, timeout=DRAIN_TIMEOUT_S * 4)
        except subprocess.TimeoutExpired:
            return [f"the checker did not finish within {DRAIN_TIMEOUT_S * 4} s"]
        return [] if verdict.returncode == 0 else [f"the checker found a violation (exit {verdict.returncode})"]

    def cleanup(self):
        for instance in self.instances:
            if instance.process is not None and instance.process.poll() is None:
                instance.process.kill()
                instance.process.wait(STOP_TIMEOUT_S)
        if self.proxy is not None:
            self.proxy.stop()


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def node_running(node):
    return kafka("node", str(node), "status", check=False).returncode == 0


def wait_refusing(scenario, min_isr_lost_s):
    """Waits for a command answered 503 problem+json, one refused at once because its partition had too few
    in-sync replicas (the API's replica watcher: nothing produced, detail naming min.insync.replicas), and
    /readyz naming min.insync.replicas."""
    deadline = time.monotonic() + REFUSAL_TIMEOUT_S
    refused = refused_isr = reasons = None
    probe = scenario.instances[0]
    while time.monotonic() < deadline and not (refused and refused_isr and reasons):
        with scenario.load.lock:
            for entry in scenario.load.log:
                if entry["done_s"] >= min_isr_lost_s and entry["status"] == 503:
                    refused = refused or entry
                    if "min.insync.replicas" in str((entry.get("answer") or {}).get("detail", "")):
                        refused_isr = entry
                        break
        status, body, _ = probe.readyz()
        if status == 503 and body and any("min.insync.replicas" in r for r in body.get("reasons", [])):
            reasons = body["reasons"]
        time.sleep(0.5)
    if not refused:
        raise AssertionError(f"no command was answered 503 within {REFUSAL_TIMEOUT_S} s of losing min ISR")
    if "application/problem+json" not in refused["content_type"]:
        raise AssertionError(f"503 without problem+json: {refused}")
    if not refused_isr:
        raise AssertionError(f"no 503 named min.insync.replicas within {REFUSAL_TIMEOUT_S} s: the first was "
                             f"{(refused['answer'] or {}).get('detail')!r}")
    if not reasons:
        raise AssertionError(f"/readyz did not name min.insync.replicas within {REFUSAL_TIMEOUT_S} s")
    say(f"refusing: first 503 {refused['done_s'] - min_isr_lost_s:.1f} s in: "
        f"{(refused['answer'] or {}).get('type')} {(refused['answer'] or {}).get('detail')!r}; first refused for "
        f"the replicas {refused_isr['done_s'] - min_isr_lost_s:.1f} s in: {refused_isr['answer'].get('detail')!r}; "
        f"/readyz: {reasons}")


def scenario_leader_kill(scenario):
    scenario.start_three()
    topic = f"{scenario.prefix}.commands.by-sku"
    rate = scenario.baseline()
    # Round 1: kill -9 the broker that leads most command partitions, then restart it.
    counts = {}
    for leader, _ in leaders(topic).values():
        counts[leader] = counts.get(leader, 0) + 1
    victim = max(counts, key=counts.get)
    say(f"round 1: kill -9 broker {victim} (leads {counts[victim]} of {PARTITIONS} partitions); "
        f"{scenario.in_flight()}")
    fault_s = time.monotonic()
    kafka("node", str(victim), "kill")
    scenario.load.wait_recovered(fault_s, rate, "leader kill -9")
    time.sleep(PHASE_S)
    say(f"round 1: restarting broker {victim}")
    kafka("node", str(victim), "start")
    restart_s = time.monotonic()
    scenario.load.wait_recovered(restart_s, rate, "leader restarted")
    time.sleep(PHASE_S)
    # Round 2: stop two brokers, one after the other: with one left, min.insync.replicas=2 cannot be met.
    others = [n for n in range(1, BROKERS + 1) if n != victim]
    say(f"round 2: stop broker {others[0]} (two left, min ISR still met)")
    kafka("node", str(others[0]), "stop")
    time.sleep(PHASE_S)
    say(f"round 2: stop broker {others[1]} (one left: min.insync.replicas=2 cannot be met); {scenario.in_flight()}")
    kafka("node", str(others[1]), "stop")
    lost_s = time.monotonic()
    wait_refusing(scenario, lost_s)
    time.sleep(PHASE_S)
    say(f"round 2: start brokers {others[1]} and {others[0]} again")
    back_s = time.monotonic()
    kafka("node", str(others[1]), "start")
    kafka("node", str(others[0]), "start")
    scenario.load.wait_recovered(back_s, rate, "min ISR restored")
    for instance in scenario.instances:
        instance.wait_ready()
    time.sleep(PHASE_S)


def assigned_partitions(instance):
    """The handler partitions the instance's log last said it was assigned."""
    owned = set()
    with open(instance.log_path, errors="replace") as log:
        for line in log:
            if "handler: assigned partitions [" in line:
                inside = line.split("[", 1)[1].split("]", 1)[0]
                owned = {int(p) for p in inside.split(",") if p.strip()}
    if not owned:
        raise AssertionError(f"{instance.name} owns no handler partition: nothing to take over")
    return owned


def first_decision(load, partitions, begin_s, end_s):
    """Time of the first sync outcome answered in [begin_s, end_s) whose event is on one of partitions."""
    with load.lock:
        entries = sorted(load.log, key=lambda e: e["done_s"])
    for entry in entries:
        if not begin_s <= entry["done_s"] < end_s or entry["status"] not in (200, 201, 409):
            continue
        answer = entry["answer"] or {}
        positions = [answer.get("position")] + [e.get("position") for e in answer.get("events", [])]
        if any(p and int(p.split(":")[0]) in partitions for p in positions):
            return entry["done_s"]
    return None


def scenario_cut_instance(scenario):
    routes = {f"b{n}": (broker_port(n) + 3, broker_port(n) + 2) for n in range(1, BROKERS + 1)}
    scenario.proxy = FaultProxy(routes).start()
    scenario.start_three(proxied_last=True)
    rate = scenario.baseline()
    c = scenario.instances[2]
    owned = assigned_partitions(c)
    cut_s = CUT_BEYOND_PHASE_S + PHASE_S
    assert CUT_BEYOND_PHASE_S > TRANSACTION_TIMEOUT_S + SESSION_TIMEOUT_S
    say(f"cut: instance c's connections stall for {cut_s:.0f} s (> transaction.timeout.ms "
        f"{TRANSACTION_TIMEOUT_S} s); {scenario.in_flight()}")
    fault_s = time.monotonic()
    scenario.proxy.set_mode("all", "stall")
    # a and b take c's partitions after the session timeout; clients of c get 503s meanwhile.
    scenario.load.wait_recovered(fault_s, rate * 2 / 3, "others take over from the cut instance")
    time.sleep(max(0.0, fault_s + cut_s - time.monotonic()))
    restored_s = time.monotonic()
    taken = first_decision(scenario.load, owned, fault_s, restored_s)
    if taken is None:
        raise AssertionError(f"no sync outcome on c's partitions {sorted(owned)} during the {cut_s:.0f} s cut: "
                             "the others did not take them over")
    say(f"ROUND cut instance's partitions {sorted(owned)}: decided by the others again {taken - fault_s:.1f} s "
        "after the cut")
    say("cut: restored")
    scenario.proxy.set_mode("all", "up")
    scenario.load.wait_recovered(restored_s, rate, "cut instance restored")
    c.wait_ready()
    say(f"cut: c ready again {time.monotonic() - restored_s:.1f} s after the restore "
        f"(fenced: {'yes' if 'fenced' in c.log_tail(400).lower() else 'no'})")
    time.sleep(PHASE_S)


def scenario_brokers_down_at_start(scenario):
    routes = {f"b{n}": (broker_port(n) + 3, broker_port(n) + 2) for n in range(1, BROKERS + 1)}
    scenario.proxy = FaultProxy(routes).start()
    scenario.proxy.set_mode("all", "down")
    instance = scenario.instance("a", bootstrap("proxied"), free_port())
    instance.start()
    down_s = max(PHASE_S, 5.0)
    time.sleep(down_s)
    if instance.process.poll() is not None:
        raise AssertionError(f"a exited while its brokers were down for {down_s:.0f} s:\n{instance.log_tail()}")
    status, _, _ = instance.readyz()
    if status == 200:
        raise AssertionError("a says ready while no broker is reachable")
    say(f"brokers back after {down_s:.0f} s")
    back_s = time.monotonic()
    scenario.proxy.set_mode("all", "up")
    instance.wait_ready()
    say(f"ROUND brokers-down-at-start: ready {time.monotonic() - back_s:.1f} s after the brokers came back")
    scenario.load = Load(scenario.instances, scenario.prefix)
    scenario.load.create_skus()
    scenario.load.start()
    time.sleep(PHASE_S)
    # No broker at all, for good: stockd must give up with a message, not hang.
    never = scenario.instance("never", "127.0.0.1:1", free_port())
    never.start()
    try:
        code = never.process.wait(READY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"stockd with no broker did not exit within {READY_TIMEOUT_S} s")
    tail = never.log_tail(5)
    if code == 0 or "broker" not in tail:
        raise AssertionError(f"stockd with no broker exited {code} without saying why:\n{tail}")
    say(f"no broker at all: exited {code}: {tail.strip().splitlines()[-1]}")


SCENARIOS = {"leader-kill": scenario_leader_kill, "cut-instance": scenario_cut_instance,
             "brokers-down-at-start": scenario_brokers_down_at_start}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=[*SCENARIOS, "start-cluster", "stop-cluster"])
    arguments = parser.parse_args()
    if arguments.scenario == "start-cluster":
        cluster_up()
        return 0
    if arguments.scenario == "stop-cluster":
        kafka("stop")
        return 0
    cluster_up()
    scenario = Scenario(arguments.scenario)
    say(f"scenario {arguments.scenario}: prefix {scenario.prefix}, files in {scenario.workdir}, "
        f"cluster {bootstrap()}")
    failures = []
    try:
        SCENARIOS[arguments.scenario](scenario)
    except AssertionError as error:
        failures.append(str(error))
    finally:
        if scenario.proxy is not None:
            scenario.proxy.set_mode("all", "up")  # the check needs every instance connected
        # Every broker back, whatever happened, for the next scenario.
        for node in range(1, BROKERS + 1):
            if not node_running(node):
                kafka("node", str(node), "start", check=False)
    try:
        failures += scenario.finish()
    finally:
        scenario.cleanup()
    if not failures:  # a failed scenario keeps its topics for a look; a passed one leaves the cluster clean
        subprocess.run([TOPICS_DELETE, bootstrap(), scenario.prefix], capture_output=True, timeout=60)
    elapsed = time.monotonic() - scenario.began
    if failures:
        for failure in failures:
            say(f"FAIL: {failure}")
        say(f"scenario {arguments.scenario}: FAILED in {elapsed:.0f} s (files kept in {scenario.workdir})")
        return 1
    say(f"scenario {arguments.scenario}: passed in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
