import Foundation
import Torch

/// `transformer/config.json` of a FLUX model (diffusers' `FluxTransformer2DModel`).
public struct FluxTransformerConfig: Codable, Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int?
    public var numLayers: Int
    public var numSingleLayers: Int
    public var attentionHeadDim: Int
    public var numAttentionHeads: Int
    public var jointAttentionDim: Int
    public var pooledProjectionDim: Int
    public var guidanceEmbeds: Bool
    public var axesDimsRope: [Int]

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", numLayers = "num_layers"
        case numSingleLayers = "num_single_layers", attentionHeadDim = "attention_head_dim"
        case numAttentionHeads = "num_attention_heads", jointAttentionDim = "joint_attention_dim"
        case pooledProjectionDim = "pooled_projection_dim", guidanceEmbeds = "guidance_embeds"
        case axesDimsRope = "axes_dims_rope"
    }

    /// FLUX.1 Kontext [dev] itself.
    public static let kontextDev = FluxTransformerConfig(
        inChannels: 64, outChannels: nil, numLayers: 19, numSingleLayers: 38, attentionHeadDim: 128, numAttentionHeads: 24,
        jointAttentionDim: 4096, pooledProjectionDim: 768, guidanceEmbeds: true, axesDimsRope: [16, 56, 56])

    /// Width of the token stream.
    public var innerDim: Int { numAttentionHeads * attentionHeadDim }

    func validate() throws(ModelError) {
        guard axesDimsRope.reduce(0, +) == attentionHeadDim, axesDimsRope.allSatisfy({ $0 > 0 && $0 % 2 == 0 }) else {
            throw .invalidModel("transformer config: axes_dims_rope \(axesDimsRope) must be even and sum to attention_head_dim \(attentionHeadDim)")
        }
        guard inChannels % 4 == 0, numAttentionHeads > 0, numLayers >= 0, numSingleLayers >= 0 else {
            throw .invalidModel("transformer config: in_channels must be 4 x the latent channels, heads positive")
        }
    }
}

/// The FLUX rectified-flow transformer (diffusers' `FluxTransformer2DModel`): double-stream blocks
/// over text and image tokens, then single-stream blocks over both, conditioned by AdaLN
/// modulation from the timestep, guidance and pooled CLIP embedding.
public struct FluxTransformer: @unchecked Sendable {
    public let config: FluxTransformerConfig
    let xEmbedder: Linear
    let contextEmbedder: Linear
    let timestepEmbedder: MLPEmbedder
    let guidanceEmbedder: MLPEmbedder?
    let textEmbedder: MLPEmbedder
    let doubleBlocks: [DoubleStreamBlock]
    let singleBlocks: [SingleStreamBlock]
    let normOut: Linear
    let projOut: Linear
    let rotary: RotaryEmbedding

    /// - Parameter fp8: store the blocks' linear layers (attention and MLP, 98% of the weights) in fp8.
    init(_ scope: WeightScope, config: FluxTransformerConfig, fp8: Bool = false) throws(ModelError) {
        try config.validate()
        self.config = config
        let inner = config.innerDim
        xEmbedder = try Linear(scope.child("x_embedder"), input: config.inChannels, output: inner)
        contextEmbedder = try Linear(scope.child("context_embedder"), input: config.jointAttentionDim, output: inner)
        let embed = scope.child("time_text_embed")
        timestepEmbedder = try MLPEmbedder(embed.child("timestep_embedder"), input: 256, output: inner)
        guidanceEmbedder = config.guidanceEmbeds ? try MLPEmbedder(embed.child("guidance_embedder"), input: 256, output: inner) : nil
        textEmbedder = try MLPEmbedder(embed.child("text_embedder"), input: config.pooledProjectionDim, output: inner)
        var doubleBlocks = [DoubleStreamBlock]()
        for index in 0..<config.numLayers {
            doubleBlocks.append(try DoubleStreamBlock(scope.child("transformer_blocks.\(index)").storingLinearsInFP8(fp8), config: config))
        }
        var singleBlocks = [SingleStreamBlock]()
        for index in 0..<config.numSingleLayers {
            singleBlocks.append(try SingleStreamBlock(scope.child("single_transformer_blocks.\(index)").storingLinearsInFP8(fp8), config: config))
        }
        self.doubleBlocks = doubleBlocks
        self.singleBlocks = singleBlocks
        normOut = try Linear(scope.child("norm_out.linear"), input: inner, output: 2 * inner)
        projOut = try Linear(scope.child("proj_out"), input: inner, output: config.outChannels ?? config.inChannels)
        rotary = RotaryEmbedding(axes: config.axesDimsRope)
    }

    /// The velocity for `hidden` (B, image tokens, in_channels), as diffusers' forward.
    /// - Parameters:
    ///   - encoder: T5 embeddings (B, text tokens, joint_attention_dim).
    ///   - pooled: pooled CLIP embedding (B, pooled_projection_dim).
    ///   - timestep: (B) in [0, 1] (sigma), float32.
    ///   - guidance: (B) distilled guidance scale, float32; required when the model embeds guidance.
    ///   - imageIds: (image tokens, 3) position ids; textIds: (text tokens, 3).
    public func callAsFunction(
        hidden: Tensor, encoder: Tensor, pooled: Tensor, timestep: Tensor, guidance: Tensor?, imageIds: Tensor, textIds: Tensor
    ) throws(TorchError) -> Tensor {
        try forward(
            hidden: hidden, encoder: encoder, conditioning: conditioning(timestep: timestep, guidance: guidance, pooled: pooled),
            rotary: rotaryTable(ids: Tensor.cat([textIds, imageIds], dim: 0)))
    }

    /// The rotary cos/sin tables for position ids (text tokens first, then image tokens). They
    /// depend only on the ids, so a sampling loop computes them once.
    public func rotaryTable(ids: Tensor) throws(TorchError) -> (Tensor, Tensor) { try rotary.cosSin(ids: ids) }

    /// Timestep, guidance and pooled-text embedding summed: the vector every modulation reads.
    public func conditioning(timestep: Tensor, guidance: Tensor?, pooled: Tensor) throws(TorchError) -> Tensor {
        let dtype = pooled.dtype
        var embedding = try timestepEmbedder(timestepProjection(timestep.to(dtype) * 1000).to(dtype))
        if let guidanceEmbedder {
            guard let guidance else { throw .invalidArgument("this transformer embeds guidance; pass a guidance scale") }
            embedding = try embedding + guidanceEmbedder(timestepProjection(guidance.to(dtype) * 1000).to(dtype))
        }
        return try embedding + textEmbedder(pooled)
    }

    /// The forward pass from a precomputed conditioning vector and rotary table. With a `cache`,
    /// a step whose first block changes little from the last full pass reuses that pass's later
    /// blocks (see `FirstBlockCache`).
    public func forward(
        hidden: Tensor, encoder: Tensor, conditioning: Tensor, rotary: (Tensor, Tensor), cache: FirstBlockCache? = nil
    ) throws(TorchError) -> Tensor {
        var image = try xEmbedder(hidden)
        var text = try contextEmbedder(encoder)
        var remaining = doubleBlocks[...]
        if let cache, let first = doubleBlocks.first {
            let entering = image
            (text, image) = try first(image: image, text: text, conditioning: conditioning, rotary: rotary)
            if let reused = try cache.reusableResidual(for: image - entering) {
                return try finalLayer(image + reused, conditioning: conditioning)
            }
            remaining = doubleBlocks.dropFirst()
            let afterFirst = image
            image = try laterBlocks(remaining, image: image, text: text, conditioning: conditioning, rotary: rotary)
            cache.store(laterBlocksResidual: try image - afterFirst)
            return try finalLayer(image, conditioning: conditioning)
        }
        image = try laterBlocks(remaining, image: image, text: text, conditioning: conditioning, rotary: rotary)
        return try finalLayer(image, conditioning: conditioning)
    }

    /// The given double blocks, then every single block; returns the image stream.
    private func laterBlocks(
        _ blocks: ArraySlice<DoubleStreamBlock>, image: Tensor, text: Tensor, conditioning: Tensor, rotary: (Tensor, Tensor)
    ) throws(TorchError) -> Tensor {
        var (image, text) = (image, text)
        for block in blocks {
            (text, image) = try block(image: image, text: text, conditioning: conditioning, rotary: rotary)
        }
        let textLength = text.shape[1]
        var joint = try Tensor.cat([text, image], dim: 1)
        for block in singleBlocks {
            joint = try block(joint, conditioning: conditioning, rotary: rotary)
        }
        return try joint.narrowed(dim: 1, start: textLength, length: joint.shape[1] - textLength)
    }

    private func finalLayer(_ image: Tensor, conditioning: Tensor) throws(TorchError) -> Tensor {
        let modulation = try normOut(conditioning.silu().to(image.dtype)).chunked(2, dim: 1)
        let (scale, shift) = (modulation[0], modulation[1])
        let normed = try image.layerNorm(normalizedShape: [config.innerDim], eps: 1e-6)
        return try projOut(normed * (scale + 1).unsqueezed(1) + shift.unsqueezed(1))
    }
}

/// diffusers' `get_timestep_embedding(t, 256, flip_sin_to_cos=True, downscale_freq_shift=0)`:
/// [cos, sin] of t times 128 frequencies from 1 down to 1/10000, in float32.
func timestepProjection(_ timesteps: Tensor) throws(TorchError) -> Tensor {
    let half = 128
    let exponent = try Tensor.arange(0, Double(half), step: 1, dtype: .float32) * -log(10000.0) / Double(half)
    let arguments = try timesteps.to(.float32).unsqueezed(1) * exponent.exp().unsqueezed(0)
    return try Tensor.cat([arguments.cos(), arguments.sin()], dim: -1)
}

/// linear_1, SiLU, linear_2 (diffusers' `TimestepEmbedding` and `PixArtAlphaTextProjection`).
struct MLPEmbedder {
    let first: Linear
    let second: Linear

    init(_ scope: WeightScope, input: Int, output: Int) throws(ModelError) {
        first = try Linear(scope.child("linear_1"), input: input, output: output)
        second = try Linear(scope.child("linear_2"), input: output, output: output)
    }

    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor { try second(first(x).silu()) }
}

/// Attention of the FLUX blocks: per-head RMS-normalised queries and keys, rotary positions,
/// scaled dot-product attention over (batch, tokens, heads, head_dim) inputs.
struct FluxAttention {
    let heads: Int
    let headDim: Int

    func project(_ x: Tensor, _ linear: Linear, norm: RMSNorm?) throws(TorchError) -> Tensor {
        let shape = x.shape
        let split = try linear(x).reshaped([shape[0], shape[1], heads, headDim])
        return try norm.map { norm throws(TorchError) in try norm(split) } ?? split
    }

    /// softmax(q k^T / sqrt(d)) v for (B, S, H, D) inputs with rotary positions; returns (B, S, H * D).
    func attend(query: Tensor, key: Tensor, value: Tensor, rotary: (Tensor, Tensor)) throws(TorchError) -> Tensor {
        let q = try applyRotary(query, rotary).permuted([0, 2, 1, 3])
        let k = try applyRotary(key, rotary).permuted([0, 2, 1, 3])
        let output = try Tensor.scaledDotProductAttention(query: q, key: k, value: value.permuted([0, 2, 1, 3]))
        return try output.permuted([0, 2, 1, 3]).flattened(from: 2, through: 3).to(query.dtype)
    }
}

/// diffusers' `FluxTransformerBlock`: text and image tokens with their own weights, attending jointly.
struct DoubleStreamBlock {
    let attention: FluxAttention
    let imageModulation: Linear
    let textModulation: Linear
    let toQ: Linear, toK: Linear, toV: Linear
    let addQ: Linear, addK: Linear, addV: Linear
    let normQ: RMSNorm, normK: RMSNorm, normAddedQ: RMSNorm, normAddedK: RMSNorm
    let toOut: Linear, toAddOut: Linear
    let imageFeedForward: FeedForward
    let textFeedForward: FeedForward
    let inner: Int

    init(_ scope: WeightScope, config: FluxTransformerConfig) throws(ModelError) {
        let inner = config.innerDim
        let head = config.attentionHeadDim
        self.inner = inner
        attention = FluxAttention(heads: config.numAttentionHeads, headDim: head)
        imageModulation = try Linear(scope.child("norm1.linear"), input: inner, output: 6 * inner)
        textModulation = try Linear(scope.child("norm1_context.linear"), input: inner, output: 6 * inner)
        let attn = scope.child("attn")
        toQ = try Linear(attn.child("to_q"), input: inner, output: inner)
        toK = try Linear(attn.child("to_k"), input: inner, output: inner)
        toV = try Linear(attn.child("to_v"), input: inner, output: inner)
        addQ = try Linear(attn.child("add_q_proj"), input: inner, output: inner)
        addK = try Linear(attn.child("add_k_proj"), input: inner, output: inner)
        addV = try Linear(attn.child("add_v_proj"), input: inner, output: inner)
        normQ = try RMSNorm(attn.child("norm_q"), size: head, eps: 1e-6)
        normK = try RMSNorm(attn.child("norm_k"), size: head, eps: 1e-6)
        normAddedQ = try RMSNorm(attn.child("norm_added_q"), size: head, eps: 1e-6)
        normAddedK = try RMSNorm(attn.child("norm_added_k"), size: head, eps: 1e-6)
        toOut = try Linear(attn.child("to_out.0"), input: inner, output: inner)
        toAddOut = try Linear(attn.child("to_add_out"), input: inner, output: inner)
        imageFeedForward = try FeedForward(scope.child("ff"), dim: inner)
        textFeedForward = try FeedForward(scope.child("ff_context"), dim: inner)
    }

    func callAsFunction(image: Tensor, text: Tensor, conditioning: Tensor, rotary: (Tensor, Tensor)) throws(TorchError) -> (Tensor, Tensor) {
        let imageMod = try imageModulation(conditioning.silu()).chunked(6, dim: 1)
        let textMod = try textModulation(conditioning.silu()).chunked(6, dim: 1)
        let normedImage = try modulate(layerNorm(image), shift: imageMod[0], scale: imageMod[1])
        let normedText = try modulate(layerNorm(text), shift: textMod[0], scale: textMod[1])

        let query = try Tensor.cat(
            [attention.project(normedText, addQ, norm: normAddedQ), attention.project(normedImage, toQ, norm: normQ)], dim: 1)
        let key = try Tensor.cat(
            [attention.project(normedText, addK, norm: normAddedK), attention.project(normedImage, toK, norm: normK)], dim: 1)
        let value = try Tensor.cat(
            [attention.project(normedText, addV, norm: nil), attention.project(normedImage, toV, norm: nil)], dim: 1)
        let attended = try attention.attend(query: query, key: key, value: value, rotary: rotary)
        let textLength = text.shape[1]
        let parts = try attended.split(sizes: [textLength, attended.shape[1] - textLength], dim: 1)

        var image = try image + imageMod[2].unsqueezed(1) * toOut(parts[1].contiguous())
        let imageFF = try imageFeedForward(modulate(layerNorm(image), shift: imageMod[3], scale: imageMod[4]))
        image = try image + imageMod[5].unsqueezed(1) * imageFF

        var text = try text + textMod[2].unsqueezed(1) * toAddOut(parts[0].contiguous())
        let textFF = try textFeedForward(modulate(layerNorm(text), shift: textMod[3], scale: textMod[4]))
        text = try text + textMod[5].unsqueezed(1) * textFF
        if text.dtype == .float16 { text = try text.clamp(min: -65504, max: 65504) }
        return (text, image)
    }

    private func layerNorm(_ x: Tensor) throws(TorchError) -> Tensor { try x.layerNorm(normalizedShape: [inner], eps: 1e-6) }
}

/// diffusers' `FluxSingleTransformerBlock`: one fused stream of text then image tokens; attention
/// and MLP in parallel from the same modulated input.
struct SingleStreamBlock {
    let attention: FluxAttention
    let modulation: Linear
    let toQ: Linear, toK: Linear, toV: Linear
    let normQ: RMSNorm, normK: RMSNorm
    let projMLP: Linear
    let projOut: Linear
    let inner: Int

    init(_ scope: WeightScope, config: FluxTransformerConfig) throws(ModelError) {
        let inner = config.innerDim
        self.inner = inner
        attention = FluxAttention(heads: config.numAttentionHeads, headDim: config.attentionHeadDim)
        modulation = try Linear(scope.child("norm.linear"), input: inner, output: 3 * inner)
        let attn = scope.child("attn")
        toQ = try Linear(attn.child("to_q"), input: inner, output: inner)
        toK = try Linear(attn.child("to_k"), input: inner, output: inner)
        toV = try Linear(attn.child("to_v"), input: inner, output: inner)
        normQ = try RMSNorm(attn.child("norm_q"), size: config.attentionHeadDim, eps: 1e-6)
        normK = try RMSNorm(attn.child("norm_k"), size: config.attentionHeadDim, eps: 1e-6)
        projMLP = try Linear(scope.child("proj_mlp"), input: inner, output: 4 * inner)
        projOut = try Linear(scope.child("proj_out"), input: 5 * inner, output: inner)
    }

    func callAsFunction(_ joint: Tensor, conditioning: Tensor, rotary: (Tensor, Tensor)) throws(TorchError) -> Tensor {
        let mod = try modulation(conditioning.silu()).chunked(3, dim: 1)
        let normed = try modulate(joint.layerNorm(normalizedShape: [inner], eps: 1e-6), shift: mod[0], scale: mod[1])
        let mlp = try projMLP(normed).gelu(tanhApproximation: true)
        let attended = try attention.attend(
            query: attention.project(normed, toQ, norm: normQ), key: attention.project(normed, toK, norm: normK),
            value: attention.project(normed, toV, norm: nil), rotary: rotary)
        var output = try joint + mod[2].unsqueezed(1) * projOut(Tensor.cat([attended, mlp], dim: 2))
        if output.dtype == .float16 { output = try output.clamp(min: -65504, max: 65504) }
        return output
    }
}

/// diffusers' `FeedForward(dim, activation_fn="gelu-approximate")`: 4x expansion, tanh GELU.
struct FeedForward {
    let up: Linear
    let down: Linear

    init(_ scope: WeightScope, dim: Int) throws(ModelError) {
        up = try Linear(scope.child("net.0.proj"), input: dim, output: 4 * dim)
        down = try Linear(scope.child("net.2"), input: 4 * dim, output: dim)
    }

    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor { try down(up(x).gelu(tanhApproximation: true)) }
}

/// AdaLN: `x * (1 + scale) + shift`, the per-sample vectors broadcast over tokens.
func modulate(_ x: Tensor, shift: Tensor, scale: Tensor) throws(TorchError) -> Tensor {
    try x * (scale + 1).unsqueezed(1) + shift.unsqueezed(1)
}
