import Foundation
import Safetensors
import Testing
import Torch

/// Reference values written by scripts/fixtures/torch_ops.py (scripts/test runs it first).
enum Fixtures {
    static let directory: String = {
        if let explicit = ProcessInfo.processInfo.environment["KONTEXT_FIXTURES"], !explicit.isEmpty { return explicit }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.appendingPathComponent(".build/kontext-fixtures").path
    }()

    static func open(_ name: String) throws -> SafetensorsFile {
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else {
            throw FixtureMissing(path: path)
        }
        return try SafetensorsFile(path: path)
    }

    struct FixtureMissing: Error, CustomStringConvertible {
        let path: String
        var description: String { "\(path) is missing: run scripts/test, which generates the fixtures with PyTorch first" }
    }
}

/// Asserts that two float arrays agree elementwise within `absolute + relative * |expected|`.
func expectClose(
    _ actual: [Float], _ expected: [Float], absolute: Float = 1e-5, relative: Float = 1e-5,
    _ label: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    var worst = (index: -1, excess: Float(0))
    for index in actual.indices {
        let excess = Swift.abs(actual[index] - expected[index]) - (absolute + relative * Swift.abs(expected[index]))
        if excess > worst.excess || actual[index].isNaN != expected[index].isNaN { worst = (index, Swift.max(excess, 0)) }
    }
    #expect(
        worst.index < 0,
        "\(label): element \(worst.index) is \(worst.index >= 0 ? actual[worst.index] : 0), expected \(worst.index >= 0 ? expected[worst.index] : 0)",
        sourceLocation: sourceLocation)
}
