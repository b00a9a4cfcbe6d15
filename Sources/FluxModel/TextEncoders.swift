import Foundation
import Torch

/// `text_encoder/config.json`: the CLIP text model (CLIP-L/14 for FLUX).
public struct CLIPTextConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    public var hiddenAct: String
    public var layerNormEps: Double
    public var eosTokenId: Int

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
        case eosTokenId = "eos_token_id"
    }

    func validate() throws(ModelError) {
        guard ["quick_gelu", "gelu"].contains(hiddenAct) else { throw .invalidModel("text_encoder config: unsupported hidden_act \(hiddenAct)") }
        guard hiddenSize % numAttentionHeads == 0 else { throw .invalidModel("text_encoder config: hidden_size not divisible by heads") }
    }
}

/// The CLIP text transformer (transformers' `CLIPTextModel`); FLUX uses only its pooled output.
public struct CLIPTextEncoder: @unchecked Sendable {
    public let config: CLIPTextConfig
    let tokenEmbedding: Embedding
    let positionEmbedding: Embedding
    let layers: [Layer]
    let finalNorm: LayerNorm

    struct Layer {
        let norm1: LayerNorm, norm2: LayerNorm
        let q: Linear, k: Linear, v: Linear, out: Linear
        let fc1: Linear, fc2: Linear
    }

    init(_ scope: WeightScope, config: CLIPTextConfig) throws(ModelError) {
        try config.validate()
        self.config = config
        let hidden = config.hiddenSize
        tokenEmbedding = try Embedding(scope.child("embeddings.token_embedding"), count: config.vocabSize, size: hidden)
        positionEmbedding = try Embedding(scope.child("embeddings.position_embedding"), count: config.maxPositionEmbeddings, size: hidden)
        var layers = [Layer]()
        for index in 0..<config.numHiddenLayers {
            let layer = scope.child("encoder.layers.\(index)")
            let attention = layer.child("self_attn")
            layers.append(Layer(
                norm1: try LayerNorm(layer.child("layer_norm1"), size: hidden, eps: config.layerNormEps),
                norm2: try LayerNorm(layer.child("layer_norm2"), size: hidden, eps: config.layerNormEps),
                q: try Linear(attention.child("q_proj"), input: hidden, output: hidden),
                k: try Linear(attention.child("k_proj"), input: hidden, output: hidden),
                v: try Linear(attention.child("v_proj"), input: hidden, output: hidden),
                out: try Linear(attention.child("out_proj"), input: hidden, output: hidden),
                fc1: try Linear(layer.child("mlp.fc1"), input: hidden, output: config.intermediateSize),
                fc2: try Linear(layer.child("mlp.fc2"), input: config.intermediateSize, output: hidden)))
        }
        self.layers = layers
        finalNorm = try LayerNorm(scope.child("final_layer_norm"), size: hidden, eps: config.layerNormEps)
    }

    /// The pooled embedding (B, hidden): the final hidden state at each sequence's first end-of-text token.
    public func pooled(tokens: [[Int]], device: Device) throws(TorchError) -> Tensor {
        let length = tokens.first?.count ?? 0
        guard length > 0, tokens.allSatisfy({ $0.count == length }), length <= config.maxPositionEmbeddings else {
            throw .invalidArgument("CLIP takes equal-length token sequences of at most \(config.maxPositionEmbeddings)")
        }
        let batch = tokens.count
        let ids = try Tensor(tokens.flatMap { $0.map(Int64.init) }, shape: [batch * length]).to(device)
        let positions = try Tensor.arange(0, Double(length), step: 1, dtype: .int64).to(device)
        let hiddenSize = config.hiddenSize
        var h = try tokenEmbedding.weight.indexSelect(dim: 0, index: ids).reshaped([batch, length, hiddenSize])
            + positionEmbedding.weight.indexSelect(dim: 0, index: positions).unsqueezed(0)
        let heads = config.numAttentionHeads
        let headDim = hiddenSize / heads
        for layer in layers {
            let x = try layer.norm1(h)
            func split(_ t: Tensor) throws(TorchError) -> Tensor { try t.reshaped([batch, length, heads, headDim]).transposed(1, 2) }
            let attended = try Tensor.scaledDotProductAttention(
                query: split(layer.q(x)), key: split(layer.k(x)), value: split(layer.v(x)), causal: true)
            h = try h + layer.out(attended.transposed(1, 2).reshaped([batch, length, hiddenSize]))
            let y = try layer.fc1(layer.norm2(h))
            let activated = config.hiddenAct == "quick_gelu" ? try y * (y * 1.702).sigmoid() : try y.gelu()
            h = try h + layer.fc2(activated)
        }
        h = try finalNorm(h)
        // The first end-of-text token (transformers' rule when eos_token_id is not the legacy 2).
        let eos = config.eosTokenId
        let pooledIndex: [Int64] = tokens.enumerated().map { row, sequence in
            let position = eos == 2 ? sequence.indices.max { sequence[$0] < sequence[$1] } ?? 0 : sequence.firstIndex(of: eos) ?? 0
            return Int64(row * length + position)
        }
        return try h.reshaped([batch * length, hiddenSize]).indexSelect(dim: 0, index: Tensor(pooledIndex, shape: [batch]).to(device))
    }
}

/// `text_encoder_2/config.json`: the T5 v1.1 encoder (T5-XXL for FLUX).
public struct T5Config: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var dModel: Int
    public var dKv: Int
    public var dFf: Int
    public var numLayers: Int
    public var numHeads: Int
    public var relativeAttentionNumBuckets: Int
    public var relativeAttentionMaxDistance: Int
    public var layerNormEpsilon: Double
    public var feedForwardProj: String

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", dModel = "d_model", dKv = "d_kv", dFf = "d_ff", numLayers = "num_layers"
        case numHeads = "num_heads", relativeAttentionNumBuckets = "relative_attention_num_buckets"
        case relativeAttentionMaxDistance = "relative_attention_max_distance", layerNormEpsilon = "layer_norm_epsilon"
        case feedForwardProj = "feed_forward_proj"
    }

    func validate() throws(ModelError) {
        guard feedForwardProj == "gated-gelu" else {
            throw .invalidModel("text_encoder_2 config: feed_forward_proj \(feedForwardProj) is not T5 v1.1's gated-gelu")
        }
    }
}

/// The T5 v1.1 encoder (transformers' `T5EncoderModel`): relative position buckets, gated-GELU
/// feed-forward, RMS layer norms computed in float32.
public struct T5TextEncoder: @unchecked Sendable {
    public let config: T5Config
    let embedding: Embedding
    let relativeBias: Embedding
    let layers: [Layer]
    let finalNorm: T5LayerNorm

    struct Layer {
        let attentionNorm: T5LayerNorm
        let q: Linear, k: Linear, v: Linear, o: Linear
        let feedForwardNorm: T5LayerNorm
        let wi0: Linear, wi1: Linear, wo: Linear
    }

    init(_ scope: WeightScope, config: T5Config) throws(ModelError) {
        try config.validate()
        self.config = config
        let model = config.dModel
        let inner = config.numHeads * config.dKv
        embedding = try Embedding(scope.child("shared"), count: config.vocabSize, size: model)
        let encoder = scope.child("encoder")
        relativeBias = try Embedding(
            encoder.child("block.0.layer.0.SelfAttention.relative_attention_bias"), count: config.relativeAttentionNumBuckets,
            size: config.numHeads)
        var layers = [Layer]()
        for index in 0..<config.numLayers {
            let block = encoder.child("block.\(index)")
            let attention = block.child("layer.0.SelfAttention")
            let dense = block.child("layer.1.DenseReluDense")
            layers.append(Layer(
                attentionNorm: try T5LayerNorm(block.child("layer.0.layer_norm"), size: model, eps: config.layerNormEpsilon),
                q: try Linear(attention.child("q"), input: model, output: inner, bias: false),
                k: try Linear(attention.child("k"), input: model, output: inner, bias: false),
                v: try Linear(attention.child("v"), input: model, output: inner, bias: false),
                o: try Linear(attention.child("o"), input: inner, output: model, bias: false),
                feedForwardNorm: try T5LayerNorm(block.child("layer.1.layer_norm"), size: model, eps: config.layerNormEpsilon),
                wi0: try Linear(dense.child("wi_0"), input: model, output: config.dFf, bias: false),
                wi1: try Linear(dense.child("wi_1"), input: model, output: config.dFf, bias: false),
                wo: try Linear(dense.child("wo"), input: config.dFf, output: model, bias: false)))
        }
        self.layers = layers
        finalNorm = try T5LayerNorm(encoder.child("final_layer_norm"), size: model, eps: config.layerNormEpsilon)
    }

    /// The last hidden state (B, tokens, d_model).
    public func encode(tokens: [[Int]], device: Device) throws(TorchError) -> Tensor {
        let length = tokens.first?.count ?? 0
        guard length > 0, tokens.allSatisfy({ $0.count == length }) else { throw .invalidArgument("T5 takes equal-length token sequences") }
        let batch = tokens.count
        let ids = try Tensor(tokens.flatMap { $0.map(Int64.init) }, shape: [batch * length]).to(device)
        var h = try embedding.weight.indexSelect(dim: 0, index: ids).reshaped([batch, length, config.dModel])
        let bias = try positionBias(length: length, device: device).to(h.dtype)
        let (heads, headDim) = (config.numHeads, config.dKv)
        for layer in layers {
            let x = try layer.attentionNorm(h)
            func split(_ t: Tensor) throws(TorchError) -> Tensor { try t.reshaped([batch, length, heads, headDim]).transposed(1, 2) }
            // T5 does not scale the scores; the position bias is added before the softmax.
            let attended = try Tensor.scaledDotProductAttention(
                query: split(layer.q(x)), key: split(layer.k(x)), value: split(layer.v(x)), mask: bias, scale: 1)
            h = try h + layer.o(attended.transposed(1, 2).reshaped([batch, length, heads * headDim]))
            let y = try layer.feedForwardNorm(h)
            var gated = try newGELU(layer.wi0(y)) * layer.wi1(y)
            if gated.dtype != layer.wo.weight.dtype { gated = try gated.to(layer.wo.weight.dtype) }
            h = try h + layer.wo(gated)
            if h.dtype == .float16 { h = try h.clamp(min: -64504, max: 64504) }
        }
        return try finalNorm(h)
    }

    /// (1, heads, length, length) bias from the bucketed relative distances (bidirectional).
    func positionBias(length: Int, device: Device) throws(TorchError) -> Tensor {
        let buckets = try relativeBuckets(length: length)
        let index = try Tensor(buckets.map(Int64.init), shape: [length * length]).to(device)
        return try relativeBias.weight.indexSelect(dim: 0, index: index).reshaped([length, length, config.numHeads])
            .permuted([2, 0, 1]).unsqueezed(0)
    }

    /// transformers' `_relative_position_bucket(bidirectional=True)` for every (query, key) pair:
    /// half the buckets per direction, exact below half of those, logarithmic up to max_distance.
    func relativeBuckets(length: Int) throws(TorchError) -> [Int] {
        let perDirection = config.relativeAttentionNumBuckets / 2
        let maxExact = perDirection / 2
        // The logarithmic buckets computed by the same float32 tensor operations as the reference.
        var large = [Int](repeating: 0, count: max(length, maxExact))
        if length > maxExact {
            let distances = try Tensor.arange(Double(maxExact), Double(length), step: 1, dtype: .float32)
            let scaled = try ((distances / Double(maxExact)).log() / Foundation.log(Double(config.relativeAttentionMaxDistance) / Double(maxExact))
                * Double(perDirection - maxExact)).to(.int64).toArray(of: Int64.self)
            for (offset, value) in scaled.enumerated() { large[maxExact + offset] = min(maxExact + Int(value), perDirection - 1) }
        }
        var buckets = [Int](repeating: 0, count: length * length)
        for query in 0..<length {
            for key in 0..<length {
                let relative = key - query
                let distance = abs(relative)
                buckets[query * length + key] = (relative > 0 ? perDirection : 0) + (distance < maxExact ? distance : large[distance])
            }
        }
        return buckets
    }
}

/// T5's RMS norm: variance in float32, no mean subtraction, no bias.
struct T5LayerNorm {
    let weight: Tensor
    let eps: Double

    init(_ scope: WeightScope, size: Int, eps: Double) throws(ModelError) {
        weight = try scope("weight", [size])
        self.eps = eps
    }

    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor {
        let variance = try x.to(.float32).pow(2).mean(dims: [-1], keepDims: true)
        var normed = try x * (variance + eps).rsqrt()
        if weight.dtype == .float16 || weight.dtype == .bfloat16 { normed = try normed.to(weight.dtype) }
        return try weight * normed
    }
}

/// transformers' `NewGELUActivation` ("gelu_new"), written out as the reference computes it.
func newGELU(_ x: Tensor) throws(TorchError) -> Tensor {
    let inner = try (x + x.pow(3) * 0.044715) * (2.0 / Double.pi).squareRoot()
    return try x * 0.5 * (inner.tanh() + 1)
}
