import ArgumentParser
import Foundation
import ImageCodecs
import Safetensors
import Torch

@main
struct Kontext: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kontext",
        abstract: "Self-hosted, OpenAI-compatible image generation and editing with FLUX.1 Kontext [dev].",
        subcommands: [Serve.self, Generate.self, Edit.self, Inspect.self, Doctor.self, Convert.self, Tensors.self, Tokenize.self]
    )
}

/// Options shared by every command that runs the tensor backend.
struct BackendOptions: ParsableArguments {
    @Option(name: .customLong("torch-lib"), help: ArgumentHelp(
        "Folder holding libtorch_cpu.so (torch 2.11.0). Default: $KONTEXT_TORCH_LIB, ~/.cache/kontext/torch/lib, then the torch that python3 imports.",
        valueName: "dir"))
    var torchLibrary: String?

    func load() throws -> TorchRuntime.Info {
        try TorchRuntime.load(libraryDirectory: torchLibrary)
    }
}

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load the tensor backend and report what it found (torch version, CUDA devices, threads, codec libraries).")

    @OptionGroup var backend: BackendOptions

    func run() throws {
        let info = try backend.load()
        print("torch:        \(info.torchVersion)")
        print("library:      \(info.libraryDirectory)")
        print("shim:         \(info.shimPath)")
        print("cuda:         \(info.cudaStatus); \(info.cudaDeviceCount) device(s)")
        print("cpu threads:  \(try TorchRuntime.threadCount)")
        print("image codecs: \(imageCodecLibraries)")
        let probe = try Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])
        let product = try probe.matmul(probe).toArray(of: Float.self)
        guard product == [7, 10, 15, 22] else { throw ValidationError("backend self-test gave \(product), expected [7, 10, 15, 22]") }
        print("self-test:    ok (2x2 matmul on the CPU)")
        if info.cudaAvailable {
            let onDevice = try probe.to(.cuda(0)).matmul(probe.to(.cuda(0))).toArray(of: Float.self)
            guard onDevice == product else { throw ValidationError("CUDA self-test gave \(onDevice)") }
            print("self-test:    ok (2x2 matmul on cuda:0)")
        }
    }
}

struct Tensors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the tensors of a safetensors file, a sharded index or a folder of them.")

    @Argument(help: "A .safetensors file, a *.safetensors.index.json, or a folder.")
    var path: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let checkpoint = try SafetensorsCheckpoint(path: path)
        let entries = try checkpoint.names.map { name in try checkpoint.locate(name) }
        if json {
            let rows = entries.map { file, info in
                ["name": info.name, "dtype": info.dtype.rawValue, "shape": info.shape, "file": URL(fileURLWithPath: file.path).lastPathComponent] as [String: Any]
            }
            let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        var parameters = 0
        var bytes = 0
        for (_, info) in entries {
            print("\(info.name)\t\(info.dtype.rawValue)\t\(info.shape)")
            parameters += info.elementCount
            bytes += info.dataRange.count
        }
        print("\(entries.count) tensors in \(checkpoint.files.count) file(s), \(parameters) parameters, \(bytes) bytes")
    }
}
