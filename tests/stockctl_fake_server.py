#!/usr/bin/env python3
"""stockctl_fake_server.py - a stand-in for stockd's HTTP API that answers canned responses per route.

Lets tests/stockctl_cli.sh check stockctl's requests (method, target, headers, exact body bytes) and its
output and exit codes without a broker or a stockd. Listens on 127.0.0.1, port 0 (the kernel picks one).

Usage: stockctl_fake_server.py DIR
  writes DIR/port once listening; for every request writes DIR/last_head (request line, then the headers as
  received, "Name: value" a line), DIR/last_body (the body's exact bytes) and DIR/count (requests so far).

The answers follow docs/http-api.md; a few names trigger the hostile or failing cases:
  SKU NONE: 404, ERR: 500, AUTH: 401, BIG: a 2 MiB body, CHUNKED: a chunked answer, SLOW: 3 s late,
  BROKEN: a 200 that is not JSON, SHORT: a rejection (insufficient_stock), quantity 0: 400 invalid-body,
  reservation R-NONE: 404, R-AMB: 409 ambiguous-reservation, key "wrong": 401, key "reader" on a POST: 403.
"""
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SKU_MUG = {
    "sku": "MUG", "name": "Coffee mug", "reorder_point": 5, "on_hand": 10, "reserved": 2, "available": 8,
    "below_reorder_point": False, "sequence": 7, "updated_at": "2026-11-25T10:00:00.123Z",
    "locations": [
        {"location": "WH-1", "on_hand": 7, "reserved": 2, "available": 5},
        {"location": "WH-2", "on_hand": 3, "reserved": 0, "available": 3},
    ],
}

RESERVATION = {
    "reservation_id": "R-1", "sku": "MUG", "status": "active", "location": "WH-1", "quantity": 2,
    "expires_at": None, "created_at": "2026-11-25T10:00:00.123Z", "updated_at": "2026-11-25T10:00:00.123Z",
    "created_command_id": "c-7", "updated_command_id": "c-7",
}


def outcome(command_id, command_type, sku, event_type):
    return {
        "command_id": command_id, "sku": sku, "type": command_type, "status": "accepted",
        "decided_at": "2026-11-25T10:00:00.123Z", "decision_count": 1,
        "events": [{"type": event_type, "sequence": 4, "position": "2:1873"}], "position": "2:1873",
    }


def history_item(sequence, event_type, data):
    return {
        "sequence": sequence, "type": event_type, "command_id": "c-%d" % sequence,
        "time": "2026-11-25T10:00:0%d.000Z" % sequence, "position": "2:%d" % (100 + sequence),
        "event": {"type": event_type, "sku": "MUG", "sequence": sequence, "command_id": "c-%d" % sequence,
                  "time_ms": 1795600800000 + sequence, "data": data},
    }


HISTORY_PAGES = {
    "": {"sku": "MUG", "items": [history_item(1, "SkuCreated", {"name": "Coffee mug", "reorder_point": 5}),
                                 history_item(2, "StockReceived", {"location": "WH-1", "quantity": 10})],
         "next_cursor": "c/2+"},
    "c/2+": {"sku": "MUG", "items": [history_item(3, "StockReserved",
                                                  {"reservation_id": "R-1", "location": "WH-1", "quantity": 2})],
             "next_cursor": None},
}

VIEWS = {"views": [
    {"name": "stock", "state": "ready", "lag": 0, "ready": True, "events_applied": 1234,
     "rebuild": {"running": False, "progress": 0},
     "partitions": [{"partition": 0, "position": 600, "end": 600, "lag": 0},
                    {"partition": 1, "position": 634, "end": 634, "lag": 0}]},
    {"name": "history", "state": "rebuilding", "lag": 17, "ready": False, "events_applied": 1217,
     "rebuild": {"running": True, "progress": 0.5},
     "partitions": [{"partition": 0, "position": 590, "end": 600, "lag": 10},
                    {"partition": 1, "position": 627, "end": 634, "lag": 7}]},
]}

SUBMIT_ROUTES = [
    (re.compile(r"^/v1/skus$"), "CreateSku", "SkuCreated", 201),
    (re.compile(r"^/v1/skus/([^/]+)/receipts$"), "ReceiveStock", "StockReceived", 200),
    (re.compile(r"^/v1/skus/([^/]+)/adjustments$"), "AdjustStock", "StockAdjusted", 200),
    (re.compile(r"^/v1/skus/([^/]+)/transfers$"), "TransferStock", "StockTransferred", 200),
    (re.compile(r"^/v1/reservations$"), "ReserveStock", "StockReserved", 201),
    (re.compile(r"^/v1/reservations/([^/]+)/release$"), "ReleaseReservation", "ReservationReleased", 200),
    (re.compile(r"^/v1/reservations/([^/]+)/fulfil$"), "FulfilReservation", "ReservationFulfilled", 200),
    (re.compile(r"^/v1/commands$"), "ReceiveStock", "StockReceived", 200),
]


def problem(status, code, detail, **extra):
    body = {"type": "urn:stockd:problem:" + code, "title": code.replace("-", " "), "status": status,
            "detail": detail, "request_id": "req-1"}
    body.update(extra)
    return status, body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-stockd"

    def log_message(self, format, *args):
        pass

    def record(self, body):
        directory = self.server.directory
        with self.server.lock:
            self.server.count += 1
            head = "%s %s\n" % (self.command, self.path)
            head += "".join("%s: %s\n" % (name, value) for name, value in self.headers.items())
            with open(os.path.join(directory, "last_head"), "w") as stream:
                stream.write(head)
            with open(os.path.join(directory, "last_body"), "wb") as stream:
                stream.write(body)
            with open(os.path.join(directory, "count"), "w") as stream:
                stream.write("%d\n" % self.server.count)

    def send(self, status, body, content_type=None, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if content_type is None:
            content_type = "application/problem+json" if status >= 400 and b'"urn:stockd' in data \
                else "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-Request-Id", "req-1")
        self.send_header("X-Stockd-Position", "0:600,1:634")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # stockctl stops reading a body over its bound: that is the point of the BIG case

    def send_chunked(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        for start in range(0, len(data), 7):
            piece = data[start:start + 7]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")

    def auth_problem(self):
        authorization = self.headers.get("Authorization")
        if authorization == "Bearer wrong":
            return problem(401, "unauthorized", "unknown API key")
        if authorization == "Bearer reader" and self.command == "POST":
            return problem(403, "forbidden", "this route needs the write role")
        return None

    def do_GET(self):
        self.record(b"")
        path, _, query = self.path.partition("?")
        parameters = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        if path == "/healthz":
            return self.send(200, {"status": "ok"})
        if path == "/readyz":
            return self.send(503, {"ready": False, "checks": {"broker": True, "replicas": True, "shards": True, "views": False},
                                    "reasons": ["a view is more than views.lag_max events behind"]})
        denied = self.auth_problem()
        if denied:
            return self.send(*denied)
        if path == "/v1/skus/MUG" and "as_of" in parameters:
            return self.send(200, dict(SKU_MUG, as_of={
                "requested": parameters["as_of"].replace("%3A", ":"), "sequence": 5, "type": "StockReserved",
                "position": "2:105", "time": "2026-11-25T10:00:05.000Z", "events_folded": 5}))
        if path == "/v1/skus/MUG":
            return self.send(200, SKU_MUG)
        if path == "/v1/skus/NONE":
            return self.send(*problem(404, "not-found", "no SKU NONE"))
        if path == "/v1/skus/ERR":
            return self.send(*problem(500, "internal", "the view failed"))
        if path == "/v1/skus/AUTH":
            return self.send(*problem(401, "unauthorized", "missing API key"))
        if path == "/v1/skus/BIG":
            return self.send(200, b'{"sku":"BIG","name":"' + b"x" * (2 * 1024 * 1024) + b'"}')
        if path == "/v1/skus/CHUNKED":
            return self.send_chunked(SKU_MUG)
        if path == "/v1/skus/SLOW":
            time.sleep(3)
            return self.send(200, SKU_MUG)
        if path == "/v1/skus/BROKEN":
            return self.send(200, b"<html>not json</html>", "text/html")
        if path == "/v1/skus/MUG/history":
            cursor = parameters.get("cursor", "").replace("%2F", "/").replace("%2B", "+")
            if cursor not in HISTORY_PAGES:
                return self.send(*problem(400, "invalid-parameter", "unknown cursor", field="cursor"))
            return self.send(200, HISTORY_PAGES[cursor])
        if path == "/v1/skus":
            return self.send(200, {"items": [{key: value for key, value in SKU_MUG.items() if key != "locations"}],
                                   "next_cursor": None})
        if path == "/v1/reservations/R-1":
            return self.send(200, RESERVATION)
        if path == "/v1/reservations/R-AMB":
            return self.send(*problem(409, "ambiguous-reservation", "several SKUs use R-AMB", skus=["A", "B"]))
        if path == "/v1/commands/c-1":
            return self.send(200, outcome("c-1", "ReserveStock", "MUG", "StockReserved"))
        if path == "/v1/commands/c-rej":
            return self.send(200, {"command_id": "c-rej", "sku": "MUG", "type": "ReserveStock",
                                   "status": "rejected", "reason": "insufficient_stock",
                                   "detail": "available 8 < 9", "decided_at": "2026-11-25T10:00:00.123Z",
                                   "decision_count": 1, "position": "2:1874",
                                   "events": [{"type": "CommandRejected", "sequence": 5, "position": "2:1874"}]})
        if path == "/v1/views":
            return self.send(200, VIEWS)
        return self.send(*problem(404, "not-found", "no route " + path))

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.record(body)
        denied = self.auth_problem()
        if denied:
            return self.send(*denied)
        path = self.path
        if path == "/v1/views/stock/rebuild":
            return self.send(202, {"view": "stock", "status": "requested"})
        if path == "/v1/views/history/rebuild":
            return self.send(*problem(409, "rebuild-running", "a rebuild of history is already running"))
        if path.startswith("/v1/views/"):
            return self.send(*problem(404, "not-found", "no such view"))
        for pattern, command_type, event_type, status in SUBMIT_ROUTES:
            match = pattern.match(path)
            if not match:
                continue
            if body and self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                return self.send(*problem(415, "unsupported-media-type", "send application/json"))
            if b"R-NONE" in path.encode():
                return self.send(*problem(404, "not-found", "no reservation R-NONE in the reservations view"))
            if b'"quantity":0' in body:
                return self.send(*problem(400, "invalid-body", "quantity: must be in [1, 1000000000]",
                                          field="quantity"))
            if b"bad" in body:
                return self.send(*problem(400, "invalid-body", "not a command envelope"))
            command_id = self.headers.get("Idempotency-Key", "c-gen")
            sku = match.group(1) if match.groups() else "MUG"
            if b"SHORT" in body:
                return self.send(*problem(409, "rejected", "available 8 < 9", reason="insufficient_stock",
                                          command_id=command_id, position="2:1875"))
            prefer = self.headers.get("Prefer", "")
            if prefer.startswith("wait="):
                return self.send(status, outcome(command_id, command_type, sku, event_type),
                                 headers=[("Preference-Applied", prefer)])
            return self.send(202, {"command_id": command_id, "status": "pending"},
                             headers=[("Location", "/v1/commands/" + command_id)])
        return self.send(*problem(404, "not-found", "no route " + path))


def main():
    directory = sys.argv[1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.directory = directory
    server.lock = threading.Lock()
    server.count = 0
    with open(os.path.join(directory, "count"), "w") as stream:
        stream.write("0\n")
    with open(os.path.join(directory, "port.tmp"), "w") as stream:
        stream.write("%d\n" % server.server_address[1])
    os.rename(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))
    server.serve_forever()


if __name__ == "__main__":
    main()
