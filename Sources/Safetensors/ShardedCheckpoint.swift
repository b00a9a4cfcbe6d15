import Foundation

/// The tensors of a checkpoint stored as one safetensors file or as shards listed by an index
/// (`*.safetensors.index.json` with a `weight_map` from tensor name to shard file name).
public final class SafetensorsCheckpoint: Sendable {
    /// Every tensor name, mapped to the file that holds it.
    private let locations: [String: SafetensorsFile]
    /// The files in the order they were opened.
    public let files: [SafetensorsFile]
    /// Where the checkpoint was opened from (a file, an index or a folder), for messages.
    public let source: String

    /// Opens `path`: a `.safetensors` file, an index json, or a folder holding exactly one index
    /// json or a set of `.safetensors` files (all of them are then read).
    public init(path: String) throws(SafetensorsError) {
        source = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .io(path: path, message: "no such file or folder")
        }
        var shardPaths: [String] = []
        var expected: (index: String, weightMap: [String: String])?
        if isDirectory.boolValue {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            } catch {
                throw .io(path: path, message: error.localizedDescription)
            }
            let indexes = names.filter { $0.hasSuffix(".safetensors.index.json") }
            if indexes.count > 1 {
                throw .malformed(path: path, reason: "folder holds several index files: \(indexes.joined(separator: ", "))")
            } else if let index = indexes.first {
                expected = try Self.readIndex(path + "/" + index)
            } else {
                shardPaths = names.filter { $0.hasSuffix(".safetensors") }.map { path + "/" + $0 }
                guard !shardPaths.isEmpty else { throw .io(path: path, message: "folder holds no .safetensors file") }
            }
        } else if path.hasSuffix(".json") {
            expected = try Self.readIndex(path)
        } else {
            shardPaths = [path]
        }
        if let expected {
            let folder = URL(fileURLWithPath: expected.index).deletingLastPathComponent().path
            shardPaths = Set(expected.weightMap.values).sorted().map { folder + "/" + $0 }
        }
        var files: [SafetensorsFile] = []
        var locations: [String: SafetensorsFile] = [:]
        for shard in shardPaths {
            let file = try SafetensorsFile(path: shard)
            for name in file.names {
                if let other = locations[name] {
                    throw .malformed(path: shard, reason: "tensor '\(name)' is also in \(other.path)")
                }
                locations[name] = file
            }
            files.append(file)
        }
        if let expected {
            for (name, shard) in expected.weightMap.sorted(by: { $0.key < $1.key }) {
                guard let file = locations[name], URL(fileURLWithPath: file.path).lastPathComponent == shard else {
                    throw .malformed(path: expected.index, reason: "weight_map puts '\(name)' in \(shard), which does not hold it")
                }
            }
        }
        self.files = files
        self.locations = locations
    }

    public var names: [String] { locations.keys.sorted() }

    public func contains(_ name: String) -> Bool { locations[name] != nil }

    /// The file holding `name` and its entry.
    public func locate(_ name: String) throws(SafetensorsError) -> (file: SafetensorsFile, info: SafetensorsTensorInfo) {
        guard let file = locations[name], let info = file.info(name) else {
            throw .missingTensor(path: source, tensor: name)
        }
        return (file, info)
    }

    /// Reads an index's `weight_map` (tensor name to shard file name).
    private static func readIndex(_ indexPath: String) throws(SafetensorsError) -> (index: String, weightMap: [String: String]) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: indexPath))
        } catch {
            throw .io(path: indexPath, message: error.localizedDescription)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let weightMap = object["weight_map"] as? [String: String], !weightMap.isEmpty
        else {
            throw .malformed(path: indexPath, reason: "index has no weight_map of tensor name to file name")
        }
        for name in Set(weightMap.values) where name.contains("/") || name.hasPrefix(".") {
            throw .malformed(path: indexPath, reason: "shard name '\(name)' is not a plain file name")
        }
        return (indexPath, weightMap)
    }
}
