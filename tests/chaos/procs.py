"""procs.py - what the chaos scenarios share: stockd processes, free ports, readiness, recovery probes.

StockdProcess runs one stockd (every role by default) with its own data dir, log and HTTP port, and can be
killed (SIGKILL), stopped (SIGTERM) and restarted with the same identity. Probes measure "throughput back":
one probe SKU per partition, a synchronous command to each until every partition answers again. The probe
commands go to their own command log, which the checker reads beside the load generator's.

Python 3 standard library only; the scenarios run it with the venv of scripts/pytools (confluent-kafka for
the load generator and the checker).
"""

import http.client
import importlib.machinery
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

READY_TIMEOUT_S = 180  # a (re)start: topics, init_transactions, shard restore, views catching up (ASan)
STOP_TIMEOUT_S = 60  # SIGTERM to exit
PROBE_WAIT_S = 1  # Prefer: wait of one probe command
PROBE_HTTP_TIMEOUT_S = 5
RECOVERY_TIMEOUT_S = 120  # a fault after which not every partition answers within this is a failure


def say(message):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def load_module(name, filename):
    """Imports an extension-less script of this directory (load, check) as a module."""
    loader = importlib.machinery.SourceFileLoader(name, os.path.join(HERE, filename))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_request(port, method, path, body=None, headers=None, timeout=PROBE_HTTP_TIMEOUT_S):
    """One request on a fresh connection. Returns (status, decoded JSON or None); raises OSError."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, None
    finally:
        connection.close()


class StockdProcess:
    def __init__(self, binary, root, name, bootstrap, prefix, partitions, extra_args=()):
        self.binary = binary
        self.name = name
        self.port = free_port()
        self.data_dir = os.path.join(root, name)
        self.log_path = os.path.join(root, name + ".log")
        self.args = [binary, "--instance.id=" + name, "--data_dir=" + self.data_dir,
                     "--kafka.bootstrap=" + bootstrap, "--kafka.topic_prefix=" + prefix,
                     "--kafka.partitions=%d" % partitions, "--http.listen=127.0.0.1:%d" % self.port,
                     "--handler.threads=1", "--router.threads=1"] + list(extra_args)
        self.process = None
        self.starts = 0
        os.makedirs(self.data_dir, exist_ok=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        assert self.process is None or self.process.poll() is not None
        self.starts += 1
        log = open(self.log_path, "a")
        log.write("==== start %d ====\n" % self.starts)
        log.flush()
        self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def running(self):
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout_s=READY_TIMEOUT_S):
        """Waits until /readyz answers 200. Returns seconds taken; raises RuntimeError on exit or timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if not self.running():
                raise RuntimeError("%s exited with %s while starting (log %s)" %
                                   (self.name, self.process.returncode, self.log_path))
            try:
                status, _ = http_request(self.port, "GET", "/readyz", timeout=2)
                if status == 200:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("%s not ready within %d s (log %s)" % (self.name, timeout_s, self.log_path))

    def kill(self):
        """SIGKILL, then reap."""
        if self.running():
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def terminate(self, timeout_s=STOP_TIMEOUT_S):
        """SIGTERM and wait. Returns the exit status; raises RuntimeError when it did not stop in time (it is
        then killed)."""
        if not self.running():
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout_s)

    def signal_term(self):
        """Sends SIGTERM without waiting (wait_exit then reaps)."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout_s=STOP_TIMEOUT_S):
        """Waits for the exit. Returns the status; raises RuntimeError after timeout_s (the process is then
        killed)."""
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("%s did not stop within %d s of SIGTERM" % (self.name, timeout_s))

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""


class Probes:
    """One probe SKU per partition, found by creating SKUs until every partition has one (an outcome names
    its partition). probe() then sends a synchronous ReceiveStock to each partition's SKU until every one
    answers with an outcome, and says how long that took."""

    def __init__(self, log_path, tag, partitions):
        self.log_path = log_path
        self.tag = tag
        self.partitions = partitions
        self.skus = {}  # partition -> sku
        self.counter = 0
        self.lock = threading.Lock()

    def _log(self, entry):
        with self.lock, open(self.log_path, "a") as log:
            log.write(json.dumps(entry) + "\n")

    def _command_id(self):
        with self.lock:
            self.counter += 1
            return "%s-p%d" % (self.tag, self.counter)

    def send(self, port, command_type, sku, data):
        """One synchronous command. Returns the outcome's partition when an outcome came back, else None. Logs
        the command with what the answer says (the checker's format)."""
        command_id = self._command_id()
        body = json.dumps({"command_id": command_id, "type": command_type, "sku": sku, "data": data}).encode()
        entry = {"id": command_id, "sku": sku, "type": command_type, "via": "probe", "answer": "unknown",
                 "t_ms": int(time.time() * 1000), "status": None, "attempts": 1, "outcome": None}
        partition = None
        try:
            status, answer = http_request(port, "POST", "/v1/commands", body,
                                          {"Content-Type": "application/json", "Idempotency-Key": command_id,
                                           "Prefer": "wait=%d" % PROBE_WAIT_S})
            entry["status"] = status
            if status == 202:
                entry["answer"] = "acked"
            elif status in (200, 201, 409, 422) and isinstance(answer, dict) and answer.get("position"):
                entry["answer"] = "acked"
                rejected = answer.get("reason") is not None
                entry["outcome"] = {"status": "rejected" if rejected else "accepted",
                                    "reason": answer.get("reason"), "position": answer["position"],
                                    "sequence": None if rejected else (answer.get("events") or [{}])[0].get(
                                        "sequence")}
                partition = int(answer["position"].split(":")[0])
            elif status is not None and 400 <= status < 500:
                entry["answer"] = "refused"
        except (OSError, http.client.HTTPException) as error:
            entry["error"] = str(error)
        entry["done_ms"] = int(time.time() * 1000)
        self._log(entry)
        return partition

    def create(self, port, timeout_s=READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout_s
        index = 0
        while len(self.skus) < self.partitions:
            if time.monotonic() > deadline:
                raise RuntimeError("probe SKUs: only partitions %s after %d s" % (sorted(self.skus), timeout_s))
            sku = "%s-probe%d" % (self.tag, index)
            partition = self.send(port, "CreateSku", sku, {"name": "probe"})
            if partition is None:
                continue  # retried under the next name: the SKU may exist now, a rejection then names it
            index += 1
            self.skus.setdefault(partition, sku)

    def probe(self, ports, since, timeout_s=RECOVERY_TIMEOUT_S):
        """Until every partition's probe SKU got an outcome from a command sent after `since` (monotonic), one
        thread per partition, over the given instances in turn. A probe that meets a stalled partition waits
        PROBE_WAIT_S and is followed by the next, which is then queued when the partition comes back: the
        answer times are within a few ms of the recovery. Returns {partition: seconds from since}; raises
        RuntimeError at timeout."""
        answered = {}
        failed = []

        def run(partition, sku, turn):
            while time.monotonic() - since < timeout_s:
                port = ports[turn % len(ports)]
                turn += 1
                if self.send(port, "ReceiveStock", sku, {"location": "P", "quantity": 1}) is not None:
                    answered[partition] = time.monotonic() - since
                    return
                time.sleep(0.02)
            failed.append(partition)

        threads = [threading.Thread(target=run, args=(p, sku, p), daemon=True)
                   for p, sku in sorted(self.skus.items())]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout_s + 2 * PROBE_HTTP_TIMEOUT_S)
        if failed or len(answered) < len(self.skus):
            raise RuntimeError("partitions %s did not answer within %d s of the fault" %
                               (sorted(set(self.skus) - set(answered)), timeout_s))
        return answered


def venv_python():
    return sys.executable
