import Foundation
import TestSupport
import Testing

@testable import ImageCodecs

/// The files scripts/fixtures/images.py writes (scripts/test runs it first).
enum ImageFixtures {
    static let directory = fixtureDirectory + "/images"

    struct DecodeCase: Decodable, CustomTestStringConvertible {
        let file: String
        let expected: String
        let width: Int
        let height: Int
        let tolerance: Int
        let note: String
        var testDescription: String { "\(file) (\(note))" }
    }

    struct ResizeCase: Decodable, CustomTestStringConvertible {
        let source: String
        let expected: String
        let width: Int
        let height: Int
        var testDescription: String { "\(width)x\(height)" }
    }

    struct Manifest: Decodable {
        let decode: [DecodeCase]
        let resize: [ResizeCase]
        let bombs: [String]
        let photo: String
    }

    /// Empty when the fixtures are missing; `bytes` then fails the test with the reason.
    static let manifest: Manifest = (try? JSONDecoder().decode(Manifest.self, from: Data(bytes("manifest.json"))))
        ?? Manifest(decode: [], resize: [], bombs: [], photo: "")

    static func bytes(_ name: String) throws -> [UInt8] {
        let path = directory + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else { throw FixtureMissing(path: path) }
        return [UInt8](data)
    }

    /// The 1024x1024 synthetic photograph.
    static func photo() throws -> RGBImage { try ImageDecoder.decode(bytes(manifest.photo)) }

    /// A smaller crop of it, for tests that run many encodes.
    static func smallPhoto(width: Int = 160, height: Int = 96) throws -> RGBImage {
        let photo = try photo()
        var pixels = [UInt8]()
        for y in 0..<height { pixels += photo.pixels[(y * photo.width * 3)..<(y * photo.width + width) * 3] }
        return try RGBImage(width: width, height: height, pixels: pixels)
    }
}

/// Largest absolute difference between two images' bytes, and how many bytes differ.
func difference(_ a: RGBImage, _ b: [UInt8]) -> (max: Int, count: Int) {
    zip(a.pixels, b).reduce(into: (0, 0)) { result, pair in
        let delta = abs(Int(pair.0) - Int(pair.1))
        result.0 = max(result.0, delta)
        if delta > 0 { result.1 += 1 }
    }
}

/// Peak signal-to-noise ratio in dB.
func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
    let squared = zip(a.pixels, b.pixels).reduce(0.0) { $0 + pow(Double(Int($1.0) - Int($1.1)), 2) }
    let mean = squared / Double(a.pixels.count)
    return mean == 0 ? .infinity : 10 * log10(255 * 255 / mean)
}

