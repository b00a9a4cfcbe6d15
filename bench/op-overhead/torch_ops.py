"""The same ops as Sources/main.swift, called from Python torch. Same output format."""
import json
import sys
import time

import torch

iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
repeats = 5
torch.set_num_threads(1)

a = torch.tensor([1.5])
b = torch.tensor([2.5])
m = torch.tensor([[1.0, 2.0], [3.0, 4.0]])


def ns_per_op(body):
    for _ in range(iterations // 10):
        body()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            body()
        best = min(best, (time.perf_counter_ns() - start) / iterations)
    return best


measurements = [
    ("dim", lambda: a.dim()),
    ("add", lambda: a + b),
    ("mul_scalar", lambda: a * 3),
    ("silu", lambda: torch.nn.functional.silu(a)),
    ("reshape", lambda: m.reshape(4)),
    ("matmul_2x2", lambda: m @ m),
]

for name, body in measurements:
    print(json.dumps({"op": name, "ns_per_op": round(ns_per_op(body), 1)}))
