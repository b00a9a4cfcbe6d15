import Foundation
import Safetensors
import TestSupport
import Testing
import Tokenizers
import Torch

@testable import FluxModel

/// The tiny checkpoints and diffusers' outputs written by scripts/fixtures/flux_tiny.py.
enum FluxFixtures {
    static let configurations = ["tiny-a", "tiny-b"]

    static func folder(_ name: String) -> String { fixtureDirectory + "/flux/" + name }

    static func reference(_ name: String) throws -> SafetensorsCheckpoint {
        let path = folder(name) + "/reference.safetensors"
        guard FileManager.default.fileExists(atPath: path) else { throw FixtureMissing(path: path) }
        return try SafetensorsCheckpoint(path: path)
    }

    static func loader(_ name: String, bfl: Bool = false) throws -> ModelLoader {
        let folder = folder(name)
        let location = try ModelLocation(
            path: folder + "/diffusers", transformerFile: bfl ? folder + "/bfl/flux1-kontext-dev.safetensors" : nil,
            vaeFile: bfl ? folder + "/bfl/ae.safetensors" : nil)
        return ModelLoader(location: location, dtype: .float32, device: .cpu)
    }
}

/// Largest |a - b| / (|b| + 1e-3) over all elements, and the largest |a - b|.
func relativeError(_ actual: Tensor, _ expected: Tensor) throws -> (relative: Float, absolute: Float) {
    #expect(actual.shape == expected.shape, "shape \(actual.shape) vs \(expected.shape)")
    let a = try actual.to(.float32).contiguous().toArray(of: Float.self)
    let b = try expected.to(.float32).contiguous().toArray(of: Float.self)
    var relative: Float = 0
    var absolute: Float = 0
    for (x, y) in zip(a, b) {
        let difference = abs(x - y)
        absolute = max(absolute, difference)
        relative = max(relative, difference / (abs(y) + 1e-3))
    }
    return (relative, absolute)
}

/// Float32 parity: 1e-4 relative (against |expected| + 1e-3), the tolerance the engine promises.
/// On one thread, as here, every component and every pipeline step has measured bit-identical
/// (0 difference); the margin is for other thread counts, where reductions round differently.
let float32Tolerance: Float = 1e-4

@Suite("FLUX components match diffusers", .serialized)
struct ComponentParityTests {
    /// The references were computed on one thread; so are these, which makes most results
    /// bit-identical (reductions split across threads round differently).
    init() throws { try TorchRuntime.setThreadCount(1) }

    @Test("transformer output on fixed inputs", arguments: FluxFixtures.configurations, [false, true])
    func transformer(_ name: String, bfl: Bool) throws {
        let reference = try FluxFixtures.reference(name)
        func input(_ key: String) throws -> Tensor { try Tensor(named: "transformer.in." + key, in: reference) }
        let model = try FluxFixtures.loader(name, bfl: bfl).transformer()
        let output = try model(
            hidden: input("hidden"), encoder: input("encoder"), pooled: input("pooled"), timestep: input("timestep"),
            guidance: input("guidance"), imageIds: input("img_ids"), textIds: input("txt_ids"))
        let error = try relativeError(output, Tensor(named: "transformer.out", in: reference))
        #expect(error.relative <= float32Tolerance, "\(name) \(bfl ? "BFL" : "diffusers"): \(error)")
    }

    @Test("VAE encode and decode", arguments: FluxFixtures.configurations, [false, true])
    func autoencoder(_ name: String, bfl: Bool) throws {
        let reference = try FluxFixtures.reference(name)
        let vae = try FluxFixtures.loader(name, bfl: bfl).autoencoder()
        let latent = try vae.encodeMean(Tensor(named: "vae.in.image", in: reference))
        let encodeError = try relativeError(latent, Tensor(named: "vae.out.latent_mean", in: reference))
        #expect(encodeError.relative <= float32Tolerance, "encode \(name): \(encodeError)")
        let image = try vae.decode(Tensor(named: "vae.in.latent", in: reference))
        let decodeError = try relativeError(image, Tensor(named: "vae.out.image", in: reference))
        #expect(decodeError.relative <= float32Tolerance, "decode \(name): \(decodeError)")
    }

    @Test("CLIP pooled and T5 hidden states for the prompts", arguments: FluxFixtures.configurations)
    func textEncoders(_ name: String) throws {
        let reference = try FluxFixtures.reference(name)
        let loader = try FluxFixtures.loader(name)
        let root = FluxFixtures.folder(name) + "/diffusers"
        let clipTokenizer = try CLIPTokenizer(directory: root + "/tokenizer")
        let t5Tokenizer = try T5Tokenizer(directory: root + "/tokenizer_2")
        let clip = try loader.clip()
        let t5 = try loader.t5()
        let prompts = ["a cat wearing a tiny hat", "Make the sky purple, keep the lighthouse."]
        for (index, prompt) in prompts.enumerated() {
            let pooled = try clip.pooled(tokens: [clipTokenizer(prompt)], device: .cpu)
            let pooledError = try relativeError(pooled, Tensor(named: "prompt.\(index).clip_pooled", in: reference).unsqueezed(0))
            #expect(pooledError.relative <= float32Tolerance, "CLIP \(name) prompt \(index): \(pooledError)")
            let hidden = try t5.encode(tokens: [t5Tokenizer(prompt)], device: .cpu)
            let hiddenError = try relativeError(hidden, Tensor(named: "prompt.\(index).t5", in: reference).unsqueezed(0))
            #expect(hiddenError.relative <= float32Tolerance, "T5 \(name) prompt \(index): \(hiddenError)")
        }
    }
}
