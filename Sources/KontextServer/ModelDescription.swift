import ImageAPI

/// The model as `GET /v1/models` lists it and `GET /v1/models/{id}` describes it.
enum ModelDescription {
    static var summary: [String: Any] {
        [
            "id": ModelCatalog.id, "object": "model", "created": 1_748_390_400, "owned_by": "black-forest-labs",
        ]
    }

    static var detail: [String: Any] {
        var detail = summary
        detail["family"] = ModelCatalog.family
        detail["aliases"] = ModelCatalog.aliases
        detail["capabilities"] = [
            "modes": ["text-to-image", "edit"], "endpoints": ["/v1/images/generations", "/v1/images/edits"],
            "input_images": ["min": 1, "max": 4, "formats": ["png", "jpeg", "webp"], "max_bytes": 50 << 20, "max_side": 14142],
            "max_output": "2048x2048", "output_formats": OutputFormat.allCases.map(\.rawValue), "streaming": true,
            "defaults": ["num_inference_steps": 28, "cfg_scale": 2.5, "max_sequence_length": 512],
        ] as [String: Any]
        detail["sizes"] = SizeNormalization.ratios.map { ratio -> [String: Any] in
            let oneK = PixelSize(width: ratio.width, height: ratio.height)
            var row: [String: Any] = ["ratio": ratio.name]
            for tier in SizeNormalization.Tier.allCases {
                row[tier.rawValue] = SizeNormalization.size(ratio: Double(oneK.width) / Double(oneK.height), tier: tier).description
            }
            return row
        }
        detail["parameters"] = parameterSchema
        return detail
    }

    static var parameterSchema: [String: Any] {
        [
        "prompt": ["type": "string", "required": true],
        "model": ["type": "string", "default": ModelCatalog.id],
        "image": ["type": "file", "required_for": "edits", "min": 1, "max": 4],
        "seed": ["type": "integer", "minimum": 0],
        "size": ["type": "string", "default": "auto", "pattern": "WxH | W:H | auto"],
        "aspect_ratio": ["type": "string", "default": "auto"],
        "resolution": ["type": "string", "default": "auto", "enum": ["0.5K", "1K", "2K", "4K", "0.25", "1", "4", "auto"]],
        "n": ["type": "integer", "default": 1, "minimum": 1, "maximum": 10],
        "response_format": ["type": "string", "default": "url", "enum": ["url", "b64_json"]],
        "output_format": ["type": "string", "default": "png", "enum": ["png", "jpeg", "jpg", "gif", "webp", "avif"]],
        "output_compression": ["type": "integer", "default": 90, "minimum": 0, "maximum": 100],
        "output_quality": ["type": "integer", "minimum": 0, "maximum": 100, "alias_of": "output_compression"],
        "cfg_scale": ["type": "number", "default": 2.5, "minimum": 0, "maximum": 20, "aliases": ["guidance_scale", "guidance"]],
        "num_inference_steps": ["type": "integer", "default": 28, "minimum": 1, "maximum": 50],
        "acceleration": [
            "type": "string", "default": "none", "enum": ["none", "high"],
            "high": "first-block step caching (threshold 0.08, at most 3 cached steps in a row, never the first or last step)",
        ] as [String: Any],
        "resolution_mode": ["type": "string", "default": "match_input", "enum": ["auto", "match_input", "W:H"], "edits_only": true],
        "sync_mode": ["type": "boolean", "default": false],
        "stream": ["type": "boolean", "default": false],
        "partial_images": ["type": "integer", "default": 0, "minimum": 0, "maximum": 3],
        "user": ["type": "string"],
    ]
    }
}
