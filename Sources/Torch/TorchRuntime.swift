import CTorch
import Foundation
import Synchronization

/// Finds and loads libtorch and the Kontext shim, once per process.
///
/// The torch library folder is, in order: the folder passed to ``load(libraryDirectory:)``,
/// `$KONTEXT_TORCH_LIB`, `$KONTEXT_CACHE/torch/lib` (default `~/.cache/kontext`, written by
/// `scripts/bootstrap`), and the `lib` folder of whatever `import torch` finds in
/// `$KONTEXT_PYTHON` or `python3`. The shim is `$KONTEXT_TORCH_SHIM`, or
/// `libKontextTorchShim.so` next to the running executable.
public enum TorchRuntime {
    /// What was loaded, for logs and `kontext doctor`.
    public struct Info: Sendable, Equatable {
        public let torchVersion: String
        public let libraryDirectory: String
        public let shimPath: String
        /// "loaded", or why CUDA support is absent.
        public let cudaStatus: String
        public let cudaDeviceCount: Int
        public var cudaAvailable: Bool { cudaDeviceCount > 0 }
    }

    private static let state = Mutex<Info?>(nil)

    /// Loads the runtime from `libraryDirectory` (or the default search) unless already loaded.
    @discardableResult
    public static func load(libraryDirectory: String? = nil) throws(TorchError) -> Info {
        try state.withLock { (loaded: inout Info?) throws(TorchError) -> Info in
            if let loaded { return loaded }
            let directory = if let libraryDirectory { libraryDirectory } else { try findLibraryDirectory() }
            let shim = try findShim()
            var cudaStatus = [CChar](repeating: 0, count: 1024)
            guard kt_load(directory, shim, &cudaStatus, cudaStatus.count) == 0 else {
                throw .runtimeUnavailable(String(cString: kt_load_error()))
            }
            let info = Info(
                torchVersion: String(cString: kt_torch_version()),
                libraryDirectory: directory,
                shimPath: shim,
                cudaStatus: String(decoding: cudaStatus.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                cudaDeviceCount: Int(kt_cuda_device_count())
            )
            loaded = info
            return info
        }
    }

    /// Makes sure the runtime is loaded; cheap after the first call.
    @inline(__always)
    static func ensureLoaded() throws(TorchError) {
        if kt_is_loaded() == 0 { try load() }
    }

    /// Threads ATen uses for intra-op parallelism on the CPU.
    public static var threadCount: Int {
        get throws(TorchError) {
            try ensureLoaded()
            return Int(kt_get_num_threads())
        }
    }

    public static func setThreadCount(_ count: Int) throws(TorchError) {
        guard count > 0 else { throw .invalidArgument("thread count must be positive, got \(count)") }
        try ensureLoaded()
        kt_set_num_threads(Int32(count))
    }

    /// Waits until all queued work on `device` has finished (a no-op on the CPU).
    public static func synchronize(_ device: Device) throws(TorchError) {
        try ensureLoaded()
        let (type, index) = device.code
        guard kt_synchronize(type, index) == 0 else {
            throw .operationFailed(operation: "synchronize", message: String(cString: kt_last_error()))
        }
    }

    static func findLibraryDirectory() throws(TorchError) -> String {
        let environment = ProcessInfo.processInfo.environment
        var tried: [String] = []
        func usable(_ directory: String, _ origin: String) -> Bool {
            let found = FileManager.default.fileExists(atPath: directory + "/libtorch_cpu.so")
            if !found { tried.append("\(directory) (\(origin))") }
            return found
        }
        if let explicit = environment["KONTEXT_TORCH_LIB"], !explicit.isEmpty {
            guard usable(explicit, "KONTEXT_TORCH_LIB") else {
                throw .runtimeUnavailable("KONTEXT_TORCH_LIB=\(explicit) has no libtorch_cpu.so")
            }
            return explicit
        }
        let cache = environment["KONTEXT_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.cache/kontext"
        let bootstrapped = cache + "/torch/lib"
        if usable(bootstrapped, "scripts/bootstrap") { return bootstrapped }
        let python = environment["KONTEXT_PYTHON"] ?? "python3"
        if let torchPackage = pythonTorchDirectory(python) {
            if usable(torchPackage + "/lib", "\(python) -c 'import torch'") { return torchPackage + "/lib" }
        } else {
            tried.append("\(python) -c 'import torch' (failed)")
        }
        throw .runtimeUnavailable(
            "libtorch 2.11 not found; looked in: \(tried.joined(separator: ", ")). "
                + "Run scripts/bootstrap, or set KONTEXT_TORCH_LIB to the lib folder of a torch 2.11.0 install."
        )
    }

    private static func pythonTorchDirectory(_ python: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import os, torch; print(os.path.dirname(torch.__file__))"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }

    static func findShim() throws(TorchError) -> String {
        let name = "libKontextTorchShim.so"
        if let explicit = ProcessInfo.processInfo.environment["KONTEXT_TORCH_SHIM"], !explicit.isEmpty {
            return explicit
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let candidate = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: candidate) else {
            throw .runtimeUnavailable(
                "\(name) not found next to \(executable); build it with `swift build` (it is a product of this package) "
                    + "or set KONTEXT_TORCH_SHIM to its path"
            )
        }
        return candidate
    }
}
