import Foundation
import Safetensors
import TestSupport
import Testing
import Torch

/// Reference values written by scripts/fixtures/torch_ops.py (scripts/test runs it first).
enum Fixtures {
    static func open(_ name: String) throws -> SafetensorsFile {
        let path = fixtureDirectory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else {
            throw FixtureMissing(path: path)
        }
        return try SafetensorsFile(path: path)
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
