import Foundation
import Safetensors
import Torch

/// Where the parts of a FLUX.1 Kontext checkpoint are on disk.
///
/// Accepts a diffusers folder (`model_index.json`), a Hugging Face cache folder
/// (`models--black-forest-labs--FLUX.1-Kontext-dev`, or one of its `snapshots/*`), and BFL single
/// files for the transformer and the VAE, either given explicitly or found in the folder's root
/// (the Hugging Face repository ships both layouts).
public struct ModelLocation: Sendable, Equatable {
    /// The diffusers folder: text encoders, tokenizers, configs, and by default transformer and VAE.
    public let root: String
    /// A BFL single-file transformer used instead of `transformer/`.
    public let transformerFile: String?
    /// A BFL (LDM) single-file VAE used instead of `vae/`.
    public let vaeFile: String?

    public init(path: String, transformerFile: String? = nil, vaeFile: String? = nil) throws(ModelError) {
        let root = try Self.diffusersRoot(path)
        self.root = root
        self.transformerFile = transformerFile
        self.vaeFile = vaeFile
        for file in [transformerFile, vaeFile].compactMap({ $0 }) where !FileManager.default.fileExists(atPath: file) {
            throw .invalidModel("\(file) does not exist")
        }
    }

    /// The folder holding `model_index.json`, resolving Hugging Face cache layouts.
    static func diffusersRoot(_ path: String) throws(ModelError) -> String {
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            throw .invalidModel("\(path) is not a folder. Point --model at a diffusers folder of FLUX.1-Kontext-dev "
                + "(huggingface-cli download black-forest-labs/FLUX.1-Kontext-dev --local-dir DIR) or at its Hugging Face cache folder.")
        }
        if manager.fileExists(atPath: path + "/model_index.json") { return path }
        // A cache repository folder: refs/main names the snapshot; otherwise the only or newest one.
        let snapshots = path + "/snapshots"
        if let entries = try? manager.contentsOfDirectory(atPath: snapshots), !entries.isEmpty {
            let main = (try? String(contentsOfFile: path + "/refs/main", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            let chosen = main.flatMap { entries.contains($0) ? $0 : nil } ?? entries.sorted().last!
            let snapshot = snapshots + "/" + chosen
            if manager.fileExists(atPath: snapshot + "/model_index.json") { return snapshot }
            throw .invalidModel("\(snapshot) has no model_index.json: the download is incomplete")
        }
        throw .invalidModel("\(path) has no model_index.json: not a diffusers folder or Hugging Face cache folder of FLUX.1-Kontext-dev")
    }

    func component(_ name: String) -> String { root + "/" + name }
}

/// Reads the components of a Kontext checkpoint, checking every tensor before loading it.
public struct ModelLoader: Sendable {
    public let location: ModelLocation
    public let dtype: DType
    public let device: Device

    public init(location: ModelLocation, dtype: DType, device: Device) {
        self.location = location
        self.dtype = dtype
        self.device = device
    }

    public func transformerConfig() throws(ModelError) -> FluxTransformerConfig {
        let path = location.component("transformer/config.json")
        if FileManager.default.fileExists(atPath: path) { return try readConfig(FluxTransformerConfig.self, at: path) }
        return .kontextDev
    }

    public func autoencoderConfig() throws(ModelError) -> AutoencoderConfig {
        let path = location.component("vae/config.json")
        if FileManager.default.fileExists(atPath: path) { return try readConfig(AutoencoderConfig.self, at: path) }
        return .flux
    }

    /// - Parameter fp8: store the blocks' linear layers in fp8 (e4m3, per-row scales).
    public func transformer(fp8: Bool = false) throws(ModelError) -> FluxTransformer {
        let config = try transformerConfig()
        if let file = location.transformerFile {
            let checkpoint = try openCheckpoint(file)
            let layout: any WeightLayout = checkpoint.names.contains { $0.hasPrefix("double_blocks.") }
                ? BFLTransformerLayout(config: config) : DiffusersLayout()
            return try loadModel("transformer", checkpoint: checkpoint, layout: layout, dtype: dtype, device: device) { scope throws(ModelError) in
                try FluxTransformer(scope, config: config, fp8: fp8)
            }
        }
        return try loadModel(
            "transformer", checkpoint: openCheckpoint(location.component("transformer")), layout: DiffusersLayout(), dtype: dtype,
            device: device
        ) { scope throws(ModelError) in try FluxTransformer(scope, config: config, fp8: fp8) }
    }

    public func autoencoder() throws(ModelError) -> Autoencoder {
        let config = try autoencoderConfig()
        let checkpoint = try openCheckpoint(location.vaeFile ?? location.component("vae"))
        let layout: any WeightLayout = checkpoint.names.contains { $0.hasPrefix("encoder.down.") }
            ? LDMAutoencoderLayout(config: config) : DiffusersLayout()
        return try loadModel("vae", checkpoint: checkpoint, layout: layout, dtype: dtype, device: device) { scope throws(ModelError) in
            try Autoencoder(scope, config: config)
        }
    }

    public func clip() throws(ModelError) -> CLIPTextEncoder {
        let config = try readConfig(CLIPTextConfig.self, at: location.component("text_encoder/config.json"))
        return try loadModel(
            "text_encoder", checkpoint: openCheckpoint(location.component("text_encoder")),
            // Older exports nest everything under text_model. and keep position_ids buffers.
            layout: DiffusersLayout(optionalPrefix: "text_model."), dtype: dtype, device: device,
            ignoring: { $0.hasSuffix("position_ids") }
        ) { scope throws(ModelError) in try CLIPTextEncoder(scope, config: config) }
    }

    public func t5() throws(ModelError) -> T5TextEncoder {
        let config = try readConfig(T5Config.self, at: location.component("text_encoder_2/config.json"))
        return try loadModel(
            "text_encoder_2", checkpoint: openCheckpoint(location.component("text_encoder_2")),
            // The embedding is tied: some files store it as encoder.embed_tokens as well or instead.
            layout: DiffusersLayout(aliases: ["shared.weight": "encoder.embed_tokens.weight"]), dtype: dtype, device: device,
            ignoring: { $0 == "encoder.embed_tokens.weight" }
        ) { scope throws(ModelError) in try T5TextEncoder(scope, config: config) }
    }
}
