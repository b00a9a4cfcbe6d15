import Foundation
import Testing

@testable import ImageCodecs

@Suite("Lanczos resampling against Pillow")
struct ResizeTests {
    /// Pillow's algorithm reimplemented step for step: the tolerance is 0 levels, and the suite
    /// fails on any byte that differs.
    @Test("resize matches Image.resize(..., LANCZOS) exactly", arguments: ImageFixtures.manifest.resize)
    func matchesPillow(_ fixture: ImageFixtures.ResizeCase) throws {
        let source = try ImageDecoder.decode(try ImageFixtures.bytes(fixture.source))
        let resized = try source.resized(width: fixture.width, height: fixture.height)
        #expect(resized.width == fixture.width && resized.height == fixture.height)
        let (maximum, count) = difference(resized, try ImageFixtures.bytes(fixture.expected))
        #expect(maximum == 0, "max difference \(maximum) over \(count) bytes")
    }

    @Test func fixturesCoverShrinkingGrowingAndOneAxis() {
        let sizes = ImageFixtures.manifest.resize.map { ($0.width, $0.height) }
        #expect(sizes.contains { $0.0 < 640 && $0.1 < 427 })
        #expect(sizes.contains { $0.0 > 640 && $0.1 > 427 })
        #expect(sizes.contains { $0.0 == 640 && $0.1 != 427 })
        #expect(sizes.contains { $0.0 != 640 && $0.1 == 427 })
    }

    @Test func sameSizeIsTheSameImage() throws {
        let image = try ImageFixtures.smallPhoto()
        #expect(try image.resized(width: image.width, height: image.height) == image)
    }

    @Test func aFlatImageStaysFlat() throws {
        let grey = try RGBImage(width: 37, height: 23, red: 200, green: 17, blue: 255)
        let resized = try grey.resized(width: 101, height: 9)
        #expect(resized == (try RGBImage(width: 101, height: 9, red: 200, green: 17, blue: 255)))
    }

    @Test func impossibleSizesAreRefused() throws {
        let image = try ImageFixtures.smallPhoto()
        #expect(throws: ImageCodecError.invalidArgument("cannot resize to 0x10")) { try image.resized(width: 0, height: 10) }
    }
}

@Suite("Tensor layout")
struct TensorLayoutTests {
    @Test func normalisesAsDiffusersDoes() throws {
        let image = try RGBImage(width: 2, height: 1, pixels: [0, 128, 255, 1, 2, 3])
        let values = image.normalizedFloats()
        let expected: [Float] = [0, 128, 255, 1, 2, 3].map { 2 * (Float($0) / 255) - 1 }
        #expect(values == expected)
        #expect(values[0] == -1 && values[2] == 1)
    }

    @Test func roundTripsEveryLevel() throws {
        let levels: [UInt8] = (0..<256).flatMap { (level: Int) -> [UInt8] in [UInt8(level), UInt8(255 - level), UInt8(level * 7 % 256)] }
        let image = try RGBImage(width: 16, height: 16, pixels: levels)
        // Interleaved out, planar back in: transpose (16 * 16, 3) to (3, 16 * 16) by hand.
        let interleaved = image.normalizedFloats()
        let planar = (0..<3).flatMap { channel in (0..<256).map { interleaved[$0 * 3 + channel] } }
        let back = try RGBImage(normalizedPlanarFloats: planar, width: 16, height: 16)
        #expect(back == image)
    }

    @Test func clampsAndRoundsHalfToEven() throws {
        // Planar reds [0, -3], greens [7, NaN], blues [0, 0]. 0 maps to 127.5, which rounds to
        // the even 128; -3 and 7 clamp; NaN becomes 0.
        let values: [Float] = [0, -3, 7, .nan, 0, 0]
        let image = try RGBImage(normalizedPlanarFloats: values, width: 2, height: 1)
        #expect(image.pixels == [128, 255, 128, 0, 0, 128])
        #expect(throws: ImageCodecError.self) { try RGBImage(normalizedPlanarFloats: [0, 0], width: 2, height: 1) }
    }
}
