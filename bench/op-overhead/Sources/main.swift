// Per-op overhead of Swift -> C shim -> ATen on tiny CPU tensors, where the kernel itself costs
// almost nothing and the call path dominates. torch_ops.py measures the same ops from Python.
// Prints one JSON object per op: {"op": ..., "ns_per_op": ...} (best of several repeats).
import Foundation
import Torch

let iterations = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 200_000
let repeats = 5

try TorchRuntime.load()
try TorchRuntime.setThreadCount(1)

let a = try Tensor([1.5] as [Float], shape: [1])
let b = try Tensor([2.5] as [Float], shape: [1])
let m = try Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])

func nanosecondsPerOp(_ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<(iterations / 10) { try body() }
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { try body() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start)
        best = min(best, elapsed / Double(iterations))
    }
    return best
}

let measurements: [(String, () throws -> Void)] = [
    ("dim", { _ = a.rank }),
    ("add", { _ = try a + b }),
    ("mul_scalar", { _ = try a * 3 }),
    ("silu", { _ = try a.silu() }),
    ("reshape", { _ = try m.reshaped([4]) }),
    ("matmul_2x2", { _ = try m.matmul(m) }),
]

for (name, body) in measurements {
    let value = try nanosecondsPerOp(body)
    print(#"{"op": "\#(name)", "ns_per_op": \#(String(format: "%.1f", value))}"#)
}
