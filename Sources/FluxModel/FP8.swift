import Torch

/// A linear layer's weight stored as float8 e4m3 with one float32 scale per output row: half the
/// memory of bfloat16, and on Hopper-class GPUs the input of fp8 tensor-core matrix products.
public struct FP8Weight {
    /// (out, in) e4m3 values: the weight divided by its row's scale.
    public let values: Tensor
    /// (out, 1) float32 scales: each row's largest magnitude over 448, e4m3's largest finite value.
    public let scales: Tensor

    public static let largestFinite = 448.0

    public init(quantizing weight: Tensor) throws(TorchError) {
        let full = try weight.to(.float32)
        let scales = try full.abs().amax(dims: [1], keepDims: true).clamp(min: 1e-12, max: Double(Float.greatestFiniteMagnitude)) / Self.largestFinite
        values = try (full / scales).clamp(min: -Self.largestFinite, max: Self.largestFinite).to(.float8E4M3FN)
        self.scales = scales
    }

    /// The weight back in `dtype`.
    public func dequantized(to dtype: DType) throws(TorchError) -> Tensor {
        try (values.to(.float32) * scales).to(dtype)
    }

    /// `x W^T + b`. On CUDA the activations are quantized per row on the fly and multiplied on
    /// fp8 tensor cores; elsewhere (ATen has no CPU fp8 product) the weight is dequantized first.
    public func linear(_ x: Tensor, bias: Tensor?) throws(TorchError) -> Tensor {
        guard case .cuda = x.device else { return try x.linear(weight: dequantized(to: x.dtype), bias: bias) }
        let shape = x.shape
        let rows = try x.reshaped([-1, shape[shape.count - 1]])
        let activation = try FP8Weight(quantizing: rows)
        let product = try activation.values.scaledMatmul(
            values.transposed(0, 1), scaleSelf: activation.scales, scaleOther: scales.transposed(0, 1), bias: bias, outputType: x.dtype)
        return try product.reshaped(Array(shape.dropLast()) + [product.shape[1]])
    }
}
