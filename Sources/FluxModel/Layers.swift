import Torch

/// `torch.nn.Linear`: weight (out, in), optional bias.
struct Linear {
    let weight: Tensor
    let bias: Tensor?

    init(_ scope: WeightScope, input: Int, output: Int, bias: Bool = true) throws(ModelError) {
        weight = try scope("weight", [output, input])
        self.bias = bias ? try scope("bias", [output]) : nil
    }

    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor { try x.linear(weight: weight, bias: bias) }
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
