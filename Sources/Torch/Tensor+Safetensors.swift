import Safetensors

extension DType {
    /// The backend dtype for a safetensors dtype, or nil when the backend has none.
    public init?(_ dtype: SafetensorsDType) {
        switch dtype {
        case .float32: self = .float32
        case .bfloat16: self = .bfloat16
        case .float16: self = .float16
        case .float8E4M3: self = .float8E4M3FN
        case .float64: self = .float64
        case .int64: self = .int64
        case .int32: self = .int32
        case .uint8: self = .uint8
        case .bool: self = .bool
        case .int8, .int16, .uint16, .uint32, .uint64, .float8E5M2: return nil
        }
    }

    /// The safetensors spelling of this dtype.
    public var safetensorsDType: SafetensorsDType {
        switch self {
        case .float32: .float32
        case .bfloat16: .bfloat16
        case .float16: .float16
        case .float8E4M3FN: .float8E4M3
        case .float64: .float64
        case .int64: .int64
        case .int32: .int32
        case .uint8: .uint8
        case .bool: .bool
        }
    }
}

extension Tensor {
    /// A CPU tensor over the mapped bytes of `info` in `file`, without copying. The tensor keeps
    /// the file mapped. Data that is not aligned to its element size (allowed by the format) is
    /// copied instead, since ATen kernels may assume alignment.
    public convenience init(_ info: SafetensorsTensorInfo, in file: SafetensorsFile) throws(TorchError) {
        guard let dtype = DType(info.dtype) else {
            throw .invalidArgument("\(file.path): tensor '\(info.name)' has dtype \(info.dtype.rawValue), which the backend does not support")
        }
        let bytes = file.bytes(of: info)
        if let base = bytes.baseAddress, Int(bitPattern: base) % dtype.byteSize == 0 {
            try self.init(borrowing: bytes, shape: info.shape, dtype: dtype, owner: file)
        } else {
            try self.init(copying: bytes, shape: info.shape, dtype: dtype)
        }
    }

    /// Tensor `name` of a checkpoint, borrowed from its mapping where possible.
    public convenience init(named name: String, in checkpoint: SafetensorsCheckpoint) throws {
        let (file, info) = try checkpoint.locate(name)
        try self.init(info, in: file)
    }
}
