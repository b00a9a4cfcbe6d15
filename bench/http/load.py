#!/usr/bin/env python3
"""Load for bench/http/run: CONCURRENCY keep-alive clients send DURATION seconds of one request
kind to the server and report requests per second and latency percentiles as JSON.
Usage: load.py URL KIND CONCURRENCY DURATION   (KIND: healthz, models, generate)"""
import http.client
import json
import statistics
import sys
import threading
import time
from urllib.parse import urlparse

url, kind, concurrency, duration = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
target = urlparse(url)
body = json.dumps({"prompt": "a boat", "size": "64x64", "num_inference_steps": 1, "response_format": "b64_json"})
latencies, statuses, lock = [], {}, threading.Lock()
stop_at = time.perf_counter() + duration


def client():
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    while time.perf_counter() < stop_at:
        start = time.perf_counter()
        # Generation requests end their connection (the server watches it to cancel work when the
        # client leaves), so the next request reconnects, inside the timed interval.
        if kind == "generate":
            connection.request("POST", "/v1/images/generations", body, {"Content-Type": "application/json"})
        else:
            connection.request("GET", "/healthz" if kind == "healthz" else "/v1/models")
        response = connection.getresponse()
        response.read()
        if response.getheader("Connection", "").lower() == "close" or kind == "generate":
            connection.close()
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
            statuses[response.status] = statuses.get(response.status, 0) + 1


threads = [threading.Thread(target=client) for _ in range(concurrency)]
began = time.perf_counter()
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
wall = time.perf_counter() - began
latencies.sort()
print(json.dumps({
    "kind": kind, "concurrency": concurrency, "requests": len(latencies), "rps": len(latencies) / wall,
    "p50_ms": statistics.median(latencies) * 1000, "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    "statuses": statuses,
}))
