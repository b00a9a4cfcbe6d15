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

    @OptionGroup var model: ModelOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed at start).")
    var port = 8080

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

    func run() async throws {
        var logger = Logger(label: "kontext")
        logger.logLevel = .info
        let loader = try model.loader()
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
        logger.info("loading \(loader.location.root) (\(loader.dtype), \(loader.device)); API keys: \(keys.isEmpty ? "none, the server is open" : "\(keys.count) configured")")
        try await server.run(
            loadEngine: { try KontextPipeline(loader: loader) },
            onListening: { port in
                // Unbuffered, so scripts waiting for this line see it at once.
                FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)\n".utf8))
            })
    }
}
