import ArgumentParser
import FluxModel
import Foundation
import KontextPipeline
import KontextServer
import Logging
import Torch

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the OpenAI-compatible image API (generations, edits, models, stored images).",
        discussion: """
            The model comes from --model, else $KONTEXT_MODEL, else the Hugging Face cache \
            (~/.cache/huggingface/hub/models--black-forest-labs--FLUX.1-Kontext-dev). /healthz answers at once, \
            /readyz once the model is loaded.
            """)

    @Option(help: ArgumentHelp("Diffusers folder or Hugging Face cache folder of FLUX.1-Kontext-dev.", valueName: "dir"))
    var model: String?

    @Option(help: ArgumentHelp("A BFL single-file transformer to use instead of transformer/.", valueName: "file"))
    var transformer: String?

    @Option(help: ArgumentHelp("A BFL single-file VAE to use instead of vae/.", valueName: "file"))
    var vae: String?

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed at start).")
    var port = 8080

    @Option(help: "cpu, cuda or cuda:N. Default: cuda when a GPU is available, else cpu.")
    var device: String?

    @Option(help: "Compute type: bfloat16, float16 or float32.")
    var dtype = "bfloat16"

    @Option(help: ArgumentHelp("Where generated images are stored. Default: $KONTEXT_DATA, else ./kontext-data.", valueName: "dir"))
    var dataDir: String?

    @Option(help: ArgumentHelp("Base of the image URLs in responses (default: from the request's Host).", valueName: "url"))
    var publicURL: String?

    @Option(name: .customLong("api-key"), help: "Require this API key (repeat for several). Without keys the server is open.")
    var apiKeys: [String] = []

    @Option(help: ArgumentHelp("A file of API keys, one per line.", valueName: "file"))
    var apiKeysFile: String?

    @Option(help: "Requests allowed to wait for the engine; more get 429 queue_full.")
    var queue = 4

    @Option(help: "Most images one batched forward pass may hold (waiting text-to-image requests of one size and step count share it).")
    var maxBatch = 4

    @Flag(help: "Let job webhooks call private, loopback and link-local addresses.")
    var allowPrivateWebhooks = false

    @Option(help: "Seconds a request may take before it is abandoned.")
    var deadline = 600

    @Option(help: "Seconds a stored image stays available.")
    var imageTtl = 3600

    @OptionGroup var backend: BackendOptions

    func run() async throws {
        var logger = Logger(label: "kontext")
        logger.logLevel = .info
        let location = try ModelLocation(path: try modelPath(), transformerFile: transformer, vaeFile: vae)
        let runtime = try backend.load()
        let place = try resolvedDevice(cudaAvailable: runtime.cudaAvailable)
        guard let type = DType(name: dtype), [.float32, .bfloat16, .float16].contains(type) else {
            throw ValidationError("--dtype must be float32, bfloat16 or float16, not \(dtype)")
        }
        var keys = apiKeys
        if let apiKeysFile {
            let text = try String(contentsOfFile: apiKeysFile, encoding: .utf8)
            keys += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        var configuration = ServerConfiguration(
            dataDirectory: dataDir ?? ProcessInfo.processInfo.environment["KONTEXT_DATA"] ?? FileManager.default.currentDirectoryPath + "/kontext-data")
        configuration.host = host
        configuration.port = port
        configuration.publicURL = publicURL
        configuration.apiKeys = keys
        configuration.queueCapacity = queue
        configuration.maxBatchImages = maxBatch
        configuration.allowPrivateWebhooks = allowPrivateWebhooks
        configuration.deadline = .seconds(deadline)
        configuration.imageTimeToLive = .seconds(imageTtl)
        let server = try KontextServer(configuration: configuration, logger: logger)
        logger.info("loading \(location.root) (\(type), \(place)); API keys: \(keys.isEmpty ? "none, the server is open" : "\(keys.count) configured")")
        let loader = ModelLoader(location: location, dtype: type, device: place)
        try await server.run(
            loadEngine: { try KontextPipeline(loader: loader) },
            onListening: { port in
                // Unbuffered, so scripts waiting for this line see it at once.
                FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)\n".utf8))
            })
    }

    /// --model, $KONTEXT_MODEL, or the Hugging Face cache; otherwise how to get the weights.
    func modelPath() throws -> String {
        if let model { return model }
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["KONTEXT_MODEL"], !path.isEmpty { return path }
        let hub = (environment["HF_HOME"].map { $0 + "/hub" } ?? environment["HOME"].map { $0 + "/.cache/huggingface/hub" }) ?? ""
        let cached = hub + "/models--black-forest-labs--FLUX.1-Kontext-dev"
        if FileManager.default.fileExists(atPath: cached) { return cached }
        throw ValidationError("""
            no model: pass --model DIR or set KONTEXT_MODEL. To get the weights, accept the licence at \
            https://huggingface.co/black-forest-labs/FLUX.1-Kontext-dev, then run \
            `huggingface-cli download black-forest-labs/FLUX.1-Kontext-dev` (into the cache, found automatically) \
            or add `--local-dir DIR`.
            """)
    }

    func resolvedDevice(cudaAvailable: Bool) throws -> Device {
        guard let device else { return cudaAvailable ? .cuda(0) : .cpu }
        guard let place = Device(name: device == "cuda" ? "cuda:0" : device) else {
            throw ValidationError("--device must be cpu, cuda or cuda:N, not \(device)")
        }
        return place
    }
}
