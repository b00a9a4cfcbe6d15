import CTorch

/// An n-dimensional array on the CPU or a CUDA device, backed by an ATen tensor.
///
/// Operations never modify a tensor in place: each returns a new `Tensor` (which may be a view
/// sharing storage, as in ATen). The handle is owned by this object and released in `deinit`.
/// It is `Sendable` because the handle is never reassigned and ATen's reference counting is atomic.
public final class Tensor: @unchecked Sendable {
    let handle: OpaquePointer

    init(owning handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        kt_free(handle)
    }

    /// Wraps an ATen result, turning NULL into the thread's ATen error.
    @inline(__always)
    static func wrap(_ operation: @autoclosure () -> String, _ result: OpaquePointer?) throws(TorchError) -> Tensor {
        Tensor(owning: try checked(operation(), result))
    }

    @inline(__always)
    static func checked(_ operation: @autoclosure () -> String, _ result: OpaquePointer?) throws(TorchError) -> OpaquePointer {
        guard let result else {
            throw .operationFailed(operation: operation(), message: String(cString: kt_last_error()))
        }
        return result
    }

    @inline(__always)
    static func check(_ operation: @autoclosure () -> String, _ status: Int32) throws(TorchError) {
        guard status == 0 else {
            throw .operationFailed(operation: operation(), message: String(cString: kt_last_error()))
        }
    }

    // MARK: Metadata

    public var rank: Int { Int(kt_dim(handle)) }

    public var shape: [Int] {
        var sizes = [Int64](repeating: 0, count: rank)
        kt_sizes(handle, &sizes)
        return sizes.map { Int($0) }
    }

    public var elementCount: Int { shape.reduce(1, *) }

    public var dtype: DType {
        // Every dtype the shim can produce is listed in DType; ATen creates no others from our calls.
        DType(rawValue: kt_dtype(handle)) ?? .float32
    }

    public var device: Device { Device(code: kt_device_type(handle), index: kt_device_index(handle)) }

    public var isContiguous: Bool { kt_is_contiguous(handle) != 0 }

    // MARK: Creation

    /// Copies `values` into a new CPU tensor of the given shape.
    public convenience init<Element: TensorElement>(_ values: [Element], shape: [Int]) throws(TorchError) {
        guard shape.reduce(1, *) == values.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw .invalidArgument("\(values.count) values do not fill shape \(shape)")
        }
        try TorchRuntime.ensureLoaded()
        let dims = shape.map(Int64.init)
        let result = values.withUnsafeBytes { bytes in
            kt_from_data(bytes.baseAddress, dims, Int32(dims.count), Element.dtype.rawValue)
        }
        self.init(owning: try Tensor.checked("from_data", result))
    }

    /// Copies raw little-endian element bytes into a new CPU tensor.
    public convenience init(copying bytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType) throws(TorchError) {
        try Tensor.validate(byteCount: bytes.count, shape: shape, dtype: dtype)
        try TorchRuntime.ensureLoaded()
        let dims = shape.map(Int64.init)
        let result = kt_from_data(bytes.baseAddress, dims, Int32(dims.count), dtype.rawValue)
        self.init(owning: try Tensor.checked("from_data", result))
    }

    /// A CPU tensor that reads `bytes` in place, without copying. `owner` is kept alive until ATen
    /// frees the storage (which may outlive this `Tensor` through views).
    public convenience init(
        borrowing bytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType, owner: AnyObject
    ) throws(TorchError) {
        try Tensor.validate(byteCount: bytes.count, shape: shape, dtype: dtype)
        try TorchRuntime.ensureLoaded()
        let dims = shape.map(Int64.init)
        let context = Unmanaged.passRetained(owner).toOpaque()
        let release: kt_release_fn = { context in
            if let context { Unmanaged<AnyObject>.fromOpaque(context).release() }
        }
        let result = kt_from_blob(
            UnsafeMutableRawPointer(mutating: bytes.baseAddress), dims, Int32(dims.count), dtype.rawValue, release, context)
        self.init(owning: try Tensor.checked("from_blob", result))
    }

    private static func validate(byteCount: Int, shape: [Int], dtype: DType) throws(TorchError) {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw .invalidArgument("negative size in shape \(shape)") }
        let expected = shape.reduce(1, *) * dtype.byteSize
        guard expected == byteCount else {
            throw .invalidArgument("shape \(shape) of \(dtype) needs \(expected) bytes, got \(byteCount)")
        }
    }

    public static func full(
        _ shape: [Int], value: Double, dtype: DType = .float32, device: Device = .cpu
    ) throws(TorchError) -> Tensor {
        try TorchRuntime.ensureLoaded()
        let dims = shape.map(Int64.init)
        let (type, index) = device.code
        return try wrap("full", kt_full(dims, Int32(dims.count), value, dtype.rawValue, type, index))
    }

    public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws(TorchError) -> Tensor {
        try full(shape, value: 0, dtype: dtype, device: device)
    }

    public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws(TorchError) -> Tensor {
        try full(shape, value: 1, dtype: dtype, device: device)
    }

    /// Values `start, start + step, ...` below `end`, as `torch.arange`.
    public static func arange(
        _ start: Double, _ end: Double, step: Double = 1, dtype: DType = .float32
    ) throws(TorchError) -> Tensor {
        try TorchRuntime.ensureLoaded()
        return try wrap("arange", kt_arange(start, end, step, dtype.rawValue))
    }

    /// `count` evenly spaced values from `start` to `end` inclusive, as `torch.linspace`.
    public static func linspace(
        _ start: Double, _ end: Double, count: Int, dtype: DType = .float32
    ) throws(TorchError) -> Tensor {
        try TorchRuntime.ensureLoaded()
        return try wrap("linspace", kt_linspace(start, end, Int64(count), dtype.rawValue))
    }

    /// Standard normal samples drawn on the CPU from `generator`: the same numbers `torch.randn`
    /// gives in Python with a `torch.Generator` seeded alike.
    public static func randn(
        _ shape: [Int], generator: RandomGenerator, dtype: DType = .float32
    ) throws(TorchError) -> Tensor {
        let dims = shape.map(Int64.init)
        return try withExtendedLifetime(generator) { () throws(TorchError) -> Tensor in
            try wrap("randn", kt_randn(dims, Int32(dims.count), dtype.rawValue, generator.handle))
        }
    }

    // MARK: Reading back

    /// The elements in row-major order, converted to `Element`'s dtype and copied to the host.
    public func toArray<Element: TensorElement>(of type: Element.Type = Element.self) throws(TorchError) -> [Element] {
        let source = dtype == Element.dtype ? self : try to(Element.dtype)
        let count = elementCount
        var status: Int32 = 0
        let values = [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = kt_copy_to(source.handle, buffer.baseAddress, Int64(count * MemoryLayout<Element>.stride))
            initialized = status == 0 ? count : 0
        }
        try Tensor.check("copy_to", status)
        return values
    }

    /// Copies the raw element bytes (row-major, host order) into `destination`.
    public func copyBytes(to destination: UnsafeMutableRawBufferPointer) throws(TorchError) {
        try Tensor.check("copy_to", kt_copy_to(handle, destination.baseAddress, Int64(destination.count)))
    }

    /// The single value of a one-element tensor.
    public func item() throws(TorchError) -> Double {
        var value = 0.0
        try Tensor.check("item", kt_item_double(handle, &value))
        return value
    }
}

/// A seeded PyTorch CPU random generator, as `torch.Generator().manual_seed(seed)`. Drawing
/// advances its state, so one generator belongs to one task at a time.
public final class RandomGenerator {
    let handle: OpaquePointer

    public init(seed: UInt64) throws(TorchError) {
        try TorchRuntime.ensureLoaded()
        guard let handle = kt_generator_new(seed) else {
            throw .operationFailed(operation: "generator", message: String(cString: kt_last_error()))
        }
        self.handle = handle
    }

    deinit {
        kt_generator_free(handle)
    }
}
