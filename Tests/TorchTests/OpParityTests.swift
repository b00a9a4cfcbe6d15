import Safetensors
import Testing
import Torch

/// One op of the Swift API checked against PyTorch's own result for the same inputs.
struct OpCase: Sendable, CustomTestStringConvertible {
    let name: String
    let tolerance: Float
    let apply: @Sendable ([Tensor]) throws -> Tensor

    init(_ name: String, tolerance: Float = 1e-5, _ apply: @escaping @Sendable ([Tensor]) throws -> Tensor) {
        self.name = name
        self.tolerance = tolerance
        self.apply = apply
    }

    var testDescription: String { name }
}

let opCases: [OpCase] = [
    OpCase("add") { try $0[0] + $0[1] },
    OpCase("sub") { try $0[0] - $0[1] },
    OpCase("mul") { try $0[0] * $0[1] },
    OpCase("div") { try $0[0] / $0[1] },
    OpCase("pow_scalar_base", tolerance: 0) { try Tensor.full([8], value: 10000, dtype: .float64).pow($0[0]).to(.float32) },
    // Bit-exact: torch divides; multiplying by 1/7 would differ in the last place.
    OpCase("div_scalar", tolerance: 0) { try $0[0] / 7 },
    OpCase("add_scalar") { try $0[0] + 1.5 },
    OpCase("mul_scalar") { try $0[0] * -2.25 },
    OpCase("pow") { try $0[0].pow(1.5) },
    OpCase("clamp") { try $0[0].clamp(min: -0.5, max: 0.75) },
    OpCase("matmul") { try $0[0].matmul($0[1]) },
    OpCase("matmul_batched") { try $0[0].matmul($0[1]) },
    OpCase("linear") { try $0[0].linear(weight: $0[1], bias: $0[2]) },
    OpCase("linear_nobias") { try $0[0].linear(weight: $0[1]) },
    OpCase("layer_norm") { try $0[0].layerNorm(normalizedShape: [16], eps: 1e-6) },
    OpCase("layer_norm_affine") { try $0[0].layerNorm(normalizedShape: [16], weight: $0[1], bias: $0[2], eps: 1e-5) },
    OpCase("group_norm") { try $0[0].groupNorm(groups: 4, weight: $0[1], bias: $0[2], eps: 1e-6) },
    OpCase("rms_norm") { try $0[0].rmsNorm(normalizedShape: [16], weight: $0[1], eps: 1e-6) },
    OpCase("silu") { try $0[0].silu() },
    OpCase("gelu_tanh") { try $0[0].gelu(tanhApproximation: true) },
    OpCase("gelu") { try $0[0].gelu() },
    OpCase("softmax") { try $0[0].softmax(dim: -1) },
    OpCase("sin") { try $0[0].sin() },
    OpCase("cos") { try $0[0].cos() },
    OpCase("exp") { try $0[0].exp() },
    OpCase("log") { try $0[0].log() },
    OpCase("sqrt") { try $0[0].sqrt() },
    OpCase("rsqrt") { try $0[0].rsqrt() },
    OpCase("tanh") { try $0[0].tanh() },
    OpCase("sigmoid") { try $0[0].sigmoid() },
    OpCase("neg") { try $0[0].negated() },
    OpCase("mean") { try $0[0].mean(dims: [1], keepDims: true) },
    OpCase("sum") { try $0[0].sum(dims: [0, 2]) },
    OpCase("sdpa") { try Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2]) },
    OpCase("sdpa_scale") { try Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], scale: 0.3) },
    OpCase("sdpa_causal") { try Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], causal: true) },
    OpCase("sdpa_mask") { try Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: $0[3]) },
    OpCase("conv2d") { try $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 2, padding: 1) },
    OpCase("conv2d_groups") { try $0[0].conv2d(weight: $0[1], padding: 2, dilation: 2, groups: 6) },
    OpCase("upsample_nearest") { try $0[0].upsampleNearest(height: 18, width: 18) },
    OpCase("pad") { try $0[0].pad([0, 1, 0, 1]) },
    OpCase("pad_value") { try $0[0].pad([2, 1, 1, 0], value: -3) },
    OpCase("randn_seed42", tolerance: 0) { _ in try Tensor.randn([1, 16, 4, 4], generator: RandomGenerator(seed: 42)) },
    OpCase("randn_seed_large", tolerance: 0) { _ in try Tensor.randn([3, 5], generator: RandomGenerator(seed: (1 << 40) + 7)) },
    OpCase("arange", tolerance: 0) { _ in try Tensor.arange(0, 10, step: 1.5) },
    OpCase("index_select", tolerance: 0) { try $0[0].indexSelect(dim: 0, index: Tensor([4, 0, 6, 4] as [Int64], shape: [4])) },
    OpCase("linspace", tolerance: 0) { _ in try Tensor.linspace(1, 1.0 / 28, count: 28) },
    OpCase("to_bfloat16", tolerance: 0) { try $0[0].to(.bfloat16).to(.float32) },
    OpCase("to_float16", tolerance: 0) { try $0[0].to(.float16).to(.float32) },
    OpCase("to_float8_e4m3fn", tolerance: 0) { try $0[0].to(.float8E4M3FN).to(.float32) },
    OpCase("bfloat16_matmul", tolerance: 1e-2) { try $0[0].to(.bfloat16).matmul($0[1].to(.bfloat16)).to(.float32) },
]

@Suite("ops match PyTorch")
struct OpParityTests {
    @Test(arguments: opCases)
    func matchesPyTorch(_ op: OpCase) throws {
        let file = try Fixtures.open("torch_ops.safetensors")
        var inputs: [Tensor] = []
        while let info = file.info("\(op.name).in\(inputs.count)") {
            inputs.append(try Tensor(info, in: file))
        }
        let expectedInfo = try #require(file.info("\(op.name).out"), "fixture has no \(op.name).out")
        let expected = try Tensor(expectedInfo, in: file)
        let actual = try op.apply(inputs)
        #expect(actual.shape == expected.shape, "\(op.name): shape \(actual.shape), expected \(expected.shape)")
        expectClose(
            try actual.toArray(of: Float.self), try expected.toArray(of: Float.self),
            absolute: op.tolerance, relative: op.tolerance, op.name)
    }

    @Test func everyFixtureCaseIsTested() throws {
        let file = try Fixtures.open("torch_ops.safetensors")
        let fixtureCases = Set(file.names.filter { $0.hasSuffix(".out") }.map { String($0.dropLast(4)) })
        #expect(fixtureCases == Set(opCases.map(\.name)))
    }
}
