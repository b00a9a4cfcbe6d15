import Torch

/// `torch.nn.Linear`: weight (out, in), optional bias; the weight dense or, where the scope asks
/// for it, quantized to fp8.
struct Linear {
    enum Storage {
        case dense(Tensor)
        case fp8(FP8Weight)
    }

    let storage: Storage
    let bias: Tensor?

    init(_ scope: WeightScope, input: Int, output: Int, bias: Bool = true) throws(ModelError) {
        let weight = try scope("weight", [output, input])
        if scope.quantizesToFP8 {
            do { storage = .fp8(try FP8Weight(quantizing: weight)) } catch { throw .backend(error) }
        } else {
            storage = .dense(weight)
        }
        self.bias = bias ? try scope("bias", [output]) : nil
    }

    /// The dense weight, or the fp8 values.
    var weight: Tensor {
        switch storage {
        case .dense(let weight): weight
        case .fp8(let weight): weight.values
        }
    }

    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor {
        switch storage {
        case .dense(let weight): try x.linear(weight: weight, bias: bias)
        case .fp8(let weight): try weight.linear(x, bias: bias)
        }
    }
}

/// `torch.nn.LayerNorm` over the last dimension, with or without affine parameters.
struct LayerNorm {
    let size: Int
    let weight: Tensor?
    let bias: Tensor?
    let eps: Double

    init(_ scope: WeightScope?, size: Int, eps: Double) throws(ModelError) {
        self.size = size
        self.eps = eps
        weight = try scope.map { scope throws(ModelError) in try scope("weight", [size]) }
        bias = try scope.map { scope throws(ModelError) in try scope("bias", [size]) }
    }

    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor {
        try x.layerNorm(normalizedShape: [size], weight: weight, bias: bias, eps: eps)
    }
}

/// `torch.nn.RMSNorm` over the last dimension with a learned scale.
struct RMSNorm {
    let size: Int
    let weight: Tensor
    let eps: Double

    init(_ scope: WeightScope, size: Int, eps: Double) throws(ModelError) {
        self.size = size
        self.eps = eps
        weight = try scope("weight", [size])
    }

    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor {
        try x.rmsNorm(normalizedShape: [size], weight: weight, eps: eps)
    }
}

/// `torch.nn.Conv2d` with square kernels.
struct Conv2d {
    let weight: Tensor
    let bias: Tensor
    let stride: Int
    let padding: Int

    init(_ scope: WeightScope, input: Int, output: Int, kernel: Int, stride: Int = 1, padding: Int = 0) throws(ModelError) {
        weight = try scope("weight", [output, input, kernel, kernel])
        bias = try scope("bias", [output])
        self.stride = stride
        self.padding = padding
    }

    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor {
        try x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// `torch.nn.GroupNorm` with affine parameters.
struct GroupNorm {
    let groups: Int
    let weight: Tensor
    let bias: Tensor
    let eps: Double

    init(_ scope: WeightScope, groups: Int, channels: Int, eps: Double) throws(ModelError) {
        self.groups = groups
        self.eps = eps
        weight = try scope("weight", [channels])
        bias = try scope("bias", [channels])
    }

    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor {
        try x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps)
    }
}

/// `torch.nn.Embedding`.
struct Embedding {
    let weight: Tensor

    init(_ scope: WeightScope, count: Int, size: Int) throws(ModelError) {
        weight = try scope("weight", [count, size])
    }
}
