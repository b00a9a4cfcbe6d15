import Foundation
import Testing

@testable import FluxModel

/// A scratch copy of tiny-a's diffusers folder: components linked, `transformer/` copied so a test
/// can damage it.
struct DamagedCheckpoint {
    let root: String

    init() throws {
        let manager = FileManager.default
        root = NSTemporaryDirectory() + "kontext-damaged-\(UUID().uuidString)"
        let source = FluxFixtures.folder("tiny-a") + "/diffusers"
        try manager.createDirectory(atPath: root, withIntermediateDirectories: true)
        for entry in try manager.contentsOfDirectory(atPath: source) where entry != "transformer" {
            try manager.createSymbolicLink(atPath: root + "/" + entry, withDestinationPath: source + "/" + entry)
        }
        try manager.copyItem(atPath: source + "/transformer", toPath: root + "/transformer")
    }

    var transformer: String { root + "/transformer" }

    func shards() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: transformer).filter { $0.hasSuffix(".safetensors") }.sorted()
    }

    func editConfig(_ change: (inout [String: Any]) -> Void) throws {
        let path = transformer + "/config.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        change(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
    }

    func loadTransformer() throws -> FluxTransformer {
        try ModelLoader(location: ModelLocation(path: root), dtype: .float32, device: .cpu).transformer()
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// The message of the `ModelError` that `body` throws.
func modelErrorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as ModelError {
        return error.description
    } catch {
        return "not a ModelError: \(error)"
    }
}

@Suite("Loading errors name the problem")
struct LoadingErrorTests {
    @Test func missingFolderSaysHowToGetTheWeights() {
        let message = modelErrorMessage { _ = try ModelLocation(path: "/nonexistent/kontext") }
        #expect(message?.contains("is not a folder") == true)
        #expect(message?.contains("huggingface-cli download black-forest-labs/FLUX.1-Kontext-dev") == true)
    }

    @Test func folderWithoutModelIndexIsRefused() throws {
        let message = modelErrorMessage { _ = try ModelLocation(path: FluxFixtures.folder("tiny-a")) }
        #expect(message?.contains("has no model_index.json") == true, "\(message ?? "no error")")
    }

    @Test func huggingFaceCacheFolderResolvesToItsSnapshot() throws {
        let manager = FileManager.default
        let repository = NSTemporaryDirectory() + "models--black-forest-labs--FLUX.1-Kontext-dev-\(UUID().uuidString)"
        defer { try? manager.removeItem(atPath: repository) }
        try manager.createDirectory(atPath: repository + "/snapshots", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: repository + "/refs", withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: repository + "/snapshots/abc123", withDestinationPath: FluxFixtures.folder("tiny-a") + "/diffusers")
        try "abc123\n".write(toFile: repository + "/refs/main", atomically: true, encoding: .utf8)
        let location = try ModelLocation(path: repository)
        #expect(location.root == repository + "/snapshots/abc123")
        #expect(try ModelLoader(location: location, dtype: .float32, device: .cpu).transformer().config.numLayers == 1)
    }

    @Test func missingShardNamesTheFile() throws {
        let damaged = try DamagedCheckpoint()
        defer { damaged.remove() }
        let shard = try damaged.shards()[1]
        try FileManager.default.removeItem(atPath: damaged.transformer + "/" + shard)
        let message = modelErrorMessage { _ = try damaged.loadTransformer() }
        #expect(message?.contains(shard) == true, "\(message ?? "no error")")
    }

    @Test func corruptShardNamesTheFile() throws {
        let damaged = try DamagedCheckpoint()
        defer { damaged.remove() }
        let shard = try damaged.shards()[0]
        let path = damaged.transformer + "/" + shard
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        let message = modelErrorMessage { _ = try damaged.loadTransformer() }
        #expect(message?.contains(shard) == true, "\(message ?? "no error")")
    }

    @Test func shapesThatDoNotMatchTheConfigAreListedByName() throws {
        let damaged = try DamagedCheckpoint()
        defer { damaged.remove() }
        try damaged.editConfig { config in
            config["joint_attention_dim"] = 48
            config["num_layers"] = 2
            config["num_single_layers"] = 1
        }
        var problems = [String]()
        do {
            _ = try damaged.loadTransformer()
        } catch let error as ModelError {
            if case .weightMismatch(_, _, let listed) = error { problems = listed }
        }
        // Every problem at once, each by name: one wrong shape, a block too many, a block too few.
        #expect(problems.contains("wrong shape: context_embedder.weight is [32, 32], the config needs [32, 48]"), "\(problems)")
        #expect(problems.contains("missing: transformer_blocks.1.attn.to_q.weight [32, 32]"), "\(problems)")
        #expect(problems.contains("unexpected: single_transformer_blocks.1.proj_out.weight"), "\(problems)")
        #expect(problems.count == 1 + 32 + 14)
    }

    @Test func impossibleConfigIsRefused() throws {
        let damaged = try DamagedCheckpoint()
        defer { damaged.remove() }
        try damaged.editConfig { $0["axes_dims_rope"] = [4, 4, 4] }
        let message = modelErrorMessage { _ = try damaged.loadTransformer() }
        #expect(message?.contains("axes_dims_rope") == true, "\(message ?? "no error")")
    }
}
