#!/usr/bin/env python3
"""test_faultproxy.py - the fault proxy of the chaos scenarios does what each mode says, against an echo
server on loopback (no Kafka). Every wait is bounded; the slow-mode bound only checks a lower limit."""

import socket
import socketserver
import sys
import threading
import time
import unittest

sys.path.insert(0, __import__("os").path.dirname(__file__))
from faultproxy import FaultProxy  # noqa: E402

RECV_TIMEOUT_S = 5
SILENCE_S = 0.5  # how long a stalled connection must stay silent to count as stalled


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                data = self.request.recv(4096)
                if not data:
                    return
                self.request.sendall(data)
        except OSError:
            return  # the proxy reset the connection: what some tests do on purpose


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FaultProxyTest(unittest.TestCase):
    def setUp(self):
        self.echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
        self.echo.daemon_threads = True
        threading.Thread(target=self.echo.serve_forever, daemon=True).start()
        self.port = _free_port()
        self.proxy = FaultProxy({"b1": (self.port, self.echo.server_address[1])}).start()

    def tearDown(self):
        self.proxy.stop()
        self.echo.shutdown()
        self.echo.server_close()

    def connect(self):
        client = socket.create_connection(("127.0.0.1", self.port), timeout=RECV_TIMEOUT_S)
        client.settimeout(RECV_TIMEOUT_S)
        return client

    def roundtrip(self, client, payload=b"ping"):
        client.sendall(payload)
        return client.recv(4096)

    def test_up_forwards_both_ways(self):
        with self.connect() as client:
            self.assertEqual(self.roundtrip(client), b"ping")
        self.assertGreaterEqual(self.proxy.state()["b1"]["bytes_forwarded"], 8)

    def test_stall_holds_bytes_then_up_delivers_them(self):
        with self.connect() as client:
            self.assertEqual(self.roundtrip(client), b"ping")
            self.proxy.set_mode("all", "stall")
            client.sendall(b"held")
            client.settimeout(SILENCE_S)
            with self.assertRaises(socket.timeout):
                client.recv(4096)
            self.proxy.set_mode("all", "up")
            client.settimeout(RECV_TIMEOUT_S)
            self.assertEqual(client.recv(4096), b"held")

    def test_stall_accepts_new_connections_without_forwarding(self):
        self.proxy.set_mode("b1", "stall")
        with self.connect() as client:
            client.sendall(b"x")
            client.settimeout(SILENCE_S)
            with self.assertRaises(socket.timeout):
                client.recv(4096)

    def test_down_resets_open_and_new_connections(self):
        client = self.connect()
        self.assertEqual(self.roundtrip(client), b"ping")
        self.proxy.set_mode("b1", "down")
        with self.assertRaises((ConnectionResetError, BrokenPipeError)):
            client.sendall(b"x")
            if client.recv(4096) == b"":
                raise ConnectionResetError("closed")
        client.close()
        # A new connection is reset at once: on a busy machine the RST can come before connect() returns.
        with self.assertRaises((ConnectionResetError, BrokenPipeError)):
            with self.connect() as late:
                late.sendall(b"x")
                if late.recv(4096) == b"":
                    raise ConnectionResetError("closed")
        self.proxy.set_mode("b1", "up")
        with self.connect() as again:
            self.assertEqual(self.roundtrip(again), b"ping")

    def test_reset_drops_open_connections_and_stays_up(self):
        client = self.connect()
        self.assertEqual(self.roundtrip(client), b"ping")
        self.proxy.set_mode("b1", "reset")
        with self.assertRaises((ConnectionResetError, BrokenPipeError)):
            client.sendall(b"x")
            if client.recv(4096) == b"":
                raise ConnectionResetError("closed")
        client.close()
        self.assertEqual(self.proxy.state()["b1"]["mode"], "up")
        with self.connect() as again:
            self.assertEqual(self.roundtrip(again), b"ping")

    def test_slow_adds_latency_each_way(self):
        self.proxy.set_mode("b1", "slow", latency_ms=150)
        with self.connect() as client:
            began = time.monotonic()
            self.assertEqual(self.roundtrip(client), b"ping")
            self.assertGreaterEqual(time.monotonic() - began, 0.3)  # 150 ms there and 150 ms back

    def test_bad_mode_and_route_refused(self):
        with self.assertRaises(ValueError):
            self.proxy.set_mode("b1", "sideways")
        with self.assertRaises(KeyError):
            self.proxy.set_mode("b9", "stall")
        with self.assertRaises(ValueError):
            self.proxy.set_mode("b1", "slow", latency_ms=-1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
