import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor's entry in a safetensors header.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range within the data section (after the header).
    public let dataRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file.
///
/// The header is parsed and fully validated when the file is opened; tensor bytes are read
/// straight from the mapping, so only the pages actually used are ever read from disk. The
/// mapping is private and copy-on-write: a consumer that writes to a borrowed buffer cannot
/// change the file. Immutable after `init`, hence `Sendable`.
public final class SafetensorsFile: @unchecked Sendable {
    /// Headers above this size are refused (the reference implementation's limit).
    public static let maximumHeaderSize = 100_000_000

    public let path: String
    /// The `__metadata__` map of the header (string to string), empty when absent.
    public let metadata: [String: String]
    /// Entries in data order.
    public let tensors: [SafetensorsTensorInfo]
    private let index: [String: Int]
    private let mapping: UnsafeMutableRawPointer
    private let mappedLength: Int
    private let dataStart: Int

    public init(path: String) throws(SafetensorsError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io(path: path, message: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .io(path: path, message: String(cString: strerror(errno))) }
        let length = Int(status.st_size)
        guard length >= 8 else {
            throw .malformed(path: path, reason: "file is \(length) bytes, shorter than the 8-byte header length")
        }
        guard let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw .io(path: path, message: "mmap failed: \(String(cString: strerror(errno)))")
        }
        do {
            let header = try Self.parseHeader(path: path, bytes: UnsafeRawBufferPointer(start: mapped, count: length))
            mapping = mapped
            mappedLength = length
            dataStart = header.dataStart
            metadata = header.metadata
            tensors = header.tensors
            index = Dictionary(uniqueKeysWithValues: header.tensors.enumerated().map { ($1.name, $0) })
        } catch {
            munmap(mapped, length)
            throw error
        }
    }

    deinit {
        munmap(mapping, mappedLength)
    }

    public var names: [String] { tensors.map(\.name) }

    public func info(_ name: String) -> SafetensorsTensorInfo? { index[name].map { tensors[$0] } }

    /// The bytes of tensor `name`, valid as long as this object is alive.
    public func bytes(of name: String) throws(SafetensorsError) -> UnsafeRawBufferPointer {
        guard let info = info(name) else { throw .missingTensor(path: path, tensor: name) }
        return bytes(of: info)
    }

    /// The bytes of a tensor of this file, valid as long as this object is alive.
    public func bytes(of info: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mapping + dataStart + info.dataRange.lowerBound, count: info.dataRange.count)
    }

    struct Header {
        var dataStart: Int
        var metadata: [String: String]
        var tensors: [SafetensorsTensorInfo]
    }

    /// Parses and validates a header; `bytes` is the whole file.
    static func parseHeader(path: String, bytes: UnsafeRawBufferPointer) throws(SafetensorsError) -> Header {
        let declared = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard declared <= UInt64(maximumHeaderSize) else {
            throw .malformed(path: path, reason: "header length \(declared) exceeds the \(maximumHeaderSize)-byte limit")
        }
        let headerLength = Int(declared)
        guard headerLength <= bytes.count - 8 else {
            throw .malformed(path: path, reason: "header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let headerBytes = Data(bytes[8..<(8 + headerLength)])
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw .malformed(path: path, reason: "header does not start with a JSON object")
        }
        let json: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: headerBytes) as? [String: Any] else {
                throw SafetensorsError.malformed(path: path, reason: "header is not a JSON object")
            }
            json = object
        } catch let error as SafetensorsError {
            throw error
        } catch {
            throw .malformed(path: path, reason: "header is not valid JSON: \(error.localizedDescription)")
        }
        let dataLength = bytes.count - 8 - headerLength
        var metadata: [String: String] = [:]
        var tensors: [SafetensorsTensorInfo] = []
        for (name, value) in json {
            if name == "__metadata__" {
                guard let map = value as? [String: Any], let strings = map as? [String: String] else {
                    throw .malformed(path: path, reason: "__metadata__ is not a map of strings")
                }
                metadata = strings
                continue
            }
            tensors.append(try parseEntry(path: path, name: name, value: value, dataLength: dataLength))
        }
        tensors.sort { ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound) }
        var covered = 0
        for tensor in tensors {
            guard tensor.dataRange.lowerBound >= covered else {
                throw .malformed(path: path, reason: "tensor '\(tensor.name)' overlaps the tensor before it (offset \(tensor.dataRange.lowerBound) < \(covered))")
            }
            guard tensor.dataRange.lowerBound == covered else {
                throw .malformed(path: path, reason: "gap of \(tensor.dataRange.lowerBound - covered) bytes before tensor '\(tensor.name)'")
            }
            covered = tensor.dataRange.upperBound
        }
        guard covered == dataLength else {
            throw .malformed(path: path, reason: "tensors cover \(covered) of the \(dataLength) data bytes")
        }
        return Header(dataStart: 8 + headerLength, metadata: metadata, tensors: tensors)
    }

    private static func parseEntry(path: String, name: String, value: Any, dataLength: Int) throws(SafetensorsError) -> SafetensorsTensorInfo {
        guard let entry = value as? [String: Any] else {
            throw .malformed(path: path, reason: "entry '\(name)' is not an object")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw .malformed(path: path, reason: "entry '\(name)' has no dtype")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw .unknownDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard let shape = integers(entry["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
            throw .malformed(path: path, reason: "entry '\(name)' has no valid shape")
        }
        guard let offsets = integers(entry["data_offsets"]), offsets.count == 2 else {
            throw .malformed(path: path, reason: "entry '\(name)' has no valid data_offsets")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end, end <= dataLength else {
            throw .malformed(path: path, reason: "entry '\(name)' has offsets [\(begin), \(end)] outside the \(dataLength)-byte data section")
        }
        let (elements, overflow) = shape.reduce((1, false)) { partial, size in
            let product = partial.0.multipliedReportingOverflow(by: size)
            return (product.partialValue, partial.1 || product.overflow)
        }
        let (expected, byteOverflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, !byteOverflow, expected == end - begin else {
            throw .malformed(path: path, reason: "entry '\(name)' has shape \(shape) of \(dtypeName) but \(end - begin) bytes")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    /// Reads a JSON array of non-fractional numbers.
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for element in array {
            guard let number = element as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double == double.rounded(), Swift.abs(double) < 9.0e15 else { return nil }
            result.append(number.intValue)
        }
        return result
    }
}
