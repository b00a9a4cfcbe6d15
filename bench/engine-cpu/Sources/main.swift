// End-to-end time of the Swift Kontext pipeline on a tiny checkpoint on the CPU, for
// bench/engine-cpu/run, which runs diffusers_pipeline.py on the same inputs. Prints one JSON
// object per mode: seconds per image (median after a warm-up), load time, peak resident memory.
// Usage: kontext-bench-engine MODEL_DIR INPUT_IMAGE SIZE STEPS RUNS
import FluxModel
import Foundation
import ImageCodecs
import KontextPipeline
import Torch

let arguments = CommandLine.arguments
guard arguments.count == 6, let size = Int(arguments[3]), let steps = Int(arguments[4]), let runs = Int(arguments[5]) else {
    FileHandle.standardError.write(Data("usage: kontext-bench-engine MODEL_DIR INPUT_IMAGE SIZE STEPS RUNS\n".utf8))
    exit(2)
}
_ = try TorchRuntime.load()
let loadStart = Date()
let pipeline = try KontextPipeline(loader: ModelLoader(location: ModelLocation(path: arguments[1]), dtype: .float32, device: .cpu))
let loadSeconds = Date().timeIntervalSince(loadStart)
let input = try ImageDecoder.decode(Data(contentsOf: URL(fileURLWithPath: arguments[2])))

func peakResidentMegabytes() -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return (Double(line.split(separator: " ")[1]) ?? 0) / 1024
}

// "t2i-high" is text-to-image with first-block step caching at acceleration: high's threshold;
// diffusers has no counterpart, so the run script reports it beside Swift's plain run.
for mode in ["t2i", "edit", "t2i-high"] {
    let request = GenerationRequest(
        prompt: "a lighthouse on a cliff at dusk", images: mode == "edit" ? [input] : [], referenceSizing: .matchInput,
        width: size, height: size, steps: steps, guidance: 2.5, seed: 42, stepCacheThreshold: mode == "t2i-high" ? 0.08 : nil)
    _ = try pipeline.generate(request)
    var times = [Double]()
    var cached = 0
    for _ in 0..<runs {
        let start = Date()
        _ = try pipeline.generate(request, progress: { cached = $0.cachedSteps })
        times.append(Date().timeIntervalSince(start))
    }
    let median = times.sorted()[times.count / 2]
    print(#"{"mode": "\#(mode)", "seconds_per_image": \#(median), "load_seconds": \#(loadSeconds), "peak_mb": \#(peakResidentMegabytes()), "cached_steps": \#(cached)}"#)
}
