import Torch

/// `vae/config.json` of the FLUX autoencoder (diffusers' `AutoencoderKL`).
public struct AutoencoderConfig: Codable, Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var latentChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var normNumGroups: Int
    public var scalingFactor: Double
    public var shiftFactor: Double?
    public var useQuantConv: Bool?
    public var usePostQuantConv: Bool?
    public var midBlockAddAttention: Bool?

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", latentChannels = "latent_channels"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block", normNumGroups = "norm_num_groups"
        case scalingFactor = "scaling_factor", shiftFactor = "shift_factor", useQuantConv = "use_quant_conv"
        case usePostQuantConv = "use_post_quant_conv", midBlockAddAttention = "mid_block_add_attention"
    }

    /// FLUX.1's autoencoder.
    public static let flux = AutoencoderConfig(
        inChannels: 3, outChannels: 3, latentChannels: 16, blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2,
        normNumGroups: 32, scalingFactor: 0.3611, shiftFactor: 0.1159, useQuantConv: false, usePostQuantConv: false,
        midBlockAddAttention: true)

    /// Pixels per latent cell along each side.
    public var downsamplingFactor: Int { 1 << (blockOutChannels.count - 1) }

    func validate() throws(ModelError) {
        guard !blockOutChannels.isEmpty, blockOutChannels.allSatisfy({ $0 % normNumGroups == 0 }) else {
            throw .invalidModel("vae config: block_out_channels \(blockOutChannels) must be multiples of norm_num_groups \(normNumGroups)")
        }
        guard useQuantConv != true, usePostQuantConv != true, midBlockAddAttention != false else {
            throw .invalidModel("vae config: only the FLUX layout is supported (no quant convs, mid-block attention)")
        }
    }
}

/// The FLUX VAE (diffusers' `AutoencoderKL` with `DownEncoderBlock2D`/`UpDecoderBlock2D`, no quant convs).
public struct Autoencoder: @unchecked Sendable {
    public let config: AutoencoderConfig
    let encoderConvIn: Conv2d
    let encoderDown: [(resnets: [ResnetBlock], downsample: Conv2d?)]
    let encoderMid: MidBlock
    let encoderNormOut: GroupNorm
    let encoderConvOut: Conv2d
    let decoderConvIn: Conv2d
    let decoderMid: MidBlock
    let decoderUp: [(resnets: [ResnetBlock], upsample: Conv2d?)]
    let decoderNormOut: GroupNorm
    let decoderConvOut: Conv2d

    init(_ scope: WeightScope, config: AutoencoderConfig) throws(ModelError) {
        try config.validate()
        self.config = config
        let channels = config.blockOutChannels
        let groups = config.normNumGroups
        let encoder = scope.child("encoder")
        encoderConvIn = try Conv2d(encoder.child("conv_in"), input: config.inChannels, output: channels[0], kernel: 3, padding: 1)
        var down = [(resnets: [ResnetBlock], downsample: Conv2d?)]()
        var previous = channels[0]
        for (level, width) in channels.enumerated() {
            let block = encoder.child("down_blocks.\(level)")
            var resnets = [ResnetBlock]()
            for index in 0..<config.layersPerBlock {
                resnets.append(try ResnetBlock(block.child("resnets.\(index)"), input: index == 0 ? previous : width, output: width, groups: groups))
            }
            let isLast = level == channels.count - 1
            down.append((resnets, isLast ? nil : try Conv2d(block.child("downsamplers.0.conv"), input: width, output: width, kernel: 3, stride: 2)))
            previous = width
        }
        encoderDown = down
        let top = channels[channels.count - 1]
        encoderMid = try MidBlock(encoder.child("mid_block"), channels: top, groups: groups)
        encoderNormOut = try GroupNorm(encoder.child("conv_norm_out"), groups: groups, channels: top, eps: 1e-6)
        encoderConvOut = try Conv2d(encoder.child("conv_out"), input: top, output: 2 * config.latentChannels, kernel: 3, padding: 1)

        let decoder = scope.child("decoder")
        decoderConvIn = try Conv2d(decoder.child("conv_in"), input: config.latentChannels, output: top, kernel: 3, padding: 1)
        decoderMid = try MidBlock(decoder.child("mid_block"), channels: top, groups: groups)
        var up = [(resnets: [ResnetBlock], upsample: Conv2d?)]()
        previous = top
        for (level, width) in channels.reversed().enumerated() {
            let block = decoder.child("up_blocks.\(level)")
            var resnets = [ResnetBlock]()
            for index in 0...config.layersPerBlock {
                resnets.append(try ResnetBlock(block.child("resnets.\(index)"), input: index == 0 ? previous : width, output: width, groups: groups))
            }
            let isLast = level == channels.count - 1
            up.append((resnets, isLast ? nil : try Conv2d(block.child("upsamplers.0.conv"), input: width, output: width, kernel: 3, padding: 1)))
            previous = width
        }
        decoderUp = up
        decoderNormOut = try GroupNorm(decoder.child("conv_norm_out"), groups: groups, channels: channels[0], eps: 1e-6)
        decoderConvOut = try Conv2d(decoder.child("conv_out"), input: channels[0], output: config.outChannels, kernel: 3, padding: 1)
    }

    /// The mean of the latent distribution of images (B, 3, H, W) in [-1, 1]: (B, latent, H/f, W/f).
    public func encodeMean(_ images: Tensor) throws(TorchError) -> Tensor {
        var x = try encoderConvIn(images)
        for level in encoderDown {
            for resnet in level.resnets { x = try resnet(x) }
            // Downsample2D(padding=0): pad right and bottom by one, then a stride-2 convolution.
            if let downsample = level.downsample { x = try downsample(x.pad([0, 1, 0, 1])) }
        }
        x = try encoderMid(x)
        x = try encoderConvOut(encoderNormOut(x).silu())
        return try x.narrowed(dim: 1, start: 0, length: config.latentChannels)
    }

    /// Images (B, 3, H, W), roughly in [-1, 1], from latents (B, latent, h, w).
    public func decode(_ latents: Tensor) throws(TorchError) -> Tensor {
        var x = try decoderMid(decoderConvIn(latents))
        for level in decoderUp {
            for resnet in level.resnets { x = try resnet(x) }
            if let upsample = level.upsample {
                let shape = x.shape
                x = try upsample(x.upsampleNearest(height: shape[2] * 2, width: shape[3] * 2))
            }
        }
        return try decoderConvOut(decoderNormOut(x).silu())
    }
}

/// diffusers' `ResnetBlock2D` (GroupNorm eps 1e-6, SiLU, no time embedding).
struct ResnetBlock {
    let norm1: GroupNorm, conv1: Conv2d, norm2: GroupNorm, conv2: Conv2d
    let shortcut: Conv2d?

    init(_ scope: WeightScope, input: Int, output: Int, groups: Int) throws(ModelError) {
        norm1 = try GroupNorm(scope.child("norm1"), groups: groups, channels: input, eps: 1e-6)
        conv1 = try Conv2d(scope.child("conv1"), input: input, output: output, kernel: 3, padding: 1)
        norm2 = try GroupNorm(scope.child("norm2"), groups: groups, channels: output, eps: 1e-6)
        conv2 = try Conv2d(scope.child("conv2"), input: output, output: output, kernel: 3, padding: 1)
        shortcut = input != output ? try Conv2d(scope.child("conv_shortcut"), input: input, output: output, kernel: 1) : nil
    }

    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor {
        let h = try conv2(norm2(conv1(norm1(x).silu())).silu())
        let residual = try shortcut.map { shortcut throws(TorchError) in try shortcut(x) } ?? x
        return try residual + h
    }
}

/// Resnet, single-head self-attention over all pixels, resnet (diffusers' `UNetMidBlock2D`).
struct MidBlock {
    let first: ResnetBlock, second: ResnetBlock
    let norm: GroupNorm
    let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear

    init(_ scope: WeightScope, channels: Int, groups: Int) throws(ModelError) {
        first = try ResnetBlock(scope.child("resnets.0"), input: channels, output: channels, groups: groups)
        second = try ResnetBlock(scope.child("resnets.1"), input: channels, output: channels, groups: groups)
        let attention = scope.child("attentions.0")
        norm = try GroupNorm(attention.child("group_norm"), groups: groups, channels: channels, eps: 1e-6)
        toQ = try Linear(attention.child("to_q"), input: channels, output: channels)
        toK = try Linear(attention.child("to_k"), input: channels, output: channels)
        toV = try Linear(attention.child("to_v"), input: channels, output: channels)
        toOut = try Linear(attention.child("to_out.0"), input: channels, output: channels)
    }

    /// The attention follows diffusers' `AttnProcessor2_0` view for view: the group norm runs on the
    /// (B, C, H*W) view, not the 4D tensor, because ATen normalises a channels-last 4D tensor with
    /// a different kernel, which rounds differently.
    func callAsFunction(_ x: Tensor) throws(TorchError) -> Tensor {
        let h = try first(x)
        let shape = h.shape
        let (batch, channels, height, width) = (shape[0], shape[1], shape[2], shape[3])
        let tokens = try norm(h.reshaped([batch, channels, height * width])).transposed(1, 2)
        func heads(_ t: Tensor) throws(TorchError) -> Tensor { try t.reshaped([batch, height * width, 1, channels]).transposed(1, 2) }
        let attended = try Tensor.scaledDotProductAttention(query: heads(toQ(tokens)), key: heads(toK(tokens)), value: heads(toV(tokens)))
            .transposed(1, 2).reshaped([batch, height * width, channels])
        let projected = try toOut(attended).transposed(1, 2).reshaped([batch, channels, height, width])
        return try second(projected + h)
    }
}
