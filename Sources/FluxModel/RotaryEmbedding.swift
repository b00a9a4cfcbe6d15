import Torch

/// FLUX's 3-axis rotary position embedding (diffusers' `FluxPosEmbed`, theta 10000): each token's
/// (index, row, column) id rotates pairs of query/key channels, `axes[i]` channels per axis.
struct RotaryEmbedding {
    let axes: [Int]
    let theta = 10000.0

    /// cos and sin tables (tokens, head_dim) in float32, computed in float64 as the reference does.
    func cosSin(ids: Tensor) throws(TorchError) -> (Tensor, Tensor) {
        let positions = try ids.to(.float32).to(.float64)
        var cosines = [Tensor]()
        var sines = [Tensor]()
        for (axis, dim) in axes.enumerated() {
            let exponents = try Tensor.arange(0, Double(dim), step: 2, dtype: .float64) / Double(dim)
            let frequencies = try Tensor.full([], value: 1, dtype: .float64) / Tensor.full([dim / 2], value: theta, dtype: .float64).pow(exponents)
            let position = try positions.narrowed(dim: 1, start: axis, length: 1)
            let angles = try position * frequencies.unsqueezed(0)
            cosines.append(try repeatedPairwise(angles.cos()).to(.float32))
            sines.append(try repeatedPairwise(angles.sin()).to(.float32))
        }
        return (try Tensor.cat(cosines, dim: -1).to(ids.device), try Tensor.cat(sines, dim: -1).to(ids.device))
    }

    /// (n, d) -> (n, 2d) with every column twice in a row (`repeat_interleave(2, dim=1)`).
    private func repeatedPairwise(_ x: Tensor) throws(TorchError) -> Tensor {
        let shape = x.shape
        return try x.unsqueezed(-1).expanded([shape[0], shape[1], 2]).reshaped([shape[0], shape[1] * 2])
    }
}

/// Rotates (batch, tokens, heads, head_dim) channel pairs (x0, x1) to (x0 cos - x1 sin, x1 cos + x0 sin),
/// in float32, as diffusers' `apply_rotary_emb(..., use_real_unbind_dim=-1, sequence_dim=1)`.
func applyRotary(_ x: Tensor, _ table: (Tensor, Tensor)) throws(TorchError) -> Tensor {
    let shape = x.shape
    let pairs = try x.reshaped(Array(shape.dropLast()) + [shape[3] / 2, 2])
    let real = try pairs.narrowed(dim: 4, start: 0, length: 1)
    let imaginary = try pairs.narrowed(dim: 4, start: 1, length: 1)
    let rotated = try Tensor.cat([imaginary.negated(), real], dim: 4).reshaped(shape)
    let cos = try table.0.unsqueezed(0).unsqueezed(2)
    let sin = try table.1.unsqueezed(0).unsqueezed(2)
    return try (x.to(.float32) * cos + rotated.to(.float32) * sin).to(x.dtype)
}
