import ArgumentParser
import FluxModel
import Foundation
import ImageCodecs
import KontextPipeline
import Safetensors
import Torch

/// Options that pick and load a model, shared by `serve`, `generate` and `edit`.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "A diffusers folder of FLUX.1-Kontext-dev, or its Hugging Face cache folder. Default: $KONTEXT_MODEL, else the Hugging Face cache.",
        valueName: "dir"))
    var model: String?

    @Option(help: ArgumentHelp("A BFL single-file transformer (flux1-kontext-dev.safetensors) to use instead of transformer/.", valueName: "file"))
    var transformer: String?

    @Option(help: ArgumentHelp("A BFL single-file VAE (ae.safetensors) to use instead of vae/.", valueName: "file"))
    var vae: String?

    @Option(help: "Compute type: bfloat16, float16 or float32.")
    var dtype = "bfloat16"

    @Option(help: "cpu, cuda or cuda:N. Default: cuda when a GPU is available, else cpu.")
    var device: String?

    @OptionGroup var backend: BackendOptions

    /// Loads the tensor backend and describes what to load, on which device, in which type.
    func loader() throws -> ModelLoader {
        let runtime = try backend.load()
        guard let type = DType(name: dtype), [.float32, .bfloat16, .float16].contains(type) else {
            throw ValidationError("--dtype must be float32, bfloat16 or float16, not \(dtype)")
        }
        var place: Device = runtime.cudaAvailable ? .cuda(0) : .cpu
        if let device {
            guard let chosen = Device(name: device == "cuda" ? "cuda:0" : device) else {
                throw ValidationError("--device must be cpu, cuda or cuda:N, not \(device)")
            }
            place = chosen
        }
        let location = try ModelLocation(path: try resolvedModelPath(model), transformerFile: transformer, vaeFile: vae)
        return ModelLoader(location: location, dtype: type, device: place)
    }
}

/// No weights where the server and CLI look for them: a message, not a usage error.
struct MissingModel: Error, CustomStringConvertible {
    let description: String
}

/// --model, else $KONTEXT_MODEL, else the Hugging Face cache; otherwise how to get the weights.
func resolvedModelPath(_ explicit: String?) throws -> String {
    if let explicit { return explicit }
    let environment = ProcessInfo.processInfo.environment
    if let path = environment["KONTEXT_MODEL"], !path.isEmpty { return path }
    let hub = (environment["HF_HOME"].map { $0 + "/hub" } ?? environment["HOME"].map { $0 + "/.cache/huggingface/hub" }) ?? ""
    let cached = hub + "/models--black-forest-labs--FLUX.1-Kontext-dev"
    if FileManager.default.fileExists(atPath: cached) { return cached }
    throw MissingModel(description: """
        no model: pass --model DIR or set KONTEXT_MODEL. To get the weights, accept the licence at \
        https://huggingface.co/black-forest-labs/FLUX.1-Kontext-dev, then run \
        `huggingface-cli download black-forest-labs/FLUX.1-Kontext-dev` (into the cache, found automatically) \
        or add `--local-dir DIR`.
        """)
}

/// Options shared by `generate` and `edit`.
struct SamplingOptions: ParsableArguments {
    @Option(help: "What to draw, or how to change the image.")
    var prompt: String

    @Option(help: "With --true-cfg above 1, a second pass per step steers away from this.")
    var negativePrompt: String?

    @Option(help: "True classifier-free guidance scale (needs --negative-prompt; doubles the work).")
    var trueCfg = 1.0

    @Option(help: "Random seed; image i of --count uses seed + i. Default: random.")
    var seed: UInt64?

    @Option(help: "Output size WxH, multiples of 16.")
    var size: String?

    @Option(help: "Denoising steps.")
    var steps = 28

    @Option(help: "Distilled guidance scale.")
    var guidance = 2.5

    @Option(help: "Number of images.")
    var count = 1

    @Option(name: .shortAndLong, help: "Output file (.png, .jpg, .webp, .gif, .avif); with --count > 1, NAME-1.png, NAME-2.png, ...")
    var output: String

    @Option(help: "Quality 0-100 for JPEG, WebP and AVIF output.")
    var quality = 90

    func parsedSize() throws -> (width: Int, height: Int)? {
        guard let size else { return nil }
        let sides = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard sides.count == 2, sides.allSatisfy({ $0 >= 16 && $0 % 16 == 0 }) else {
            throw ValidationError("--size takes WxH in multiples of 16, e.g. 1024x768, not \(size)")
        }
        return (sides[0], sides[1])
    }
}

/// Runs a request with a progress bar on a terminal and writes the images.
func runGeneration(_ request: GenerationRequest, loader: ModelLoader, sampling: SamplingOptions) throws {
    let format = try outputFormat(for: sampling.output)
    let loadStart = Date()
    let pipeline = try KontextPipeline(loader: loader)
    let report = ProgressReporter(total: request.steps)
    report.note(String(format: "loaded %@ (%@, %@) in %.1f s", loader.location.root, "\(loader.dtype)", "\(loader.device)", Date().timeIntervalSince(loadStart)))
    let start = Date()
    let images = try pipeline.generate(request, progress: { report.update($0) })
    report.finish()
    for (index, image) in images.enumerated() {
        let path = images.count == 1 ? sampling.output : numbered(sampling.output, index + 1)
        let bytes = try ImageEncoder.encode(image, as: format, options: EncodeOptions(quality: sampling.quality))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        print("\(path): \(image.sizeDescription), seed \(request.seed &+ UInt64(index))")
    }
    print(String(format: "%d image(s) in %.2f s (%.3f s/step)", images.count, Date().timeIntervalSince(start),
                 Date().timeIntervalSince(start) / Double(request.steps)))
}

func outputFormat(for path: String) throws -> ImageFormat {
    let name = URL(fileURLWithPath: path).pathExtension.lowercased()
    guard let format = ImageFormat(rawValue: name == "jpg" ? "jpeg" : name) else {
        throw ValidationError("the output must end in .png, .jpg, .webp, .gif or .avif, not \(path)")
    }
    return format
}

func numbered(_ path: String, _ number: Int) -> String {
    let url = URL(fileURLWithPath: path)
    return url.deletingPathExtension().path + "-\(number)." + url.pathExtension
}

/// A one-line progress bar on stderr when it is a terminal; one line per step otherwise.
final class ProgressReporter {
    let total: Int
    let isTerminal = isatty(STDERR_FILENO) != 0

    init(total: Int) { self.total = total }

    func note(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

    func update(_ progress: GenerationProgress) {
        let perStep = progress.elapsedSeconds / Double(progress.step)
        let line = String(format: "step %d/%d  %.2f s/step  %.1f s", progress.step, total, perStep, progress.elapsedSeconds)
        if isTerminal {
            let width = 30
            let filled = width * progress.step / max(total, 1)
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(line)".utf8))
        } else {
            note(line)
        }
    }

    func finish() { if isTerminal { note("") } }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate images from a prompt (text-to-image).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        let size = try sampling.parsedSize() ?? (1024, 1024)
        let request = GenerationRequest(
            prompt: sampling.prompt, negativePrompt: sampling.negativePrompt, trueCFGScale: sampling.trueCfg, width: size.width,
            height: size.height, steps: sampling.steps, guidance: sampling.guidance, seed: sampling.seed ?? .random(in: 0...UInt64(UInt32.max)),
            count: sampling.count)
        try runGeneration(request, loader: model.loader(), sampling: sampling)
    }
}

struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Edit images: 1 to 4 reference images and a prompt.",
        discussion: "Without --size the output keeps the first image's size, rounded down to multiples of 16 (at most 2048 a side).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    @Option(name: .customLong("image"), help: "A reference image (PNG, JPEG, WebP); repeat for up to 4.")
    var images: [String] = []

    @Option(help: "How references are sized before encoding: auto (nearest preferred Kontext resolution) or match_input.")
    var referenceSizing = "auto"

    func run() throws {
        guard (1...4).contains(images.count) else { throw ValidationError("edit takes 1 to 4 --image files, not \(images.count)") }
        guard let sizing = ReferenceSizing(rawValue: referenceSizing) else {
            throw ValidationError("--reference-sizing must be auto or match_input, not \(referenceSizing)")
        }
        let decoded = try images.map { path in
            try ImageDecoder.decode(Data(contentsOf: URL(fileURLWithPath: path)), accepting: [.png, .jpeg, .webp])
        }
        let first = decoded[0]
        let scale = min(1, 2048 / Double(max(first.width, first.height)))
        let size = try sampling.parsedSize()
            ?? (max(16, Int(Double(first.width) * scale) / 16 * 16), max(16, Int(Double(first.height) * scale) / 16 * 16))
        let request = GenerationRequest(
            prompt: sampling.prompt, negativePrompt: sampling.negativePrompt, trueCFGScale: sampling.trueCfg, images: decoded,
            referenceSizing: sizing, width: size.0, height: size.1, steps: sampling.steps, guidance: sampling.guidance,
            seed: sampling.seed ?? .random(in: 0...UInt64(UInt32.max)), count: sampling.count)
        try runGeneration(request, loader: model.loader(), sampling: sampling)
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a model's components with their files, dtypes and parameter counts (reads headers only).")

    @Option(help: ArgumentHelp("A diffusers folder of FLUX.1-Kontext-dev, or its Hugging Face cache folder. Default: $KONTEXT_MODEL, else the Hugging Face cache.", valueName: "dir"))
    var model: String?

    func run() throws {
        let location = try ModelLocation(path: try resolvedModelPath(model))
        print("model: \(location.root)")
        var components = ["transformer", "vae", "text_encoder", "text_encoder_2"].map { ($0, location.root + "/" + $0) }
        for file in ["flux1-kontext-dev.safetensors", "ae.safetensors"] where FileManager.default.fileExists(atPath: location.root + "/" + file) {
            components.append(("\(file) (BFL)", location.root + "/" + file))
        }
        for (name, path) in components {
            let label = name.padding(toLength: 34, withPad: " ", startingAt: 0)
            guard FileManager.default.fileExists(atPath: path) else {
                print("\(label)missing")
                continue
            }
            let checkpoint = try SafetensorsCheckpoint(path: path)
            var parameters = 0, bytes = 0
            var dtypes = [String: Int]()
            for tensorName in checkpoint.names {
                let (_, info) = try checkpoint.locate(tensorName)
                parameters += info.elementCount
                bytes += info.dataRange.count
                dtypes[info.dtype.rawValue, default: 0] += info.elementCount
            }
            let types = dtypes.sorted { $0.value > $1.value }.map(\.key).joined(separator: "+")
            print(label + "\(checkpoint.names.count) tensors in \(checkpoint.files.count) file(s), \(parameters.formatted()) parameters, "
                + "\(types), " + String(format: "%.2f GB", Double(bytes) / 1e9))
        }
        let loader = ModelLoader(location: location, dtype: .float32, device: .cpu)
        let transformer = try loader.transformerConfig()
        print("transformer config: \(transformer.numLayers) double + \(transformer.numSingleLayers) single blocks, "
            + "\(transformer.numAttentionHeads) heads x \(transformer.attentionHeadDim), guidance embedding \(transformer.guidanceEmbeds ? "on" : "off")")
        let vae = try loader.autoencoderConfig()
        print("vae config: \(vae.latentChannels) latent channels, \(vae.downsamplingFactor)x downsampling, scaling \(vae.scalingFactor), shift \(vae.shiftFactor ?? 0)")
    }
}
