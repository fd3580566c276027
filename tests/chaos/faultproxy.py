#!/usr/bin/env python3
"""faultproxy.py - a TCP proxy on loopback that cuts, stalls, slows or resets connections on command.

Sits between ONE stockd instance and the brokers of scripts/kafka's cluster: each broker has a FAULT
listener advertised at a proxy port (docs/kafka-broker.md), so a client that bootstraps through the proxy
ports reaches every broker through this proxy, while the other instances connect directly and keep their
connections. Python 3 standard library only; nothing of stockd's.

Modes of a route (one route per broker: listen port -> upstream port):
  up      forward bytes both ways (default)
  stall   a network partition without resets: bytes stop in both directions, new connections are accepted
          but not forwarded; the peers see silence until their own timeouts fire. Back to up: held
          connections resume where they were (TCP retransmits through a short partition the same way).
  down    every connection is reset (RST) and new ones are reset at once: a host that went away.
  reset   one-shot: the open connections are reset, new ones are forwarded (mode stays up).
  slow    forward with latency_ms added to every chunk in both directions.

Use as a module (FaultProxy(routes).start(); .set_mode(...); .stop()) or as a program with an HTTP
control port (the way Toxiproxy is driven):
  faultproxy.py serve --control 127.0.0.1:PORT --route NAME=LISTEN:UPSTREAM [--route ...]
  curl -X POST 'http://127.0.0.1:PORT/mode?route=all&mode=stall'      (route=NAME or all)
  curl -X POST 'http://127.0.0.1:PORT/mode?route=b1&mode=slow&latency_ms=200'
  curl http://127.0.0.1:PORT/routes                                      (state and counters, JSON)
"""

import argparse
import asyncio
import http.server
import json
import socket
import struct
import sys
import threading
import urllib.parse

MODES = ("up", "stall", "down", "reset", "slow")
CHUNK_BYTES = 65536  # one read; Kafka requests of stockd are far smaller, fetch answers may be bigger
LATENCY_MS_MAX = 60000  # a slower link is a cut link: use stall
CONNECTIONS_MAX = 1024  # per route: one stockd instance opens a few dozen (brokers x clients)
START_TIMEOUT_S = 10


def _rst(writer):
    """Closes a connection with a TCP reset (SO_LINGER 0), the way a vanished host's kernel answers."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class _Route:
    def __init__(self, name, listen_port, upstream_port):
        self.name = name
        self.listen_port = listen_port
        self.upstream_port = upstream_port
        self.mode = "up"
        self.latency_ms = 0
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.connections = set()  # (client writer, upstream writer or None)
        self.accepted = 0
        self.bytes_forwarded = 0
        self.server = None

    def state(self):
        return {"mode": self.mode, "latency_ms": self.latency_ms, "listen": self.listen_port,
                "upstream": self.upstream_port, "open": len(self.connections), "accepted": self.accepted,
                "bytes_forwarded": self.bytes_forwarded}

    def reset_all(self):
        for client, upstream in list(self.connections):
            _rst(client)
            if upstream is not None:
                _rst(upstream)
        self.connections.clear()

    def apply(self, mode, latency_ms):
        if mode == "reset":
            self.reset_all()
            mode = "up"
        self.mode = mode
        self.latency_ms = latency_ms if mode == "slow" else 0
        if mode == "down":
            self.reset_all()
        if mode == "stall":
            self.flowing.clear()
        else:
            self.flowing.set()

    async def pump(self, reader, writer):
        while True:
            await self.flowing.wait()
            data = await reader.read(CHUNK_BYTES)
            if not data:
                break
            if self.latency_ms:
                await asyncio.sleep(self.latency_ms / 1000)
            await self.flowing.wait()  # a stall that began while this chunk was read holds it
            if self.mode == "down":
                break
            writer.write(data)
            await writer.drain()
            self.bytes_forwarded += len(data)

    async def serve_one(self, client_reader, client_writer):
        self.accepted += 1
        if self.mode == "down" or len(self.connections) >= CONNECTIONS_MAX:
            _rst(client_writer)
            return
        pair = (client_writer, None)
        self.connections.add(pair)
        upstream_writer = None
        try:
            await self.flowing.wait()  # stalled: the client's connect succeeded, nothing goes further
            if pair not in self.connections:
                return
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            self.connections.discard(pair)
            pair = (client_writer, upstream_writer)
            self.connections.add(pair)
            await asyncio.gather(self.pump(client_reader, upstream_writer),
                                 self.pump(upstream_reader, client_writer))
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a reset, an aborted peer, or the proxy stopping: the connection is over either way
        finally:
            if pair in self.connections:
                self.connections.discard(pair)
                for writer in pair:
                    if writer is not None:
                        writer.close()


class FaultProxy:
    """Runs the routes {name: (listen_port, upstream_port)} on an event loop in a thread of its own."""

    def __init__(self, routes):
        self.routes_spec = dict(routes)
        self.loop = asyncio.new_event_loop()
        self.routes = {}
        self.thread = None

    def start(self):
        ready = threading.Event()
        failure = []

        async def open_all():
            for name, (listen_port, upstream_port) in self.routes_spec.items():
                route = _Route(name, listen_port, upstream_port)
                route.server = await asyncio.start_server(route.serve_one, "127.0.0.1", listen_port,
                                                          reuse_address=True)
                self.routes[name] = route

        def run():
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(open_all())
            except OSError as error:
                failure.append(error)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="faultproxy", daemon=True)
        self.thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise RuntimeError("faultproxy: routes did not open in time")
        if failure:
            raise RuntimeError(f"faultproxy: cannot listen: {failure[0]}")
        return self

    def _call(self, function):
        future = asyncio.run_coroutine_threadsafe(function(), self.loop)
        return future.result(START_TIMEOUT_S)

    def set_mode(self, route, mode, latency_ms=0):
        """Sets one route's mode, or every route's when route is "all"."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not 0 <= latency_ms <= LATENCY_MS_MAX:
            raise ValueError(f"latency_ms must be in [0, {LATENCY_MS_MAX}]")
        if route != "all" and route not in self.routes:
            raise KeyError(f"no route {route!r} (routes: {', '.join(self.routes)})")

        async def apply():
            for name, found in self.routes.items():
                if route in ("all", name):
                    found.apply(mode, latency_ms)

        self._call(apply)

    def state(self):
        async def collect():
            return {name: route.state() for name, route in self.routes.items()}

        return self._call(collect)

    def stop(self):
        async def close_all():
            for route in self.routes.values():
                route.server.close()
                route.reset_all()
            pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        if self.thread is None:
            return
        self._call(close_all)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(START_TIMEOUT_S)
        self.thread = None


def _control_handler(proxy):
    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status, body):
            data = (json.dumps(body) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if urllib.parse.urlsplit(self.path).path != "/routes":
                self.answer(404, {"error": "GET /routes or POST /mode"})
                return
            self.answer(200, proxy.state())

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path != "/mode":
                self.answer(404, {"error": "GET /routes or POST /mode"})
                return
            try:
                latency_ms = int(query.get("latency_ms", "0"))
                proxy.set_mode(query.get("route", "all"), query.get("mode", ""), latency_ms)
            except (ValueError, KeyError) as error:
                self.answer(400, {"error": str(error)})
                return
            self.answer(200, proxy.state())

        def log_message(self, *args):
            pass

    return Handler


def _parse_route(text):
    name, _, ports = text.partition("=")
    listen, _, upstream = ports.partition(":")
    if not name or not listen.isdigit() or not upstream.isdigit():
        raise argparse.ArgumentTypeError(f"a route is NAME=LISTEN_PORT:UPSTREAM_PORT, got {text!r}")
    return name, (int(listen), int(upstream))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the proxy with an HTTP control port")
    serve.add_argument("--control", required=True, help="HOST:PORT of the control API")
    serve.add_argument("--route", action="append", type=_parse_route, required=True)
    arguments = parser.parse_args()
    host, _, port = arguments.control.rpartition(":")
    proxy = FaultProxy(dict(arguments.route)).start()
    server = http.server.ThreadingHTTPServer((host, int(port)), _control_handler(proxy))
    print(f"faultproxy: control on {arguments.control}, routes {proxy.state()}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
