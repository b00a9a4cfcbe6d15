import Foundation
import Testing

@testable import ImageCodecs

@Suite("Encoding and round trips")
struct EncodeTests {
    /// Minimum PSNR of a decode(encode(photo)) round trip at the API's default quality 90.
    static let lossyFloor: [ImageFormat: Double] = [.jpeg: 35, .webp: 35, .avif: 35, .gif: 26]

    @Test("round trip keeps size and content", arguments: ImageFormat.allCases)
    func roundTrip(_ format: ImageFormat) throws {
        let photo = try ImageFixtures.smallPhoto()
        let encoded = try ImageEncoder.encode(photo, as: format)
        #expect(encoded.withUnsafeBytes { ImageFormat(detecting: $0) } == format)
        let decoded = try ImageDecoder.decode(encoded)
        #expect(decoded.width == photo.width && decoded.height == photo.height)
        if let floor = Self.lossyFloor[format] {
            #expect(psnr(decoded, photo) >= floor, "PSNR \(psnr(decoded, photo)) dB")
        } else {
            #expect(decoded == photo)
        }
    }

    @Test("tiny and odd sizes", arguments: ImageFormat.allCases)
    func oddSizes(_ format: ImageFormat) throws {
        for (width, height) in [(1, 1), (3, 5), (17, 2), (2, 33)] {
            let image = try ImageFixtures.smallPhoto(width: width, height: height)
            let decoded = try ImageDecoder.decode(try ImageEncoder.encode(image, as: format))
            #expect(decoded.width == width && decoded.height == height, "\(format) \(width)x\(height)")
        }
    }

    @Test("quality trades size for fidelity", arguments: [ImageFormat.jpeg, .webp, .avif])
    func qualityMatters(_ format: ImageFormat) throws {
        let photo = try ImageFixtures.smallPhoto()
        let low = try ImageEncoder.encode(photo, as: format, options: EncodeOptions(quality: 20))
        let high = try ImageEncoder.encode(photo, as: format, options: EncodeOptions(quality: 95))
        #expect(low.count < high.count)
        #expect(psnr(try ImageDecoder.decode(low), photo) < psnr(try ImageDecoder.decode(high), photo))
    }

    @Test func webpAtQuality100IsLossless() throws {
        let photo = try ImageFixtures.smallPhoto()
        #expect(try ImageDecoder.decode(try ImageEncoder.encode(photo, as: .webp, options: EncodeOptions(quality: 100))) == photo)
    }

    @Test func avifAtQuality100IsNearLossless() throws {
        let photo = try ImageFixtures.smallPhoto()
        let decoded = try ImageDecoder.decode(try ImageEncoder.encode(photo, as: .avif, options: EncodeOptions(quality: 100)))
        #expect(psnr(decoded, photo) >= 48)
    }

    @Test func gifOfFewColoursIsExact() throws {
        let colours: [[UInt8]] = [[250, 10, 10], [10, 250, 10], [10, 10, 250], [200, 200, 30]]
        let pixels: [UInt8] = (0..<40 * 30).flatMap { (index: Int) -> [UInt8] in colours[(index / 7 + index / 40) % 4] }
        let image = try RGBImage(width: 40, height: 30, pixels: pixels)
        for dithering in [false, true] {
            let decoded = try ImageDecoder.decode(try ImageEncoder.encode(image, as: .gif, options: EncodeOptions(dithering: dithering)))
            #expect(decoded == image, "dithering \(dithering)")
        }
    }

    /// Dithering trades per-pixel error for local averages that follow the image: on a smooth
    /// gradient the mean of each 8x8 block comes out closer to the original.
    @Test func ditheringFollowsGradients() throws {
        var pixels = [UInt8]()
        for y in 0..<64 { for x in 0..<256 { pixels += [UInt8(x), UInt8((x + y) / 2), UInt8(255 - x)] } }
        let gradient = try RGBImage(width: 256, height: 64, pixels: pixels)
        func blockError(dithering: Bool) throws -> Double {
            let decoded = try ImageDecoder.decode(try ImageEncoder.encode(gradient, as: .gif, options: EncodeOptions(dithering: dithering)))
            var total = 0.0
            for blockY in stride(from: 0, to: 64, by: 8) {
                for blockX in stride(from: 0, to: 256, by: 8) {
                    for channel in 0..<3 {
                        var original = 0, quantised = 0
                        for y in blockY..<blockY + 8 {
                            for x in blockX..<blockX + 8 {
                                original += Int(gradient.pixels[(y * 256 + x) * 3 + channel])
                                quantised += Int(decoded.pixels[(y * 256 + x) * 3 + channel])
                            }
                        }
                        total += abs(Double(original - quantised) / 64)
                    }
                }
            }
            return total
        }
        #expect(try blockError(dithering: true) < blockError(dithering: false))
    }

    @Test func pngCompressionLevelChangesOnlyTheSize() throws {
        let photo = try ImageFixtures.smallPhoto()
        let stored = try ImageEncoder.encode(photo, as: .png, options: EncodeOptions(pngCompressionLevel: 0))
        let compressed = try ImageEncoder.encode(photo, as: .png, options: EncodeOptions(pngCompressionLevel: 9))
        #expect(compressed.count < stored.count)
        #expect(try ImageDecoder.decode(stored) == ImageDecoder.decode(compressed))
    }

    @Test func optionsOutOfRangeAreRefused() throws {
        let photo = try ImageFixtures.smallPhoto()
        #expect(throws: ImageCodecError.invalidArgument("quality must be 0 to 100, not 101")) {
            try ImageEncoder.encode(photo, as: .jpeg, options: EncodeOptions(quality: 101))
        }
        #expect(throws: ImageCodecError.self) { try ImageEncoder.encode(photo, as: .png, options: EncodeOptions(pngCompressionLevel: 10)) }
        #expect(throws: ImageCodecError.self) { try ImageEncoder.encode(photo, as: .avif, options: EncodeOptions(avifSpeed: 11)) }
    }

    @Test func imagesTooLargeForTheFormatAreRefused() throws {
        let wide = try RGBImage(width: 16384, height: 1, red: 1, green: 2, blue: 3)
        #expect(throws: ImageCodecError.tooLarge("WebP holds at most 16383 pixels a side")) { try ImageEncoder.encode(wide, as: .webp) }
        #expect(try ImageDecoder.decode(try ImageEncoder.encode(wide, as: .png), limits: DecodeLimits(maxSide: 16384)) == wide)
    }

    @Test func mismatchedPixelCountsAreRefused() {
        #expect(throws: ImageCodecError.self) { try RGBImage(width: 2, height: 2, pixels: [0, 0, 0]) }
        #expect(throws: ImageCodecError.self) { try RGBImage(width: 0, height: 2, pixels: []) }
    }
}
