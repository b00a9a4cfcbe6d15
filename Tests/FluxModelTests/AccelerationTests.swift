import Foundation
import ImageCodecs
import KontextPipeline
import Testing
import Torch

@testable import FluxModel

@Suite("Acceleration building blocks (CPU)", .serialized)
struct AccelerationTests {
    init() throws { try TorchRuntime.setThreadCount(1) }

    @Test func fp8RoundTripStaysWithinHalfAStep() throws {
        let weight = try Tensor.randn([64, 96], generator: RandomGenerator(seed: 3)) * 0.05
        let quantized = try FP8Weight(quantizing: weight)
        #expect(quantized.values.dtype == .float8E4M3FN && quantized.scales.shape == [64, 1])
        let original = try weight.toArray(of: Float.self)
        let restored = try quantized.dequantized(to: .float32).toArray(of: Float.self)
        let scales = try quantized.scales.toArray(of: Float.self)
        // e4m3 keeps 3 mantissa bits: rounding is within 1/16 of a value, or half the smallest
        // subnormal (2^-10 of a scale) for values near zero.
        for (index, (a, b)) in zip(original, restored).enumerated() {
            let scale = scales[index / 96]
            #expect(abs(a - b) <= abs(a) / 16 + scale * 0.001, "element \(index): \(a) became \(b)")
        }
        #expect(try quantized.values.to(.float32).abs().amax(dims: [0, 1]).item() <= 448)
    }

    @Test func fp8TransformerOnTheCPUStaysNearFloat32() throws {
        let reference = try FluxFixtures.reference("tiny-a")
        func input(_ key: String) throws -> Tensor { try Tensor(named: "transformer.in." + key, in: reference) }
        let model = try FluxFixtures.loader("tiny-a").transformer(fp8: true)
        #expect({ if case .fp8 = model.doubleBlocks[0].toQ.storage { true } else { false } }())
        #expect({ if case .dense = model.xEmbedder.storage { true } else { false } }(), "embedders stay dense")
        let output = try model(
            hidden: input("hidden"), encoder: input("encoder"), pooled: input("pooled"), timestep: input("timestep"),
            guidance: input("guidance"), imageIds: input("img_ids"), textIds: input("txt_ids"))
        let expected = try Tensor(named: "transformer.out", in: reference)
        let error = try (output - expected).abs().mean(dims: [0, 1, 2]).item() / expected.abs().mean(dims: [0, 1, 2]).item()
        // Measured 0.30% on tiny-a; e4m3 rounds each weight by up to 1/16, and errors average out.
        #expect(error < 0.02, "fp8 weights: mean relative error \(error)")
    }

    @Test func stepCacheDecisions() {
        let decide = FirstBlockCache.shouldReuse
        #expect(!decide(nil, 0.1, 0, 3), "no reference yet: full pass")
        #expect(decide(0.05, 0.1, 0, 3))
        #expect(!decide(0.1, 0.1, 0, 3), "at the threshold: full pass")
        #expect(!decide(0.05, 0.1, 3, 3), "too many cached steps in a row")
        #expect(!decide(.nan, 0.1, 0, 3))
    }

    @Test func thresholdZeroChangesNothing() throws {
        let pipeline = try KontextPipeline(loader: FluxFixtures.loader("tiny-a"))
        var request = GenerationRequest(prompt: "a lighthouse", width: 48, height: 32, steps: 6, seed: 4)
        let plain = try pipeline.generate(request)[0]
        request.stepCacheThreshold = 0
        var cached = 0
        let withCache = try pipeline.generate(request, progress: { cached = $0.cachedSteps })[0]
        #expect(cached == 0)
        #expect(withCache == plain)
    }

    @Test func aLooseThresholdSkipsLaterBlocksButNeverTheFirstOrLastStep() throws {
        let pipeline = try KontextPipeline(loader: FluxFixtures.loader("tiny-a"))
        let request = GenerationRequest(prompt: "a lighthouse", width: 48, height: 32, steps: 10, seed: 4, stepCacheThreshold: 1e9)
        var cachedBySteps = [Int]()
        let image = try pipeline.generate(request, progress: { cachedBySteps.append($0.cachedSteps) })[0]
        #expect(cachedBySteps.first == 0, "step 1 runs every block")
        #expect(cachedBySteps.last == cachedBySteps[cachedBySteps.count - 2], "the last step runs every block")
        // Step 2 is the first full pass with a cache and sets the reference; then 3 cached steps,
        // a forced full one (the run-length cap), 3 cached again, and the last step full: 6 of 10.
        #expect(cachedBySteps == [0, 0, 1, 2, 3, 3, 4, 5, 6, 6])
        #expect(image.width == 48 && image.height == 32)
    }
}
