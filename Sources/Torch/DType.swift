import CTorch

/// Element type of a tensor. The raw values are the codes of `ctorch.h`.
public enum DType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 0
    case bfloat16 = 1
    case float16 = 2
    case float8E4M3FN = 3
    case int64 = 4
    case uint8 = 5
    case int32 = 6
    case bool = 7
    case float64 = 8

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .bfloat16, .float16: 2
        case .float8E4M3FN, .uint8, .bool: 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .bfloat16, .float16, .float8E4M3FN, .float64: true
        case .int64, .uint8, .int32, .bool: false
        }
    }

    /// The name used on the command line and in logs, as PyTorch spells it.
    public var description: String {
        switch self {
        case .float32: "float32"
        case .bfloat16: "bfloat16"
        case .float16: "float16"
        case .float8E4M3FN: "float8_e4m3fn"
        case .int64: "int64"
        case .uint8: "uint8"
        case .int32: "int32"
        case .bool: "bool"
        case .float64: "float64"
        }
    }

    /// Parses the PyTorch spelling (`float32`, `bfloat16`, ...), plus the short forms `fp32`, `bf16`, `fp16`, `fp8`.
    public init?(name: String) {
        let aliases: [String: DType] = ["fp32": .float32, "bf16": .bfloat16, "fp16": .float16, "half": .float16, "fp8": .float8E4M3FN]
        if let alias = aliases[name.lowercased()] {
            self = alias
        } else if let match = DType.allCases.first(where: { $0.description == name.lowercased() }) {
            self = match
        } else {
            return nil
        }
    }
}

/// Where a tensor's storage lives.
public enum Device: Sendable, Hashable, CustomStringConvertible {
    case cpu
    case cuda(Int)

    public static let cuda = Device.cuda(0)

    var code: (type: Int32, index: Int32) {
        switch self {
        case .cpu: (Int32(KT_CPU), 0)
        case .cuda(let index): (Int32(KT_CUDA), Int32(index))
        }
    }

    init(code type: Int32, index: Int32) {
        self = type == Int32(KT_CUDA) ? .cuda(Int(index)) : .cpu
    }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let index): "cuda:\(index)"
        }
    }

    /// Parses `cpu`, `cuda` or `cuda:N`.
    public init?(name: String) {
        let lowered = name.lowercased()
        if lowered == "cpu" {
            self = .cpu
        } else if lowered == "cuda" {
            self = .cuda(0)
        } else if lowered.hasPrefix("cuda:"), let index = Int(lowered.dropFirst(5)), index >= 0 {
            self = .cuda(index)
        } else {
            return nil
        }
    }
}

/// Swift scalar types that map one to one onto a tensor dtype.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
}

extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }
