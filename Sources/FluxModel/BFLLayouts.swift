import Foundation

/// Black Forest Labs' single-file transformer keys (`flux1-kontext-dev.safetensors`), as diffusers'
/// `convert_flux_transformer_checkpoint_to_diffusers` maps them: fused qkv and qkv+mlp projections
/// are sliced by rows, and the final modulation's (shift, scale) halves are swapped.
public struct BFLTransformerLayout: WeightLayout {
    public let name = "BFL"
    let innerDim: Int

    public init(config: FluxTransformerConfig) {
        innerDim = config.innerDim
    }

    public func location(of parameter: String, shape: [Int]) -> WeightLocation {
        let parts = parameter.split(separator: ".").map(String.init)
        let kind = parts.last ?? ""
        let fixed: [String: String] = [
            "time_text_embed.timestep_embedder.linear_1": "time_in.in_layer",
            "time_text_embed.timestep_embedder.linear_2": "time_in.out_layer",
            "time_text_embed.guidance_embedder.linear_1": "guidance_in.in_layer",
            "time_text_embed.guidance_embedder.linear_2": "guidance_in.out_layer",
            "time_text_embed.text_embedder.linear_1": "vector_in.in_layer",
            "time_text_embed.text_embedder.linear_2": "vector_in.out_layer",
            "context_embedder": "txt_in", "x_embedder": "img_in", "proj_out": "final_layer.linear",
        ]
        let module = parts.dropLast().joined(separator: ".")
        if let key = fixed[module] { return WeightLocation(key: "\(key).\(kind)") }
        if module == "norm_out.linear" { return WeightLocation(key: "final_layer.adaLN_modulation.1.\(kind)", swapsHalves: true) }
        guard parts.count >= 3, let index = Int(parts[1]) else { return WeightLocation(key: parameter) }
        let inner = parts.dropFirst(2).dropLast().joined(separator: ".")
        let qkvRow: [String: Int] = ["q": 0, "k": 1, "v": 2]
        if parts[0] == "transformer_blocks" {
            let block = "double_blocks.\(index)."
            let renamed: [String: String] = [
                "norm1.linear": "img_mod.lin", "norm1_context.linear": "txt_mod.lin",
                "ff.net.0.proj": "img_mlp.0", "ff.net.2": "img_mlp.2", "ff_context.net.0.proj": "txt_mlp.0", "ff_context.net.2": "txt_mlp.2",
                "attn.to_out.0": "img_attn.proj", "attn.to_add_out": "txt_attn.proj",
            ]
            if let key = renamed[inner] { return WeightLocation(key: block + key + ".\(kind)") }
            let norms: [String: String] = [
                "attn.norm_q": "img_attn.norm.query_norm", "attn.norm_k": "img_attn.norm.key_norm",
                "attn.norm_added_q": "txt_attn.norm.query_norm", "attn.norm_added_k": "txt_attn.norm.key_norm",
            ]
            if let key = norms[inner] { return WeightLocation(key: block + key + ".scale") }
            if inner.hasPrefix("attn.to_"), let row = qkvRow[String(inner.dropFirst(8))] {
                return WeightLocation(key: block + "img_attn.qkv.\(kind)", rows: row * innerDim..<(row + 1) * innerDim)
            }
            if inner.hasPrefix("attn.add_"), inner.hasSuffix("_proj"), let row = qkvRow[String(inner.dropFirst(9).prefix(1))] {
                return WeightLocation(key: block + "txt_attn.qkv.\(kind)", rows: row * innerDim..<(row + 1) * innerDim)
            }
        } else if parts[0] == "single_transformer_blocks" {
            let block = "single_blocks.\(index)."
            switch inner {
            case "norm.linear": return WeightLocation(key: block + "modulation.lin.\(kind)")
            case "proj_out": return WeightLocation(key: block + "linear2.\(kind)")
            case "attn.norm_q": return WeightLocation(key: block + "norm.query_norm.scale")
            case "attn.norm_k": return WeightLocation(key: block + "norm.key_norm.scale")
            case "proj_mlp": return WeightLocation(key: block + "linear1.\(kind)", rows: 3 * innerDim..<3 * innerDim + (shape.first ?? 0))
            default:
                if inner.hasPrefix("attn.to_"), let row = qkvRow[String(inner.dropFirst(8))] {
                    return WeightLocation(key: block + "linear1.\(kind)", rows: row * innerDim..<(row + 1) * innerDim)
                }
            }
        }
        return WeightLocation(key: parameter)
    }
}

/// The original LDM autoencoder keys of BFL's `ae.safetensors`, as diffusers'
/// `convert_ldm_vae_checkpoint` maps them: numbered up blocks in reverse order, `nin_shortcut`, and
/// mid-block attention stored as 1x1 convolutions.
public struct LDMAutoencoderLayout: WeightLayout {
    public let name = "BFL/LDM"
    let levels: Int

    public init(config: AutoencoderConfig) {
        levels = config.blockOutChannels.count
    }

    public func location(of parameter: String, shape: [Int]) -> WeightLocation {
        var key = parameter
        for part in ["encoder", "decoder"] { key = key.replacingFirst("\(part).conv_norm_out.", with: "\(part).norm_out.") }
        for level in 0..<levels {
            key = key.replacingFirst("encoder.down_blocks.\(level).resnets.", with: "encoder.down.\(level).block.")
            key = key.replacingFirst("encoder.down_blocks.\(level).downsamplers.0.", with: "encoder.down.\(level).downsample.")
            key = key.replacingFirst("decoder.up_blocks.\(level).resnets.", with: "decoder.up.\(levels - 1 - level).block.")
            key = key.replacingFirst("decoder.up_blocks.\(level).upsamplers.0.", with: "decoder.up.\(levels - 1 - level).upsample.")
        }
        for index in 0..<2 { key = key.replacingFirst("mid_block.resnets.\(index).", with: "mid.block_\(index + 1).") }
        key = key.replacingFirst("conv_shortcut", with: "nin_shortcut")
        guard key.contains("mid_block.attentions.0.") else { return WeightLocation(key: key) }
        key = key.replacingFirst("mid_block.attentions.0.", with: "mid.attn_1.")
        for (diffusers, ldm) in [("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."), ("to_out.0.", "proj_out.")] {
            key = key.replacingFirst(diffusers, with: ldm)
        }
        return WeightLocation(key: key, droppedTrailingDims: shape.count == 2 ? 2 : 0)
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
