import Foundation
import Safetensors
import Torch

/// Why a model could not be built.
public enum ModelError: Error, CustomStringConvertible, Sendable {
    /// A folder, file or config that is not what the loader needs.
    case invalidModel(String)
    /// The checkpoint does not hold the tensors the config asks for: every problem, by name.
    case weightMismatch(component: String, source: String, problems: [String])
    /// The tensor backend failed.
    case backend(TorchError)

    public var description: String {
        switch self {
        case .invalidModel(let message): message
        case .weightMismatch(let component, let source, let problems):
            "\(component) weights in \(source) do not match its config (\(problems.count) problem(s)):\n  "
                + problems.prefix(40).joined(separator: "\n  ") + (problems.count > 40 ? "\n  ..." : "")
        case .backend(let error): error.description
        }
    }
}

/// Where a model finds its parameters, by diffusers name.
///
/// Every model is built twice from the same code: once against a `ParameterRecorder`, which only
/// notes each name and shape, so the checkpoint can be checked completely before any tensor is
/// read; then against the checkpoint itself.
public protocol WeightSource {
    func tensor(_ name: String, shape: [Int]) throws(ModelError) -> Tensor
}

/// A name prefix inside a `WeightSource`, as a module path ("transformer_blocks.0.attn."), and
/// whether the linear layers under it are stored in fp8.
struct WeightScope {
    let source: any WeightSource
    let prefix: String
    let fp8: Bool

    init(_ source: any WeightSource, prefix: String = "", fp8: Bool = false) {
        self.source = source
        self.prefix = prefix
        self.fp8 = fp8
    }

    func callAsFunction(_ name: String, _ shape: [Int]) throws(ModelError) -> Tensor {
        try source.tensor(prefix + name, shape: shape)
    }

    func child(_ name: String) -> WeightScope { WeightScope(source, prefix: prefix + name + ".", fp8: fp8) }

    /// The same scope with fp8 linear layers (or not).
    func storingLinearsInFP8(_ enabled: Bool) -> WeightScope { WeightScope(source, prefix: prefix, fp8: enabled) }

    /// Whether linears built here quantize their weight: asked for, and real weights (the
    /// recording pass hands out empty placeholders).
    var quantizesToFP8: Bool { fp8 && !(source is ParameterRecorder) }
}

/// Notes the name and shape of every parameter a model asks for, returning empty placeholders.
final class ParameterRecorder: WeightSource {
    private(set) var shapes: [(name: String, shape: [Int])] = []
    private let placeholder: Tensor

    init() throws(ModelError) {
        do { placeholder = try Tensor.zeros([0]) } catch { throw .backend(error) }
    }

    func tensor(_ name: String, shape: [Int]) throws(ModelError) -> Tensor {
        shapes.append((name, shape))
        return placeholder
    }
}

/// Where a diffusers-named parameter lives in a checkpoint that may use other names or fused tensors.
public struct WeightLocation: Sendable, Equatable {
    /// Key in the checkpoint.
    public var key: String
    /// Rows (first dimension) of that tensor, when the parameter is a slice of a fused one.
    public var rows: Range<Int>?
    /// Whether the two halves of the first dimension are stored in the other order (BFL's final
    /// modulation stores (shift, scale), diffusers (scale, shift)).
    public var swapsHalves = false
    /// Trailing 1x1 dimensions the checkpoint has and the parameter has not (LDM's attention
    /// projections are 1x1 convolutions; diffusers' are linear layers).
    public var droppedTrailingDims = 0

    public init(key: String, rows: Range<Int>? = nil, swapsHalves: Bool = false, droppedTrailingDims: Int = 0) {
        self.key = key
        self.rows = rows
        self.swapsHalves = swapsHalves
        self.droppedTrailingDims = droppedTrailingDims
    }

    /// The shape the stored tensor must have for a parameter of `shape`.
    func storedShape(for shape: [Int], storedFirstDim: Int) -> [Int] {
        var stored = shape + Array(repeating: 1, count: droppedTrailingDims)
        if rows != nil, !stored.isEmpty { stored[0] = storedFirstDim }
        return stored
    }
}

/// How the parameters of a model map onto a checkpoint's keys.
public protocol WeightLayout: Sendable {
    /// A short name for messages ("diffusers", "BFL").
    var name: String { get }
    func location(of parameter: String, shape: [Int]) -> WeightLocation
}

/// The checkpoint uses diffusers' names, possibly under a prefix some exporters add
/// (`text_model.` for older CLIP files).
public struct DiffusersLayout: WeightLayout {
    public let name = "diffusers"
    let optionalPrefix: String?
    let aliases: [String: String]

    public init(optionalPrefix: String? = nil, aliases: [String: String] = [:]) {
        self.optionalPrefix = optionalPrefix
        self.aliases = aliases
    }

    public func location(of parameter: String, shape: [Int]) -> WeightLocation { WeightLocation(key: parameter) }

    /// The key actually present for `key`, trying the optional prefix and the aliases.
    func resolve(_ key: String, in checkpoint: SafetensorsCheckpoint) -> String {
        if checkpoint.contains(key) { return key }
        if let optionalPrefix, checkpoint.contains(optionalPrefix + key) { return optionalPrefix + key }
        if let alias = aliases[key], checkpoint.contains(alias) { return alias }
        return key
    }
}

/// Reads parameters from a safetensors checkpoint through a layout, converting each tensor to
/// the target dtype and device as it goes, one at a time, so host memory never holds more than
/// one converted tensor beyond the memory-mapped file.
final class CheckpointSource: WeightSource {
    let checkpoint: SafetensorsCheckpoint
    let layout: any WeightLayout
    let dtype: DType
    let device: Device

    init(checkpoint: SafetensorsCheckpoint, layout: any WeightLayout, dtype: DType, device: Device) {
        self.checkpoint = checkpoint
        self.layout = layout
        self.dtype = dtype
        self.device = device
    }

    func resolvedLocation(of name: String, shape: [Int]) -> WeightLocation {
        var location = layout.location(of: name, shape: shape)
        if let diffusers = layout as? DiffusersLayout { location.key = diffusers.resolve(location.key, in: checkpoint) }
        return location
    }

    func tensor(_ name: String, shape: [Int]) throws(ModelError) -> Tensor {
        let location = resolvedLocation(of: name, shape: shape)
        let located: (file: SafetensorsFile, info: SafetensorsTensorInfo)
        do { located = try checkpoint.locate(location.key) } catch { throw .invalidModel(error.description) }
        do {
            var tensor = try Tensor(located.info, in: located.file)
            if let rows = location.rows { tensor = try tensor.narrowed(dim: 0, start: rows.lowerBound, length: rows.count) }
            if location.swapsHalves {
                let halves = try tensor.chunked(2, dim: 0)
                tensor = try Tensor.cat([halves[1], halves[0]], dim: 0)
            }
            if location.droppedTrailingDims > 0 { tensor = try tensor.reshaped(shape) }
            // Converted one tensor at a time. CPU parameters are copied out of the mapping: the
            // file only guarantees element alignment, and ATen's matrix kernels round differently
            // (and run slower) on memory that is not 64-byte aligned.
            let converted = try tensor.to(dtype, device)
            return device == .cpu ? try converted.cloned() : try converted.contiguous()
        } catch {
            throw .backend(error)
        }
    }

    /// Every difference between what `recorder` asked for and what the checkpoint holds.
    func problems(against recorder: ParameterRecorder) -> [String] {
        var problems = [String]()
        var used = Set<String>()
        for (name, shape) in recorder.shapes {
            let location = resolvedLocation(of: name, shape: shape)
            used.insert(location.key)
            guard let (_, info) = try? checkpoint.locate(location.key) else {
                problems.append("missing: \(name)" + (location.key != name ? " (looked for \(location.key))" : "") + " \(shape)")
                continue
            }
            guard DType(info.dtype) != nil else {
                problems.append("unsupported dtype \(info.dtype.rawValue): \(location.key)")
                continue
            }
            let expected = location.storedShape(for: shape, storedFirstDim: info.shape.first ?? 0)
            let sliceFits = location.rows.map { $0.upperBound <= (info.shape.first ?? 0) && $0.count == shape.first } ?? true
            if info.shape != expected || !sliceFits {
                let slice = location.rows.map { " rows \($0.lowerBound)..<\($0.upperBound)" } ?? ""
                let needed = location.key == name && location.rows == nil ? "the config needs \(shape)" : "\(name) needs \(shape)"
                problems.append("wrong shape: \(location.key)\(slice) is \(info.shape), \(needed)")
            }
        }
        for key in checkpoint.names where !used.contains(key) {
            problems.append("unexpected: \(key)")
        }
        return problems
    }
}

/// Builds a model from a checkpoint: records the parameters `build` asks for, checks them all
/// against the checkpoint (missing, unexpected, wrong shape), and only then loads.
func loadModel<Model>(
    _ component: String, checkpoint: SafetensorsCheckpoint, layout: any WeightLayout, dtype: DType, device: Device,
    ignoring ignoredKeys: (String) -> Bool = { _ in false },
    build: (WeightScope) throws(ModelError) -> Model
) throws(ModelError) -> Model {
    let recorder = try ParameterRecorder()
    _ = try build(WeightScope(recorder))
    let source = CheckpointSource(checkpoint: checkpoint, layout: layout, dtype: dtype, device: device)
    let problems = source.problems(against: recorder).filter { !($0.hasPrefix("unexpected: ") && ignoredKeys(String($0.dropFirst(12)))) }
    guard problems.isEmpty else {
        throw .weightMismatch(component: component, source: "\(checkpoint.source) (\(layout.name) layout)", problems: problems)
    }
    return try build(WeightScope(source))
}

/// Decodes a `config.json`.
func readConfig<Config: Decodable>(_ type: Config.Type, at path: String) throws(ModelError) -> Config {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw .invalidModel("\(path) is missing")
    }
    do {
        return try JSONDecoder().decode(Config.self, from: data)
    } catch {
        throw .invalidModel("\(path) is not a valid config: \(error)")
    }
}

/// Opens the safetensors weights of a component folder (one file, or an index of shards).
func openCheckpoint(_ path: String) throws(ModelError) -> SafetensorsCheckpoint {
    do { return try SafetensorsCheckpoint(path: path) } catch { throw .invalidModel(error.description) }
}
