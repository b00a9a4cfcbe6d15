import FluxModel
import Foundation
import ImageCodecs
import Tokenizers
import Torch

/// What to generate.
public struct GenerationRequest: Sendable {
    public var prompt: String
    /// With `trueCFGScale` > 1, a second pass per step steers away from this prompt.
    public var negativePrompt: String?
    public var trueCFGScale: Double
    /// Reference images for an edit (1 to 4); none for text-to-image.
    public var images: [RGBImage]
    public var referenceSizing: ReferenceSizing
    /// Output size in pixels; multiples of 16.
    public var width: Int
    public var height: Int
    public var steps: Int
    /// The distilled guidance the model embeds.
    public var guidance: Double
    /// Image i uses seed + i.
    public var seed: UInt64
    public var count: Int
    /// First-block step caching: the relative-change threshold under which a step reuses the last
    /// full pass's later blocks (see `FirstBlockCache`); nil runs every block of every step.
    public var stepCacheThreshold: Double?

    public init(
        prompt: String, negativePrompt: String? = nil, trueCFGScale: Double = 1, images: [RGBImage] = [],
        referenceSizing: ReferenceSizing = .preferredBucket, width: Int = 1024, height: Int = 1024, steps: Int = 28,
        guidance: Double = 2.5, seed: UInt64 = 0, count: Int = 1, stepCacheThreshold: Double? = nil
    ) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.trueCFGScale = trueCFGScale
        self.images = images
        self.referenceSizing = referenceSizing
        self.width = width
        self.height = height
        self.steps = steps
        self.guidance = guidance
        self.seed = seed
        self.count = count
        self.stepCacheThreshold = stepCacheThreshold
    }

    /// Whether a negative prompt steers a second pass per step.
    public var usesTrueCFG: Bool { trueCFGScale > 1 && negativePrompt != nil }
}

/// Reported after every denoising step.
public struct GenerationProgress: Sendable {
    public let step: Int
    public let totalSteps: Int
    public let elapsedSeconds: Double
    /// The first image's predicted result at latent resolution (1/8 of the output), when asked for.
    public let preview: RGBImage?
    /// The packed latents after this step (batch, tokens, 64), as diffusers' step callback sees them.
    public let latents: Tensor
    /// Steps so far that reused cached later blocks (step caching only).
    public let cachedSteps: Int
}

/// Why a generation did not complete.
public enum PipelineError: Error, CustomStringConvertible, Sendable {
    case invalidRequest(String)
    case cancelled
    case model(ModelError)
    case backend(TorchError)
    case image(ImageCodecError)
    case tokenizer(String)

    public var description: String {
        switch self {
        case .invalidRequest(let message): message
        case .cancelled: "the generation was cancelled"
        case .model(let error): error.description
        case .backend(let error): error.description
        case .image(let error): error.message
        case .tokenizer(let message): message
        }
    }
}

/// FLUX.1 Kontext [dev] text-to-image and image editing, step for step as diffusers'
/// `FluxKontextPipeline`.
public final class KontextPipeline: @unchecked Sendable {
    public let transformer: FluxTransformer
    public let autoencoder: Autoencoder
    public let clip: CLIPTextEncoder
    public let t5: T5TextEncoder
    let clipTokenizer: CLIPTokenizer
    let t5Tokenizer: T5Tokenizer
    public let scheduler: SchedulerConfig
    public let dtype: DType
    public let device: Device

    /// Loads every component; fails before any compute when a file or tensor is wrong.
    public init(loader: ModelLoader) throws(PipelineError) {
        let root = loader.location.root
        do {
            clipTokenizer = try CLIPTokenizer(directory: root + "/tokenizer")
            t5Tokenizer = try T5Tokenizer(directory: root + "/tokenizer_2")
        } catch {
            throw .tokenizer("\(root): \(error)")
        }
        do {
            transformer = try loader.transformer()
            autoencoder = try loader.autoencoder()
            clip = try loader.clip()
            t5 = try loader.t5()
        } catch {
            throw .model(error)
        }
        let schedulerPath = root + "/scheduler/scheduler_config.json"
        if let data = FileManager.default.contents(atPath: schedulerPath) {
            do { scheduler = try JSONDecoder().decode(SchedulerConfig.self, from: data) } catch {
                throw .model(.invalidModel("\(schedulerPath) is not a valid scheduler config: \(error)"))
            }
        } else {
            scheduler = .flux
        }
        dtype = loader.dtype
        device = loader.device
    }

    /// Pixels per side of one transformer token (VAE downsampling x 2x2 patches): 16 for FLUX.
    public var sizeMultiple: Int { autoencoder.config.downsamplingFactor * 2 }

    /// Generates `request.count` images. `previewAt(step)` says after which steps (1-based) the
    /// progress report carries a preview; each costs a small projection and a copy to the host.
    public func generate(
        _ request: GenerationRequest, previewAt: (Int) -> Bool = { _ in false }, isCancelled: @Sendable () -> Bool = { false },
        progress: (GenerationProgress) -> Void = { _ in }
    ) throws(PipelineError) -> [RGBImage] {
        try generate(batch: [request], previewAt: previewAt, isCancelled: isCancelled, progress: progress)[0]
    }

    /// Whether two requests can share forward passes: text-to-image at the same size and step
    /// count, without true CFG (references and negative prompts stay per request).
    public static func canBatch(_ a: GenerationRequest, _ b: GenerationRequest) -> Bool {
        a.width == b.width && a.height == b.height && a.steps == b.steps && a.images.isEmpty && b.images.isEmpty
            && !a.usesTrueCFG && !b.usesTrueCFG && a.stepCacheThreshold == b.stepCacheThreshold
    }

    /// Generates several requests in one batch, each with its own prompt, seeds, count and
    /// guidance; returns each request's images. Previews show the batch's first image.
    public func generate(
        batch requests: [GenerationRequest], previewAt: (Int) -> Bool = { _ in false }, isCancelled: @Sendable () -> Bool = { false },
        progress: (GenerationProgress) -> Void = { _ in }
    ) throws(PipelineError) -> [[RGBImage]] {
        guard let first = requests.first else { return [] }
        for request in requests { try validate(request) }
        guard requests.count == 1 || requests.dropFirst().allSatisfy({ Self.canBatch(first, $0) }) else {
            throw .invalidRequest("only text-to-image requests of the same size and steps, without true CFG, share a batch")
        }
        do {
            return try run(requests, previewAt: previewAt, isCancelled: isCancelled, progress: progress)
        } catch let error as PipelineError {
            throw error
        } catch let error as TorchError {
            throw .backend(error)
        } catch let error as ImageCodecError {
            throw .image(error)
        } catch {
            throw .invalidRequest("\(error)")
        }
    }

    func validate(_ request: GenerationRequest) throws(PipelineError) {
        let multiple = sizeMultiple
        guard request.width > 0, request.height > 0, request.width % multiple == 0, request.height % multiple == 0 else {
            throw .invalidRequest("width and height must be positive multiples of \(multiple), not \(request.width)x\(request.height)")
        }
        guard (1...200).contains(request.steps) else { throw .invalidRequest("steps must be 1 to 200, not \(request.steps)") }
        guard (1...16).contains(request.count) else { throw .invalidRequest("count must be 1 to 16, not \(request.count)") }
        guard request.images.count <= 4 else { throw .invalidRequest("at most 4 reference images, not \(request.images.count)") }
        guard request.guidance.isFinite, request.trueCFGScale.isFinite else { throw .invalidRequest("guidance must be a finite number") }
    }

    private struct TextConditioning {
        let hidden: Tensor
        let pooled: Tensor
    }

    /// T5 hidden states and pooled CLIP embedding for `prompt`, repeated `count` times.
    private func encode(_ prompt: String, count: Int) throws -> TextConditioning {
        let pooled = try clip.pooled(tokens: [clipTokenizer(prompt)], device: device).to(dtype)
        let hidden = try t5.encode(tokens: [t5Tokenizer(prompt)], device: device).to(dtype)
        return TextConditioning(
            hidden: try hidden.expanded([count] + Array(hidden.shape.dropFirst())).contiguous(),
            pooled: try pooled.expanded([count, pooled.shape[1]]).contiguous())
    }

    /// Reference images as packed, scaled latent tokens with their position ids.
    private func encodeReferences(_ images: [RGBImage], sizing: ReferenceSizing, count: Int) throws -> (tokens: Tensor, ids: Tensor)? {
        guard !images.isEmpty else { return nil }
        let factor = autoencoder.config.downsamplingFactor
        var latents = [Tensor]()
        var grids = [(rows: Int, columns: Int)]()
        for image in images {
            let size = sizing.size(width: image.width, height: image.height, multiple: sizeMultiple)
            let resized = try image.resized(width: size.width, height: size.height)
            // (1, H, W, 3) permuted to a (1, 3, H, W) view: channels-last, exactly as the reference feeds its VAE.
            let pixels = try Tensor(resized.normalizedFloats(), shape: [1, size.height, size.width, 3]).permuted([0, 3, 1, 2]).to(dtype, device)
            let mean = try autoencoder.encodeMean(pixels)
            let scaled = try (mean - (autoencoder.config.shiftFactor ?? 0)) * autoencoder.config.scalingFactor
            latents.append(try LatentLayout.pack(scaled))
            grids.append((size.height / factor / 2, size.width / factor / 2))
        }
        var ids = [Float]()
        for (grid, offset) in zip(grids, LatentLayout.referenceOffsets(grids)) {
            ids += LatentLayout.positionIds(rows: grid.rows, columns: grid.columns, index: 1, rowOffset: offset.row, columnOffset: offset.column)
        }
        let tokens = try Tensor.cat(latents, dim: 1)
        return (
            try tokens.expanded([count] + Array(tokens.shape.dropFirst())).contiguous(),
            try Tensor(ids, shape: [ids.count / 3, 3]).to(device)
        )
    }

    private func run(
        _ requests: [GenerationRequest], previewAt: (Int) -> Bool, isCancelled: @Sendable () -> Bool, progress: (GenerationProgress) -> Void
    ) throws -> [[RGBImage]] {
        let started = DispatchTime.now().uptimeNanoseconds
        // Shared by the batch: size, steps, references, true CFG (the first request's).
        let request = requests[0]
        let count = requests.reduce(0) { $0 + $1.count }
        let texts = try requests.map { try encode($0.prompt, count: $0.count) }
        let positive = TextConditioning(
            hidden: try Tensor.cat(texts.map(\.hidden), dim: 0), pooled: try Tensor.cat(texts.map(\.pooled), dim: 0))
        let negative = request.usesTrueCFG ? try encode(request.negativePrompt ?? "", count: count) : nil
        let references = try encodeReferences(request.images, sizing: request.referenceSizing, count: count)

        let factor = autoencoder.config.downsamplingFactor
        let latentHeight = 2 * (request.height / (factor * 2)), latentWidth = 2 * (request.width / (factor * 2))
        let channels = transformer.config.inChannels / 4
        // Each image's noise from its own CPU generator (seed + i), as the reference draws it.
        var noises = [Tensor]()
        for item in requests {
            for index in 0..<item.count {
                let generator = try RandomGenerator(seed: item.seed &+ UInt64(index))
                noises.append(try Tensor.randn([1, channels, latentHeight, latentWidth], generator: generator, dtype: dtype))
            }
        }
        var latents = try LatentLayout.pack(Tensor.cat(noises, dim: 0)).to(device)
        let noiseTokens = latents.shape[1]
        var imageIds = try Tensor(LatentLayout.positionIds(rows: latentHeight / 2, columns: latentWidth / 2), shape: [noiseTokens, 3]).to(device)
        if let references { imageIds = try Tensor.cat([imageIds, references.ids], dim: 0) }
        let textIds = try Tensor.zeros([positive.hidden.shape[1], 3], device: device)

        let schedule = FlowMatchSchedule(steps: request.steps, imageTokens: noiseTokens, config: scheduler)
        let guidanceValues = requests.flatMap { Array(repeating: Float($0.guidance), count: $0.count) }
        let guidance = transformer.config.guidanceEmbeds ? try Tensor(guidanceValues, shape: [count]).to(device) : nil
        let rotary = try transformer.rotaryTable(ids: Tensor.cat([textIds, imageIds], dim: 0))
        // One cache per conditioning: the negative pass of true CFG changes differently.
        let positiveCache = request.stepCacheThreshold.map { FirstBlockCache(threshold: $0) }
        let negativeCache = negative == nil ? nil : request.stepCacheThreshold.map { FirstBlockCache(threshold: $0) }
        var previewer: LatentPreview?
        for step in 0..<request.steps {
            if isCancelled() { throw PipelineError.cancelled }
            let input = try references.map { try Tensor.cat([latents, $0.tokens], dim: 1) } ?? latents
            let timestep = try (Tensor.full([count], value: Double(schedule.timesteps[step]), dtype: .float32, device: device)
                .to(latents.dtype) / 1000)
            func velocity(_ text: TextConditioning, cache: FirstBlockCache?) throws -> Tensor {
                let conditioning = try transformer.conditioning(timestep: timestep, guidance: guidance, pooled: text.pooled)
                // The first and last steps always run every block.
                let stepCache = step == 0 || step == request.steps - 1 ? nil : cache
                let output = try transformer.forward(hidden: input, encoder: text.hidden, conditioning: conditioning, rotary: rotary, cache: stepCache)
                return try output.narrowed(dim: 1, start: 0, length: noiseTokens)
            }
            var prediction = try velocity(positive, cache: positiveCache)
            if let negative {
                let away = try velocity(negative, cache: negativeCache)
                prediction = try away + (prediction - away) * request.trueCFGScale
            }
            // Euler: x += (sigma_next - sigma) * v, in float32 as the scheduler does.
            let delta = schedule.sigmas[step + 1] - schedule.sigmas[step]
            let scaled = try prediction * Tensor.full([], value: Double(delta), dtype: .float32, device: device)
            latents = try (latents.to(.float32) + scaled).to(prediction.dtype)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            var preview: RGBImage?
            if previewAt(step + 1) {
                if previewer == nil { previewer = try LatentPreview(channels: channels, device: device) }
                preview = try previewer?.image(
                    latents: latents, velocity: prediction, sigma: schedule.sigmas[step + 1], height: latentHeight, width: latentWidth)
            }
            progress(GenerationProgress(
                step: step + 1, totalSteps: request.steps, elapsedSeconds: elapsed, preview: preview, latents: latents,
                cachedSteps: positiveCache?.cachedPasses ?? 0))
        }
        if isCancelled() { throw PipelineError.cancelled }
        let unpacked = try LatentLayout.unpack(latents, height: latentHeight, width: latentWidth)
        let decodedInput = try unpacked / autoencoder.config.scalingFactor + (autoencoder.config.shiftFactor ?? 0)
        var images = [[RGBImage]]()
        var index = 0
        for item in requests {
            var own = [RGBImage]()
            for _ in 0..<item.count {
                let decoded = try autoencoder.decode(decodedInput.narrowed(dim: 0, start: index, length: 1))
                let values = try decoded.to(.float32).to(.cpu).contiguous().toArray(of: Float.self)
                own.append(try RGBImage(normalizedPlanarFloats: values, width: request.width, height: request.height))
                index += 1
            }
            images.append(own)
        }
        return images
    }
}

/// A cheap look at where the first image is heading: the predicted clean latent (x - sigma v)
/// projected to RGB by a fixed linear map instead of the VAE decoder. The map is ComfyUI's for
/// FLUX previews (`latent_formats.Flux`); other latent widths get no preview.
struct LatentPreview {
    static let rgbFactors: [Float] = [
        -0.0346, 0.0244, 0.0681, 0.0034, 0.0210, 0.0687, 0.0275, -0.0668, -0.0433, -0.0174, 0.0160, 0.0617,
        0.0859, 0.0721, 0.0329, 0.0004, 0.0383, 0.0115, 0.0405, 0.0861, 0.0915, -0.0236, -0.0185, -0.0259,
        -0.0245, 0.0250, 0.1180, 0.1008, 0.0755, -0.0421, -0.0515, 0.0201, 0.0011, 0.0428, -0.0012, -0.0036,
        0.0817, 0.0765, 0.0749, -0.1264, -0.0522, -0.1103, -0.0280, -0.0881, -0.0499, -0.1262, -0.0982, -0.0778,
    ]
    static let rgbBias: [Float] = [-0.0329, -0.0718, -0.0851]

    let factors: Tensor
    let bias: Tensor

    /// Nil unless the latent has the 16 channels the map is for.
    init?(channels: Int, device: Device) throws {
        guard channels * 3 == Self.rgbFactors.count else { return nil }
        factors = try Tensor(Self.rgbFactors, shape: [channels, 3]).to(device)
        bias = try Tensor(Self.rgbBias, shape: [1, 1, 3]).to(device)
    }

    func image(latents: Tensor, velocity: Tensor, sigma: Float, height: Int, width: Int) throws -> RGBImage {
        let first = try latents.narrowed(dim: 0, start: 0, length: 1).to(.float32)
        let clean = try first - velocity.narrowed(dim: 0, start: 0, length: 1).to(.float32) * Double(sigma)
        let latent = try LatentLayout.unpack(clean, height: height, width: width)
        let rgb = try (latent.permuted([0, 2, 3, 1]).matmul(factors).reshaped([height, width, 3]) + bias)
            .permuted([2, 0, 1]).contiguous().to(.cpu).toArray(of: Float.self)
        return try RGBImage(normalizedPlanarFloats: rgb, width: width, height: height)
    }
}
