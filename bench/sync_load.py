#!/usr/bin/env python3
"""sync_load.py - benchmark helper for bench/http.sh: synchronous submissions at a fixed rate.

Sends POST /v1/skus/{sku}/receipts with Prefer: wait=5 at RATE requests/s for SECONDS over keep-alive
connections (one thread per connection, each on its own schedule, so a slow answer delays only its
connection), and prints the latency percentiles and how many answers were not 200 as one line of
key=value pairs. Not a test."""
import http.client
import json
import sys
import threading
import time


def main():
    url_port, rate, seconds, skus = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split(",")
    connections = 50
    interval = connections / rate
    latencies = []
    failures = []
    lock = threading.Lock()

    def worker(index):
        connection = http.client.HTTPConnection("127.0.0.1", url_port, timeout=30)
        start = time.monotonic() + index * (interval / connections)
        count = 0
        while True:
            due = start + count * interval
            if due - start > seconds:
                break
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            sku = skus[(index + count) % len(skus)]
            body = json.dumps({"location": "WH-1", "quantity": 1})
            begin = time.monotonic()
            try:
                connection.request("POST", f"/v1/skus/{sku}/receipts", body,
                                   {"Content-Type": "application/json", "Prefer": "wait=5"})
                answer = connection.getresponse()
                answer.read()
                status = answer.status
            except Exception as error:  # noqa: BLE001 - a benchmark counts every failure
                status = str(error)
                connection = http.client.HTTPConnection("127.0.0.1", url_port, timeout=30)
            elapsed_ms = (time.monotonic() - begin) * 1000
            with lock:
                latencies.append(elapsed_ms)
                if status != 200:
                    failures.append(status)
            count += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - began
    latencies.sort()
    n = len(latencies)

    def pct(p):
        return latencies[min(n - 1, int(n * p / 100))]

    # One line of key=value pairs (bench/run reads it); the statuses other than 200 last, for people.
    print(f"sync submit: rate_target={rate:g} n={n} seconds={took:.1f} achieved_req_s={n / took:.0f} "
          f"p50_ms={pct(50):.1f} p90_ms={pct(90):.1f} p99_ms={pct(99):.1f} max_ms={latencies[-1]:.1f} "
          f"not_200={len(failures)} {sorted(set(map(str, failures)))[:5]}")


if __name__ == "__main__":
    main()
