import Foundation

/// A request field as it arrived: typed from a JSON body, always text from a multipart form.
public enum ParameterValue: Sendable, Equatable, Codable {
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case array([ParameterValue])
    case object
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ParameterValue].self) {
            self = .array(value)
        } else {
            self = .object
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let values): try container.encode(values)
        case .object: try container.encode([String: String]())
        case .null: try container.encodeNil()
        }
    }

    var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .number: "a number"
        case .bool: "a boolean"
        case .array: "an array"
        case .object: "an object"
        case .null: "null"
        }
    }
}

/// Which endpoint a request came to.
public enum ImageOperation: String, Sendable {
    case generation, edit

    /// The OpenAI event-name prefix for streaming ("image_generation", "image_edit").
    public var eventPrefix: String { self == .generation ? "image_generation" : "image_edit" }
}

/// Output file formats of the API.
public enum OutputFormat: String, Sendable, CaseIterable {
    case png, jpeg, gif, webp, avif
}

public enum ResponseFormat: String, Sendable {
    case url
    case b64JSON = "b64_json"
}

public enum Acceleration: String, Sendable, CaseIterable {
    case none, regular, high
}

/// What a server offers beyond the model itself; requests for what is missing are refused by name.
public struct ServerCapabilities: Sendable {
    public var safetyChecker: Bool
    public var promptEnhancer: Bool
    public var accelerations: Set<Acceleration>

    public init(safetyChecker: Bool = false, promptEnhancer: Bool = false, accelerations: Set<Acceleration> = [.none]) {
        self.safetyChecker = safetyChecker
        self.promptEnhancer = promptEnhancer
        self.accelerations = accelerations
    }
}

/// A validated image request: every parameter of the contract parsed, ranged and defaulted.
/// The size is resolved separately (`size(firstImage:)`), since an edit's depends on its image.
public struct ImageRequest: Sendable, Equatable {
    public var operation: ImageOperation
    public var prompt: String
    public var model: String
    public var count: Int
    public var seed: UInt64?
    public var sizeText: String?
    public var aspectRatio: String?
    public var resolution: String?
    public var editSizing: SizeNormalization.EditSizing
    public var responseFormat: ResponseFormat
    public var outputFormat: OutputFormat
    public var quality: Int
    public var guidance: Double
    public var steps: Int
    public var acceleration: Acceleration
    public var safetyChecker: Bool?
    public var syncMode: Bool
    public var stream: Bool
    public var partialImages: Int
    public var user: String?
    /// Parameters accepted but not used, for `X-Kontext-Ignored-Params`.
    public var ignored: [String]

    /// Parameters the contract knows, besides the images themselves.
    static let known: Set<String> = [
        "prompt", "model", "n", "seed", "size", "aspect_ratio", "resolution", "response_format", "output_format",
        "output_compression", "output_quality", "cfg_scale", "guidance_scale", "guidance", "num_inference_steps", "acceleration",
        "resolution_mode", "enable_safety_checker", "disable_safety_checker", "enhance_prompt", "sync_mode", "stream",
        "partial_images", "mask", "user", "webhook_url",
    ]
    /// Fields that carry images, handled by the server.
    public static let imageFields: Set<String> = ["image", "image[]", "image_url", "images"]

    /// The delivered size for this request.
    public func size(firstImage: PixelSize?) throws(APIError) -> PixelSize {
        try SizeNormalization.resolve(
            size: sizeText, aspectRatio: aspectRatio, resolution: resolution, editSizing: editSizing,
            firstImage: operation == .edit ? firstImage : nil)
    }

    /// Parses and validates `fields` (image fields excluded) against the contract.
    public init(_ operation: ImageOperation, fields: [String: ParameterValue], capabilities: ServerCapabilities = ServerCapabilities()) throws(APIError) {
        let reader = FieldReader(fields: fields)
        self.operation = operation
        guard let prompt = try reader.string("prompt"), !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw .invalid("invalid_value", param: "prompt", "prompt is required and must not be empty")
        }
        self.prompt = prompt
        let requestedModel = try reader.string("model") ?? ModelCatalog.id
        guard let model = ModelCatalog.canonical(requestedModel) else { throw .modelNotFound(requestedModel) }
        self.model = model
        if fields["mask"] != nil {
            throw .invalid("unsupported_parameter", param: "mask", "mask is not supported: FLUX.1 Kontext edits from the prompt and the whole image")
        }
        count = try reader.integer("n", in: 1...10) ?? 1
        seed = try reader.integer("seed", in: 0...Int.max).map { UInt64($0) }
        sizeText = try reader.string("size")
        aspectRatio = try reader.string("aspect_ratio")
        resolution = try reader.string("resolution")
        responseFormat = try reader.choice("response_format", ResponseFormat.self) ?? .url
        let format = try reader.string("output_format").map { $0.lowercased() == "jpg" ? "jpeg" : $0.lowercased() }
        if let format {
            guard let parsed = OutputFormat(rawValue: format) else {
                throw .invalidValue("output_format", "output_format must be one of png, jpeg, gif, webp, avif, not '\(format)'")
            }
            outputFormat = parsed
        } else {
            outputFormat = .png
        }
        // output_compression is OpenAI's name, output_quality Replicate's; the former wins.
        let quality = try reader.integer("output_quality", in: 0...100)
        self.quality = try reader.integer("output_compression", in: 0...100) ?? quality ?? 90
        let guidance = try reader.number("guidance", in: 0...20)
        let guidanceScale = try reader.number("guidance_scale", in: 0...20)
        self.guidance = try reader.number("cfg_scale", in: 0...20) ?? guidanceScale ?? guidance ?? 2.5
        steps = try reader.integer("num_inference_steps", in: 1...50) ?? 28
        acceleration = try reader.choice("acceleration", Acceleration.self) ?? .none
        guard capabilities.accelerations.contains(acceleration) else {
            throw .invalid("unsupported_value", param: "acceleration", "acceleration '\(acceleration.rawValue)' is not available on this server; use none")
        }
        var ignored = [String]()
        if operation == .edit {
            editSizing = try Self.editSizing(reader.string("resolution_mode"))
        } else {
            editSizing = .matchInput
            if fields["resolution_mode"] != nil { ignored.append("resolution_mode") }
        }
        let enable = try reader.bool("enable_safety_checker")
        let disable = try reader.bool("disable_safety_checker")
        safetyChecker = enable ?? disable.map { !$0 }
        if safetyChecker == true, !capabilities.safetyChecker {
            throw .invalid("safety_checker_unavailable", param: enable != nil ? "enable_safety_checker" : "disable_safety_checker",
                           "no safety checker is configured on this server")
        }
        if try reader.bool("enhance_prompt") == true, !capabilities.promptEnhancer {
            throw .invalid("prompt_enhancer_unavailable", param: "enhance_prompt", "no prompt enhancer is configured on this server")
        }
        syncMode = try reader.bool("sync_mode") ?? false
        stream = try reader.bool("stream") ?? false
        partialImages = try reader.integer("partial_images", in: 0...3) ?? 0
        user = try reader.string("user")
        for name in fields.keys.sorted() where !Self.known.contains(name) && !Self.imageFields.contains(name) {
            ignored.append(name)
        }
        self.ignored = ignored
        // The size fields are checked now, so a bad size is reported before any image is read.
        _ = try SizeNormalization.resolve(size: sizeText, aspectRatio: aspectRatio, resolution: resolution, editSizing: editSizing, firstImage: nil)
    }

    static func editSizing(_ mode: String?) throws(APIError) -> SizeNormalization.EditSizing {
        guard let mode = mode?.trimmingCharacters(in: .whitespaces).lowercased(), !mode.isEmpty else { return .matchInput }
        switch mode {
        case "match_input": return .matchInput
        case "auto": return .preferredBucket
        default:
            guard let ratio = SizeNormalization.parseRatio(mode) else {
                throw .invalidValue("resolution_mode", "resolution_mode must be auto, match_input or a ratio W:H, not '\(mode)'")
            }
            return .ratio(ratio)
        }
    }
}

/// Typed access to request fields, accepting form text for numbers and booleans.
struct FieldReader {
    let fields: [String: ParameterValue]

    func string(_ name: String) throws(APIError) -> String? {
        switch fields[name] {
        case nil, .null: return nil
        case .string(let text): return text
        case .some(let value): throw .invalidValue(name, "\(name) must be a string, not \(value.typeName)")
        }
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        let value: Int
        switch fields[name] {
        case nil, .null: return nil
        case .integer(let number): value = number
        case .number(let number) where number.rounded() == number && abs(number) < 9e18: value = Int(number)
        case .string(let text):
            guard let number = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw .invalidValue(name, "\(name) must be an integer, not '\(text)'")
            }
            value = number
        case .some(let other): throw .invalidValue(name, "\(name) must be an integer, not \(other.typeName)")
        }
        guard range.contains(value) else {
            throw .invalidValue(name, "\(name) must be \(range.lowerBound) to \(range.upperBound == Int.max ? "2^63-1" : String(range.upperBound)), not \(value)")
        }
        return value
    }

    func number(_ name: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        let value: Double
        switch fields[name] {
        case nil, .null: return nil
        case .integer(let number): value = Double(number)
        case .number(let number): value = number
        case .string(let text):
            guard let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite else {
                throw .invalidValue(name, "\(name) must be a number, not '\(text)'")
            }
            value = number
        case .some(let other): throw .invalidValue(name, "\(name) must be a number, not \(other.typeName)")
        }
        guard range.contains(value) else { throw .invalidValue(name, "\(name) must be \(range.lowerBound) to \(range.upperBound), not \(value)") }
        return value
    }

    func bool(_ name: String) throws(APIError) -> Bool? {
        switch fields[name] {
        case nil, .null: return nil
        case .bool(let flag): return flag
        case .integer(let number) where number == 0 || number == 1: return number == 1
        case .string(let text):
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw .invalidValue(name, "\(name) must be a boolean, not '\(text)'")
            }
        case .some(let other): throw .invalidValue(name, "\(name) must be a boolean, not \(other.typeName)")
        }
    }

    func choice<Choice: RawRepresentable & CaseIterable>(_ name: String, _ type: Choice.Type) throws(APIError) -> Choice? where Choice.RawValue == String {
        guard let text = try string(name) else { return nil }
        guard let value = Choice(rawValue: text.lowercased()) else {
            let options = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalidValue(name, "\(name) must be one of \(options), not '\(text)'")
        }
        return value
    }
}

extension ResponseFormat: CaseIterable {}
