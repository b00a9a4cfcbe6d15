import Foundation
import ImageCodecs
import KontextPipeline
import Synchronization
import Testing
import Torch

@testable import FluxModel

@Suite("Pipeline behaviour")
struct PipelineBehaviourTests {
    static let pipeline = Result { try KontextPipeline(loader: FluxFixtures.loader("tiny-a")) }

    @Test func cancellationStopsBetweenSteps() throws {
        let pipeline = try Self.pipeline.get()
        let stepsSeen = Atomic<Int>(0)
        let request = GenerationRequest(prompt: "a boat", width: 32, height: 32, steps: 6, seed: 1)
        #expect {
            _ = try pipeline.generate(request, isCancelled: { stepsSeen.load(ordering: .relaxed) >= 2 }, progress: { _ in
                stepsSeen.add(1, ordering: .relaxed)
            })
        } throws: { error in
            if case .cancelled = error as? PipelineError { return true }
            return false
        }
        #expect(stepsSeen.load(ordering: .relaxed) == 2)
    }

    @Test func previewsComeAtLatentResolution() throws {
        let pipeline = try Self.pipeline.get()
        var previews = [RGBImage]()
        _ = try pipeline.generate(GenerationRequest(prompt: "a boat", width: 64, height: 48, steps: 4, seed: 1), previewAt: { $0 % 2 == 0 }, progress: {
            if let preview = $0.preview { previews.append(preview) }
        })
        #expect(previews.count == 2, "previews only after the steps asked for")
        #expect(previews.allSatisfy { $0.width == 8 && $0.height == 6 })
    }

    @Test func severalReferencesAreAllEncoded() throws {
        let pipeline = try Self.pipeline.get()
        let input = try ImageDecoder.decode(Data(contentsOf: URL(fileURLWithPath: FluxFixtures.folder("tiny-a") + "/input.png")))
        let second = try input.resized(width: 48, height: 64)
        var request = GenerationRequest(prompt: "merge them", images: [input], referenceSizing: .matchInput, width: 32, height: 32, steps: 2, seed: 3)
        let one = try pipeline.generate(request)[0]
        request.images = [input, second]
        let two = try pipeline.generate(request)[0]
        #expect(two.width == 32 && two.height == 32)
        #expect(one != two, "a second reference must change the result")
    }

    @Test func bfloat16MatchesDiffusersInBfloat16() throws {
        let reference = try FluxFixtures.reference("tiny-a")
        func input(_ key: String) throws -> Tensor { try Tensor(named: "transformer.in." + key, in: reference) }
        let loader = try FluxFixtures.loader("tiny-a")
        let half = try ModelLoader(location: loader.location, dtype: .bfloat16, device: .cpu).transformer()
        let output = try half(
            hidden: input("hidden").to(.bfloat16), encoder: input("encoder").to(.bfloat16), pooled: input("pooled").to(.bfloat16),
            timestep: input("timestep"), guidance: input("guidance"), imageIds: input("img_ids"), textIds: input("txt_ids"))
        #expect(output.dtype == .bfloat16)
        let expected = try Tensor(named: "transformer.out_bf16", in: reference).to(.float32)
        let difference = try (output.to(.float32) - expected).abs().mean(dims: [0, 1, 2]).item()
        let scale = try expected.abs().mean(dims: [0, 1, 2]).item()
        // Against diffusers in bfloat16 itself: within one bfloat16 rounding step (2^-8) on average.
        #expect(difference / scale < 1.0 / 256, "mean relative difference \(difference / scale)")
    }

    @Test func invalidRequestsAreRefusedBeforeAnyWork() throws {
        let pipeline = try Self.pipeline.get()
        let cases: [(GenerationRequest, String)] = [
            (GenerationRequest(prompt: "x", width: 30, height: 32), "multiples of 16"),
            (GenerationRequest(prompt: "x", width: 32, height: 32, steps: 0), "steps must be 1 to 200"),
            (GenerationRequest(prompt: "x", width: 32, height: 32, count: 17), "count must be 1 to 16"),
            (GenerationRequest(prompt: "x", images: Array(repeating: try RGBImage(width: 8, height: 8, red: 0, green: 0, blue: 0), count: 5), width: 32, height: 32), "at most 4"),
        ]
        for (request, expected) in cases {
            #expect {
                _ = try pipeline.generate(request)
            } throws: { error in
                guard case .invalidRequest(let message) = error as? PipelineError else { return false }
                return message.contains(expected)
            }
        }
    }
}
