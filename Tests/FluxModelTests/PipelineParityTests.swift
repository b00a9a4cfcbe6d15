import Foundation
import ImageCodecs
import KontextPipeline
import Safetensors
import Testing
import Torch

@testable import FluxModel

/// One run of diffusers' FluxKontextPipeline recorded by scripts/fixtures/flux_tiny.py.
struct RecordedRun: Decodable, CustomTestStringConvertible {
    let key: String
    let mode: String
    let prompt: String
    let width: Int
    let height: Int
    let steps: Int
    let guidance: Double
    let seed: UInt64
    let image: String?
    let negativePrompt: String?
    let trueCfgScale: Double

    enum CodingKeys: String, CodingKey {
        case key, mode, prompt, width, height, steps, guidance, seed, image
        case negativePrompt = "negative_prompt", trueCfgScale = "true_cfg_scale"
    }

    var testDescription: String { "\(key) \(width)x\(height)" }
}

struct RecordedRuns: Decodable {
    let runs: [RecordedRun]

    static func load(_ configuration: String) -> [RecordedRun] {
        let path = FluxFixtures.folder(configuration) + "/reference.json"
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return (try? JSONDecoder().decode(RecordedRuns.self, from: data).runs) ?? []
    }
}

@Suite("Kontext pipeline matches diffusers end to end", .serialized)
struct PipelineParityTests {
    init() throws { try TorchRuntime.setThreadCount(1) }

    static let cases: [(String, Bool)] = FluxFixtures.configurations.flatMap { [($0, false), ($0, true)] }

    @Test("latents after every step and the final 8-bit image", arguments: cases)
    func endToEnd(_ configuration: String, bfl: Bool) throws {
        let runs = RecordedRuns.load(configuration)
        #expect(runs.count == 5, "text-to-image and edit at two sizes, and an edit with true CFG")
        let reference = try FluxFixtures.reference(configuration)
        let pipeline = try KontextPipeline(loader: FluxFixtures.loader(configuration, bfl: bfl))
        for run in runs {
            var images = [RGBImage]()
            if let file = run.image {
                images.append(try ImageDecoder.decode(Data(contentsOf: URL(fileURLWithPath: FluxFixtures.folder(configuration) + "/" + file))))
            }
            let request = GenerationRequest(
                prompt: run.prompt, negativePrompt: run.negativePrompt, trueCFGScale: run.trueCfgScale, images: images,
                referenceSizing: .matchInput, width: run.width, height: run.height, steps: run.steps, guidance: run.guidance,
                seed: run.seed)
            var stepErrors = [Float]()
            let output = try pipeline.generate(request, progress: { progress in
                let expected = try? Tensor(named: "\(run.key).step.\(progress.step - 1)", in: reference)
                stepErrors.append((try? expected.map { try relativeError(progress.latents, $0.unsqueezed(0)).relative }) ?? .infinity)
            })
            #expect(stepErrors.count == run.steps)
            #expect(stepErrors.allSatisfy { $0 <= float32Tolerance }, "\(run.key): per-step relative error \(stepErrors)")
            let expectedImage = try Tensor(named: "\(run.key).image", in: reference).toArray(of: UInt8.self)
            let image = try #require(output.first)
            #expect(image.width == run.width && image.height == run.height)
            let worst = zip(image.pixels, expectedImage).map { abs(Int($0) - Int($1)) }.max() ?? 255
            #expect(worst <= 1, "\(run.key): final image differs by up to \(worst) levels")
        }
    }

    @Test func sameSeedGivesIdenticalBytes() throws {
        let pipeline = try KontextPipeline(loader: FluxFixtures.loader("tiny-a"))
        let request = GenerationRequest(prompt: "a lighthouse", width: 32, height: 48, steps: 2, seed: 99)
        let first = try ImageEncoder.encode(pipeline.generate(request)[0], as: .png)
        let second = try ImageEncoder.encode(pipeline.generate(request)[0], as: .png)
        #expect(first == second)
        var other = request
        other.seed = 100
        #expect(try ImageEncoder.encode(pipeline.generate(other)[0], as: .png) != first)
    }

    @Test func requestsSharingABatchGetTheirOwnImages() throws {
        let pipeline = try KontextPipeline(loader: FluxFixtures.loader("tiny-a"))
        let first = GenerationRequest(prompt: "a red boat", width: 32, height: 48, steps: 2, guidance: 2.5, seed: 1)
        let second = GenerationRequest(prompt: "a green field", width: 32, height: 48, steps: 2, guidance: 4, seed: 9, count: 2)
        let batched = try pipeline.generate(batch: [first, second])
        let alone = [try pipeline.generate(first), try pipeline.generate(second)]
        #expect(batched.map(\.count) == [1, 2])
        for (together, separate) in zip(batched.joined(), alone.joined()) {
            let worst = zip(together.pixels, separate.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 255
            #expect(worst <= 1, "a batched image differs from its own run by \(worst) levels")
        }
        #expect(!KontextPipeline.canBatch(first, GenerationRequest(prompt: "x", width: 48, height: 48, steps: 2)))
        #expect(throws: PipelineError.self) { try pipeline.generate(batch: [first, GenerationRequest(prompt: "x", width: 48, height: 48, steps: 2)]) }
    }

    @Test func batchImageIUsesSeedPlusI() throws {
        let pipeline = try KontextPipeline(loader: FluxFixtures.loader("tiny-a"))
        var request = GenerationRequest(prompt: "two boats", width: 32, height: 32, steps: 2, seed: 5, count: 2)
        let batch = try pipeline.generate(request)
        request.count = 1
        request.seed = 6
        let single = try pipeline.generate(request)
        #expect(batch.count == 2)
        let worst = zip(batch[1].pixels, single[0].pixels).map { abs(Int($0) - Int($1)) }.max() ?? 255
        #expect(worst <= 1, "batched image 1 differs from seed 6 alone by \(worst)")
    }
}
