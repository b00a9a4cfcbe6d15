import Foundation

/// Writes safetensors files in the layout the Python `safetensors` package writes: the header
/// JSON padded with spaces to a multiple of 8 bytes, tensors stored back to back in the given order.
public struct SafetensorsWriter {
    /// A tensor to write: its raw little-endian element bytes.
    public struct Entry {
        public var name: String
        public var dtype: SafetensorsDType
        public var shape: [Int]
        public var bytes: Data

        public init(name: String, dtype: SafetensorsDType, shape: [Int], bytes: Data) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    public var entries: [Entry] = []
    public var metadata: [String: String] = [:]

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    public mutating func add(_ name: String, dtype: SafetensorsDType, shape: [Int], bytes: Data) {
        entries.append(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes))
    }

    /// The complete file contents. Checks that names are unique and that each byte count fits its shape.
    public func serialized(path: String = "<memory>") throws(SafetensorsError) -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for entry in entries {
            guard entry.name != "__metadata__", header[entry.name] == nil else {
                throw .malformed(path: path, reason: "duplicate or reserved tensor name '\(entry.name)'")
            }
            let expected = entry.shape.reduce(1, *) * entry.dtype.byteSize
            guard expected == entry.bytes.count else {
                throw .malformed(path: path, reason: "tensor '\(entry.name)' has shape \(entry.shape) but \(entry.bytes.count) bytes")
            }
            header[entry.name] = ["dtype": entry.dtype.rawValue, "shape": entry.shape, "data_offsets": [offset, offset + entry.bytes.count]] as [String: Any]
            offset += entry.bytes.count
        }
        var json: Data
        do {
            json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        } catch {
            throw .malformed(path: path, reason: "header cannot be encoded: \(error.localizedDescription)")
        }
        json.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var file = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        for entry in entries { file.append(entry.bytes) }
        return file
    }

    public func write(to path: String) throws(SafetensorsError) {
        let data = try serialized(path: path)
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .io(path: path, message: error.localizedDescription)
        }
    }
}
