import CTorch

/// Calls `body` with the dimensions as a C array of int64.
@inline(__always)
private func withDims<R>(_ values: [Int], _ body: (UnsafePointer<Int64>, Int32) throws(TorchError) -> R) throws(TorchError) -> R {
    let dims = values.map(Int64.init)
    return try dims.withUnsafeBufferPointer { (buffer) throws(TorchError) -> R in
        // An empty array may have no base address; ATen never reads it when the count is 0.
        try body(buffer.baseAddress ?? UnsafePointer(bitPattern: 8)!, Int32(buffer.count))
    }
}

// MARK: Arithmetic (broadcasting as in PyTorch)

extension Tensor {
    public static func + (lhs: Tensor, rhs: Tensor) throws(TorchError) -> Tensor { try wrap("add", kt_add(lhs.handle, rhs.handle)) }
    public static func - (lhs: Tensor, rhs: Tensor) throws(TorchError) -> Tensor { try wrap("sub", kt_sub(lhs.handle, rhs.handle)) }
    public static func * (lhs: Tensor, rhs: Tensor) throws(TorchError) -> Tensor { try wrap("mul", kt_mul(lhs.handle, rhs.handle)) }
    public static func / (lhs: Tensor, rhs: Tensor) throws(TorchError) -> Tensor { try wrap("div", kt_div(lhs.handle, rhs.handle)) }

    public static func + (lhs: Tensor, rhs: Double) throws(TorchError) -> Tensor { try wrap("add", kt_add_scalar(lhs.handle, rhs)) }
    public static func - (lhs: Tensor, rhs: Double) throws(TorchError) -> Tensor { try wrap("sub", kt_add_scalar(lhs.handle, -rhs)) }
    public static func * (lhs: Tensor, rhs: Double) throws(TorchError) -> Tensor { try wrap("mul", kt_mul_scalar(lhs.handle, rhs)) }
    /// True division, as torch's `tensor / scalar`; multiplying by the reciprocal would round differently.
    public static func / (lhs: Tensor, rhs: Double) throws(TorchError) -> Tensor {
        try lhs / Tensor.full([], value: rhs, dtype: lhs.dtype, device: lhs.device)
    }
    public static func + (lhs: Double, rhs: Tensor) throws(TorchError) -> Tensor { try rhs + lhs }
    public static func * (lhs: Double, rhs: Tensor) throws(TorchError) -> Tensor { try rhs * lhs }
    public static func - (lhs: Double, rhs: Tensor) throws(TorchError) -> Tensor { try rhs.negated() + lhs }

    public func pow(_ exponent: Double) throws(TorchError) -> Tensor { try Tensor.wrap("pow", kt_pow_scalar(handle, exponent)) }
    /// Element-wise `self ** exponent`, broadcasting.
    public func pow(_ exponent: Tensor) throws(TorchError) -> Tensor { try Tensor.wrap("pow", kt_pow(handle, exponent.handle)) }

    public func clamp(min minimum: Double, max maximum: Double) throws(TorchError) -> Tensor {
        try Tensor.wrap("clamp", kt_clamp(handle, minimum, maximum))
    }

    private func unary(_ name: String, _ op: Int) throws(TorchError) -> Tensor {
        try Tensor.wrap(name, kt_unary(handle, Int32(op)))
    }

    public func negated() throws(TorchError) -> Tensor { try unary("neg", Int(KT_UNARY_NEG)) }
    public func exp() throws(TorchError) -> Tensor { try unary("exp", Int(KT_UNARY_EXP)) }
    public func sin() throws(TorchError) -> Tensor { try unary("sin", Int(KT_UNARY_SIN)) }
    public func cos() throws(TorchError) -> Tensor { try unary("cos", Int(KT_UNARY_COS)) }
    public func sqrt() throws(TorchError) -> Tensor { try unary("sqrt", Int(KT_UNARY_SQRT)) }
    public func rsqrt() throws(TorchError) -> Tensor { try unary("rsqrt", Int(KT_UNARY_RSQRT)) }
    public func tanh() throws(TorchError) -> Tensor { try unary("tanh", Int(KT_UNARY_TANH)) }
    public func sigmoid() throws(TorchError) -> Tensor { try unary("sigmoid", Int(KT_UNARY_SIGMOID)) }
    public func silu() throws(TorchError) -> Tensor { try unary("silu", Int(KT_UNARY_SILU)) }
    public func abs() throws(TorchError) -> Tensor { try unary("abs", Int(KT_UNARY_ABS)) }
    public func log() throws(TorchError) -> Tensor { try unary("log", Int(KT_UNARY_LOG)) }

    /// GELU; `tanhApproximation` selects PyTorch's `approximate="tanh"` form used by FLUX and T5.
    public func gelu(tanhApproximation: Bool = false) throws(TorchError) -> Tensor {
        try Tensor.wrap("gelu", kt_gelu(handle, tanhApproximation ? 1 : 0))
    }

    public func softmax(dim: Int) throws(TorchError) -> Tensor { try Tensor.wrap("softmax", kt_softmax(handle, Int64(dim))) }

    public func mean(dims: [Int], keepDims: Bool = false) throws(TorchError) -> Tensor {
        try withDims(dims) { (pointer, count) throws(TorchError) in
            try Tensor.wrap("mean", kt_mean(handle, pointer, count, keepDims ? 1 : 0))
        }
    }

    public func sum(dims: [Int], keepDims: Bool = false) throws(TorchError) -> Tensor {
        try withDims(dims) { (pointer, count) throws(TorchError) in
            try Tensor.wrap("sum", kt_sum(handle, pointer, count, keepDims ? 1 : 0))
        }
    }

    /// Largest value along `dims`.
    public func amax(dims: [Int], keepDims: Bool = false) throws(TorchError) -> Tensor {
        try withDims(dims) { (pointer, count) throws(TorchError) in
            try Tensor.wrap("amax", kt_amax(handle, pointer, count, keepDims ? 1 : 0))
        }
    }
}

// MARK: Linear algebra and neural-network layers

extension Tensor {
    /// fp8 (e4m3) matrix product with row-wise float32 scales, on CUDA: `self` (M, K) row-major,
    /// `other` (K, N) column-major (a transposed row-major weight), `scaleSelf` (M, 1),
    /// `scaleOther` (1, N); result in `outputType`. ATen has no CPU kernel for it.
    public func scaledMatmul(
        _ other: Tensor, scaleSelf: Tensor, scaleOther: Tensor, bias: Tensor?, outputType: DType
    ) throws(TorchError) -> Tensor {
        try Tensor.wrap(
            "_scaled_mm", kt_scaled_mm(handle, other.handle, scaleSelf.handle, scaleOther.handle, bias?.handle, outputType.rawValue))
    }

    public func matmul(_ other: Tensor) throws(TorchError) -> Tensor { try Tensor.wrap("matmul", kt_matmul(handle, other.handle)) }

    /// `self @ weight.T + bias`, as `torch.nn.functional.linear`.
    public func linear(weight: Tensor, bias: Tensor? = nil) throws(TorchError) -> Tensor {
        try Tensor.wrap("linear", kt_linear(handle, weight.handle, bias?.handle))
    }

    public func layerNorm(
        normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5
    ) throws(TorchError) -> Tensor {
        try withDims(normalizedShape) { (pointer, count) throws(TorchError) in
            try Tensor.wrap("layer_norm", kt_layer_norm(handle, pointer, count, weight?.handle, bias?.handle, eps))
        }
    }

    public func groupNorm(groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) throws(TorchError) -> Tensor {
        try Tensor.wrap("group_norm", kt_group_norm(handle, Int64(groups), weight?.handle, bias?.handle, eps))
    }

    /// RMS normalisation over the trailing `normalizedShape` dims, as `torch.nn.functional.rms_norm`.
    public func rmsNorm(normalizedShape: [Int], weight: Tensor? = nil, eps: Double = 1e-6) throws(TorchError) -> Tensor {
        try withDims(normalizedShape) { (pointer, count) throws(TorchError) in
            try Tensor.wrap("rms_norm", kt_rms_norm(handle, pointer, count, weight?.handle, eps))
        }
    }

    /// Attention over (batch, heads, sequence, head_dim) tensors, as
    /// `torch.nn.functional.scaled_dot_product_attention`; `scale` defaults to 1/sqrt(head_dim).
    public static func scaledDotProductAttention(
        query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil, causal: Bool = false, scale: Double? = nil
    ) throws(TorchError) -> Tensor {
        try wrap(
            "scaled_dot_product_attention",
            kt_scaled_dot_product_attention(
                query.handle, key.handle, value.handle, mask?.handle, causal ? 1 : 0, scale ?? .nan))
    }

    public func conv2d(
        weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1
    ) throws(TorchError) -> Tensor {
        let strides: [Int64] = [Int64(stride), Int64(stride)]
        let paddings: [Int64] = [Int64(padding), Int64(padding)]
        let dilations: [Int64] = [Int64(dilation), Int64(dilation)]
        return try Tensor.wrap(
            "conv2d", kt_conv2d(handle, weight.handle, bias?.handle, strides, paddings, dilations, Int64(groups)))
    }

    /// Nearest-neighbour resize of an (N, C, H, W) tensor to `height` x `width`.
    public func upsampleNearest(height: Int, width: Int) throws(TorchError) -> Tensor {
        try Tensor.wrap("upsample_nearest2d", kt_upsample_nearest2d(handle, Int64(height), Int64(width)))
    }

    /// Constant padding, `torch.nn.functional.pad` order: (last-dim left, last-dim right, next-to-last left, ...).
    public func pad(_ padding: [Int], value: Double = 0) throws(TorchError) -> Tensor {
        try withDims(padding) { (pointer, count) throws(TorchError) in
            try Tensor.wrap("pad", kt_pad(handle, pointer, count, value))
        }
    }
}

// MARK: Shape and layout

extension Tensor {
    /// A tensor with the same elements in `shape`; one size may be -1.
    public func reshaped(_ shape: [Int]) throws(TorchError) -> Tensor {
        try withDims(shape) { (pointer, count) throws(TorchError) in
            try Tensor.wrap("reshape \(self.shape) to \(shape)", kt_reshape(handle, pointer, count))
        }
    }

    public func permuted(_ dims: [Int]) throws(TorchError) -> Tensor {
        try withDims(dims) { (pointer, count) throws(TorchError) in
            try Tensor.wrap("permute", kt_permute(handle, pointer, count))
        }
    }

    public func transposed(_ dim0: Int, _ dim1: Int) throws(TorchError) -> Tensor {
        try Tensor.wrap("transpose", kt_transpose(handle, Int64(dim0), Int64(dim1)))
    }

    /// A broadcast view with `shape` (-1 keeps a size), as `Tensor.expand`.
    public func expanded(_ shape: [Int]) throws(TorchError) -> Tensor {
        try withDims(shape) { (pointer, count) throws(TorchError) in
            try Tensor.wrap("expand", kt_expand(handle, pointer, count))
        }
    }

    public func contiguous() throws(TorchError) -> Tensor { try Tensor.wrap("contiguous", kt_contiguous(handle)) }

    /// A contiguous copy in freshly allocated (and so fully aligned) memory.
    public func cloned() throws(TorchError) -> Tensor { try Tensor.wrap("clone", kt_clone(handle)) }

    public func unsqueezed(_ dim: Int) throws(TorchError) -> Tensor {
        var newShape = shape
        let position = dim < 0 ? dim + newShape.count + 1 : dim
        guard (0...newShape.count).contains(position) else {
            throw .invalidArgument("unsqueeze dim \(dim) out of range for rank \(newShape.count)")
        }
        newShape.insert(1, at: position)
        return try reshaped(newShape)
    }

    /// Merges dims `start...end` into one, as `torch.flatten`.
    public func flattened(from start: Int = 0, through end: Int = -1) throws(TorchError) -> Tensor {
        let sizes = shape
        let first = start < 0 ? start + sizes.count : start
        let last = end < 0 ? end + sizes.count : end
        guard first >= 0, last < sizes.count, first <= last else {
            throw .invalidArgument("flatten \(start)...\(end) out of range for rank \(sizes.count)")
        }
        let merged = sizes[first...last].reduce(1, *)
        return try reshaped(Array(sizes[..<first]) + [merged] + Array(sizes[(last + 1)...]))
    }

    /// The slice `start..<start+length` along `dim`, sharing storage.
    public func narrowed(dim: Int, start: Int, length: Int) throws(TorchError) -> Tensor {
        try Tensor.wrap("narrow", kt_narrow(handle, Int64(dim), Int64(start), Int64(length)))
    }

    /// The entries at `index` (an int64 tensor) along `dim`: an embedding lookup when `self` is the table.
    public func indexSelect(dim: Int, index: Tensor) throws(TorchError) -> Tensor {
        try Tensor.wrap("index_select", kt_index_select(handle, Int64(dim), index.handle))
    }

    public static func cat(_ tensors: [Tensor], dim: Int) throws(TorchError) -> Tensor {
        guard !tensors.isEmpty else { throw .invalidArgument("cat of no tensors") }
        let handles: [OpaquePointer?] = tensors.map(\.handle)
        return try wrap("cat", kt_cat(handles, Int32(handles.count), Int64(dim)))
    }

    /// Pieces of the given sizes along `dim`, as `torch.split(x, sizes, dim)`.
    public func split(sizes: [Int], dim: Int) throws(TorchError) -> [Tensor] {
        var parts = [OpaquePointer?](repeating: nil, count: sizes.count)
        try withDims(sizes) { (pointer, count) throws(TorchError) in
            try Tensor.check("split", kt_split(handle, pointer, count, Int64(dim), &parts))
        }
        return parts.map { Tensor(owning: $0!) }
    }

    /// `count` pieces along `dim`, the last possibly smaller, as `torch.chunk`.
    public func chunked(_ count: Int, dim: Int) throws(TorchError) -> [Tensor] {
        guard count > 0 else { throw .invalidArgument("chunk count must be positive, got \(count)") }
        let sizes = shape
        let axis = dim < 0 ? dim + sizes.count : dim
        guard sizes.indices.contains(axis) else { throw .invalidArgument("chunk dim \(dim) out of range for rank \(sizes.count)") }
        let length = sizes[axis]
        let piece = (length + count - 1) / count
        guard piece > 0 else { return [self] }
        var pieces: [Int] = []
        var remaining = length
        while remaining > 0 {
            pieces.append(Swift.min(piece, remaining))
            remaining -= piece
        }
        return try split(sizes: pieces, dim: axis)
    }

    // MARK: Conversion

    public func to(_ dtype: DType) throws(TorchError) -> Tensor { try to(dtype, device) }

    public func to(_ device: Device) throws(TorchError) -> Tensor { try to(dtype, device) }

    public func to(_ dtype: DType, _ device: Device) throws(TorchError) -> Tensor {
        let (type, index) = device.code
        return try Tensor.wrap("to(\(dtype), \(device))", kt_to(handle, dtype.rawValue, type, index))
    }
}
