import Foundation
import Safetensors
import TestSupport
import Testing

/// A fresh temporary folder per test, removed with the object.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "kontext-safetensors-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

private func floatBytes(_ values: [Float]) -> Data { values.withUnsafeBytes { Data($0) } }

/// A file with the given header JSON and data section, bypassing the writer's checks.
private func rawFile(header: String, data: Data = Data(), declaredLength: UInt64? = nil) -> Data {
    var file = Data()
    withUnsafeBytes(of: (declaredLength ?? UInt64(header.utf8.count)).littleEndian) { file.append(contentsOf: $0) }
    file.append(Data(header.utf8))
    file.append(data)
    return file
}

@Suite("safetensors")
struct SafetensorsTests {
    @Test func writeThenReadKeepsEveryTensorAndTheMetadata() throws {
        let folder = try TemporaryFolder()
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        writer.add("weight", dtype: .float32, shape: [2, 3], bytes: floatBytes([1, 2, 3, 4, 5, 6]))
        writer.add("bias", dtype: .bfloat16, shape: [3], bytes: Data([0x80, 0x3f, 0, 0x40, 0x40, 0x40]))
        writer.add("ids", dtype: .int64, shape: [1], bytes: withUnsafeBytes(of: Int64(-5).littleEndian) { Data($0) })
        writer.add("empty", dtype: .float16, shape: [0, 4], bytes: Data())
        try writer.write(to: folder.file("model.safetensors"))

        let file = try SafetensorsFile(path: folder.file("model.safetensors"))
        #expect(file.metadata == ["format": "pt"])
        #expect(Set(file.names) == ["weight", "bias", "ids", "empty"])
        let weight = try #require(file.info("weight"))
        #expect(weight.dtype == .float32 && weight.shape == [2, 3])
        let values = try file.bytes(of: "weight").withMemoryRebound(to: Float.self) { Array($0) }
        #expect(values == [1, 2, 3, 4, 5, 6])
        #expect(Array(try file.bytes(of: "bias")) == [0x80, 0x3f, 0, 0x40, 0x40, 0x40])
        #expect(try file.bytes(of: "ids").loadUnaligned(as: Int64.self) == -5)
        #expect(try file.bytes(of: "empty").count == 0)
        #expect(throws: SafetensorsError.missingTensor(path: folder.file("model.safetensors"), tensor: "nope")) {
            try file.bytes(of: "nope")
        }
        // The header is padded to 8 bytes, as the Python package writes it.
        let raw = try Data(contentsOf: URL(fileURLWithPath: folder.file("model.safetensors")))
        #expect(raw.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } % 8 == 0)
    }

    @Test func readsAFileWrittenByThePythonPackage() throws {
        // Written by safetensors.torch.save_file in scripts/fixtures/torch_ops.py.
        let path = fixtureDirectory + "/torch_ops.safetensors"
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata["torch"]?.hasPrefix("2.11.0") == true)
        let arange = try #require(file.info("arange.out"))
        #expect(arange.shape == [7] && arange.dtype == .float32)
        #expect(try file.bytes(of: arange).withMemoryRebound(to: Float.self) { Array($0) } == [0, 1.5, 3, 4.5, 6, 7.5, 9])
    }

    @Test func shardedCheckpointResolvesEveryNameThroughTheIndex() throws {
        let folder = try TemporaryFolder()
        var first = SafetensorsWriter()
        first.add("a", dtype: .float32, shape: [1], bytes: floatBytes([1]))
        try first.write(to: folder.file("model-00001-of-00002.safetensors"))
        var second = SafetensorsWriter()
        second.add("b", dtype: .float32, shape: [2], bytes: floatBytes([2, 3]))
        try second.write(to: folder.file("model-00002-of-00002.safetensors"))
        let index = #"{"metadata": {"total_size": 12}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: URL(fileURLWithPath: folder.file("model.safetensors.index.json")))

        for source in [folder.path, folder.file("model.safetensors.index.json")] {
            let checkpoint = try SafetensorsCheckpoint(path: source)
            #expect(checkpoint.names == ["a", "b"])
            #expect(checkpoint.files.count == 2)
            let (file, info) = try checkpoint.locate("b")
            #expect(file.path.hasSuffix("00002-of-00002.safetensors"))
            #expect(file.bytes(of: info).withMemoryRebound(to: Float.self) { Array($0) } == [2, 3])
            #expect(throws: SafetensorsError.self) { try checkpoint.locate("c") }
        }
    }

    @Test func indexThatDisagreesWithItsShardsIsRejected() throws {
        let folder = try TemporaryFolder()
        var shard = SafetensorsWriter()
        shard.add("a", dtype: .float32, shape: [1], bytes: floatBytes([1]))
        try shard.write(to: folder.file("one.safetensors"))
        let wrongName = #"{"weight_map": {"a": "one.safetensors", "ghost": "one.safetensors"}}"#
        try Data(wrongName.utf8).write(to: URL(fileURLWithPath: folder.file("x.safetensors.index.json")))
        #expect(throws: SafetensorsError.malformed(
            path: folder.file("x.safetensors.index.json"), reason: "weight_map puts 'ghost' in one.safetensors, which does not hold it")
        ) { try SafetensorsCheckpoint(path: folder.path) }

        let missingShard = #"{"weight_map": {"a": "two.safetensors"}}"#
        try Data(missingShard.utf8).write(to: URL(fileURLWithPath: folder.file("x.safetensors.index.json")))
        #expect(throws: SafetensorsError.self) { try SafetensorsCheckpoint(path: folder.path) }

        let escaping = #"{"weight_map": {"a": "../one.safetensors"}}"#
        try Data(escaping.utf8).write(to: URL(fileURLWithPath: folder.file("x.safetensors.index.json")))
        #expect(throws: SafetensorsError.self) { try SafetensorsCheckpoint(path: folder.path) }
    }

    /// Each malformed file and the words its error must contain.
    static let malformed: [(name: String, file: Data, reason: String)] = [
        ("shorter than the length field", Data([1, 0, 0]), "shorter than the 8-byte header length"),
        ("header too large", rawFile(header: "{}", declaredLength: 200_000_000), "exceeds"),
        ("header past end of file", rawFile(header: "{}", declaredLength: 64), "runs past the end"),
        ("not JSON", rawFile(header: "{not json"), "not valid JSON"),
        ("not an object", rawFile(header: "[1, 2]"), "does not start with a JSON object"),
        ("no dtype", rawFile(header: #"{"a": {"shape": [1], "data_offsets": [0, 4]}}"#, data: Data(count: 4)), "has no dtype"),
        ("bad shape", rawFile(header: #"{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#, data: Data(count: 4)), "no valid shape"),
        ("offsets out of range", rawFile(header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, data: Data(count: 4)), "outside the 4-byte data section"),
        ("reversed offsets", rawFile(header: #"{"a": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}}"#, data: Data(count: 4)), "outside"),
        ("size does not match shape", rawFile(header: #"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, data: Data(count: 8)), "but 8 bytes"),
        ("overlapping tensors", rawFile(
            header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#,
            data: Data(count: 12)), "overlaps"),
        ("gap between tensors", rawFile(
            header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}"#,
            data: Data(count: 12)), "gap of 4 bytes"),
        ("trailing bytes", rawFile(header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, data: Data(count: 9)), "cover 4 of the 9"),
        ("metadata not strings", rawFile(header: #"{"__metadata__": {"n": 1}}"#), "__metadata__"),
    ]

    @Test(arguments: malformed.indices)
    func malformedFileIsRejectedWithAClearError(_ index: Int) throws {
        let (name, contents, reason) = Self.malformed[index]
        let folder = try TemporaryFolder()
        let path = folder.file("bad.safetensors")
        try contents.write(to: URL(fileURLWithPath: path))
        do {
            _ = try SafetensorsFile(path: path)
            Issue.record("\(name): accepted")
        } catch {
            #expect(error.description.hasPrefix(path), "\(name): the error must name the file: \(error)")
            #expect(error.description.contains(reason), "\(name): \(error)")
        }
    }

    @Test func unknownDTypeIsNamed() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("odd.safetensors")
        try rawFile(header: #"{"a": {"dtype": "F4", "shape": [1], "data_offsets": [0, 1]}}"#, data: Data(count: 1))
            .write(to: URL(fileURLWithPath: path))
        #expect(throws: SafetensorsError.unknownDType(path: path, tensor: "a", dtype: "F4")) { try SafetensorsFile(path: path) }
    }

    @Test func everyTruncationOfAValidFileIsRejected() throws {
        let folder = try TemporaryFolder()
        var writer = SafetensorsWriter(metadata: ["k": "v"])
        writer.add("x", dtype: .float32, shape: [3], bytes: floatBytes([1, 2, 3]))
        writer.add("y", dtype: .uint8, shape: [5], bytes: Data([1, 2, 3, 4, 5]))
        let full = try writer.serialized()
        let path = folder.file("cut.safetensors")
        for length in 0..<full.count {
            try full.prefix(length).write(to: URL(fileURLWithPath: path))
            #expect(throws: SafetensorsError.self, "truncated to \(length) bytes") { try SafetensorsFile(path: path) }
        }
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: "/nonexistent/model.safetensors") }
        #expect(throws: SafetensorsError.self) { try SafetensorsCheckpoint(path: "/nonexistent") }
    }

    @Test func writerRejectsDuplicateNamesAndWrongByteCounts() {
        var duplicate = SafetensorsWriter()
        duplicate.add("a", dtype: .uint8, shape: [1], bytes: Data([1]))
        duplicate.add("a", dtype: .uint8, shape: [1], bytes: Data([2]))
        #expect(throws: SafetensorsError.self) { try duplicate.serialized() }
        var short = SafetensorsWriter()
        short.add("a", dtype: .float32, shape: [2], bytes: Data(count: 7))
        #expect(throws: SafetensorsError.self) { try short.serialized() }
    }
}
