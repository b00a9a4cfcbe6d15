import Foundation
import Testing

@testable import ImageCodecs

@Suite("Hostile input")
struct HostileInputTests {
    /// Valid small files of every format: the fixtures plus this encoder's own output.
    static func seeds() throws -> [(String, [UInt8])] {
        let photo = try ImageFixtures.smallPhoto(width: 48, height: 32)
        var seeds = try ImageFormat.allCases.map { ("encoded.\($0.fileExtension)", try ImageEncoder.encode(photo, as: $0)) }
        for file in ["png_interlaced.png", "png_palette_trns.png", "jpeg_progressive.jpg", "jpeg_cmyk.jpg", "jpeg_exif_6.jpg",
                     "webp_alpha.webp", "webp_lossless.webp", "gif_transparent.gif", "avif_lossy.avif"] {
            seeds.append((file, try ImageFixtures.bytes(file)))
        }
        return seeds
    }

    /// Decoding must return an image or throw an `ImageCodecError`; a crash fails the whole run.
    private func decodeSurvives(_ bytes: [UInt8]) -> Bool {
        do {
            let image = try ImageDecoder.decode(bytes)
            return image.width > 0 && image.pixels.count == image.width * image.height * 3
        } catch {
            return !error.message.isEmpty
        }
    }

    @Test func everyTruncationFailsCleanly() throws {
        for (name, bytes) in try Self.seeds() {
            // Every prefix of the first 1 KiB (headers, where parsers are most fragile), then a
            // stride through the rest.
            let lengths = Array(0..<min(bytes.count, 1024)) + Array(stride(from: 1024, to: bytes.count, by: max(1, bytes.count / 256)))
            var rejected = 0
            for length in lengths {
                #expect(decodeSurvives(Array(bytes.prefix(length))), "\(name) cut to \(length) bytes")
                if (try? ImageDecoder.decode(Array(bytes.prefix(length)))) == nil { rejected += 1 }
            }
            // Cut files must overwhelmingly fail; a decoder that accepts them invents pixels.
            #expect(rejected >= lengths.count * 9 / 10, "\(name): only \(rejected) of \(lengths.count) truncations were rejected")
        }
    }

    @Test func randomMutationsFailCleanly() throws {
        var random = SplitMix64(seed: 20261125)
        for (name, bytes) in try Self.seeds() {
            for round in 0..<1500 {
                var mutated = bytes
                let edits = 1 + Int(random.next() % 8)
                for _ in 0..<edits {
                    let position = Int(random.next() % UInt64(mutated.count))
                    switch random.next() % 3 {
                    case 0: mutated[position] = UInt8(truncatingIfNeeded: random.next())
                    case 1: mutated[position] ^= UInt8(1) << (random.next() % 8)
                    default: mutated[position] = [0x00, 0xFF, 0x7F, 0x80][Int(random.next() % 4)]
                    }
                }
                #expect(decodeSurvives(mutated), "\(name) mutation \(round)")
            }
        }
    }

    @Test("a header-only decompression bomb is refused before any pixel memory", arguments: ImageFixtures.manifest.bombs)
    func bombsAreRefused(_ file: String) throws {
        let bytes = try ImageFixtures.bytes(file)
        #expect(bytes.count < 100_000)
        let peakBefore = peakResidentBytes()
        #expect {
            try ImageDecoder.decode(bytes)
        } throws: { error in
            guard case .tooLarge(let message) = error as? ImageCodecError else { return false }
            return message.contains("limit")
        }
        #expect(throws: ImageCodecError.self) { try ImageDecoder.probe(bytes) }
        // Had the decoder allocated the claimed image (gigabytes), the peak would show it. Other
        // tests running at the same time use a few megabytes.
        let growth = peakResidentBytes() - peakBefore
        #expect(growth < 256 << 20, "peak resident memory grew by \(growth >> 20) MiB")
    }

    @Test func limitsAreTheCallers() throws {
        let bytes = try ImageFixtures.bytes("jpeg_baseline.jpg")
        #expect(throws: ImageCodecError.tooLarge("the image file is \(bytes.count) bytes; the limit is 1000")) {
            try ImageDecoder.decode(bytes, limits: DecodeLimits(maxBytes: 1000))
        }
        #expect(throws: ImageCodecError.tooLarge("the image is 96x64; the limit is 95 pixels a side")) {
            try ImageDecoder.decode(bytes, limits: DecodeLimits(maxSide: 95))
        }
        #expect(throws: ImageCodecError.tooLarge("the image is 96x64 (6144 pixels); the limit is 6000 pixels")) {
            try ImageDecoder.decode(bytes, limits: DecodeLimits(maxPixels: 6000))
        }
        #expect(try ImageDecoder.decode(bytes, limits: DecodeLimits(maxBytes: bytes.count, maxSide: 96, maxPixels: 6144)).width == 96)
    }

    @Test func progressiveScanBombIsRefused() throws {
        let bytes = try ImageFixtures.bytes("jpeg_progressive.jpg")
        #expect {
            try ImageDecoder.decode(bytes, limits: DecodeLimits(maxProgressiveScans: 2))
        } throws: { error in
            (error as? ImageCodecError)?.message.contains("more than 2 scans") == true
        }
    }

    @Test func damagedExifIsIgnored() throws {
        var bytes = try ImageFixtures.bytes("jpeg_exif_6.jpg")
        let exif = try #require(bytes.indices.first { bytes[$0...].starts(with: Array("Exif".utf8)) })
        // Point IFD0 far outside the block.
        bytes[exif + 10] = 0xFF
        bytes[exif + 11] = 0xFF
        let image = try ImageDecoder.decode(bytes)
        #expect(image.width == 96 && image.height == 64)
    }

    @Test func bigEndianExifIsRead() throws {
        // A minimal JPEG-style APP1 segment in Motorola byte order with orientation 8, ahead of SOS.
        let tiff: [UInt8] = [0x4D, 0x4D, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0]
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        let bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload + [0xFF, 0xDA]
        #expect(bytes.withUnsafeBytes { ExifOrientation(reading: $0, format: .jpeg) } == .rotatedCounterClockwise)
        #expect(Array(bytes.prefix(20)).withUnsafeBytes { ExifOrientation(reading: $0, format: .jpeg) } == .up)
    }

    @Test func orientationsTurnAsDescribed() throws {
        // 3x2 image whose pixels are numbered 0...5 in the red channel.
        let image = try RGBImage(width: 3, height: 2, pixels: (0..<6).flatMap { [UInt8($0), 0, 0] })
        func reds(_ orientation: ExifOrientation) -> [UInt8] {
            let turned = image.applying(orientation)
            return stride(from: 0, to: turned.pixels.count, by: 3).map { turned.pixels[$0] }
        }
        #expect(reds(.up) == [0, 1, 2, 3, 4, 5])
        #expect(reds(.mirrored) == [2, 1, 0, 5, 4, 3])
        #expect(reds(.upsideDown) == [5, 4, 3, 2, 1, 0])
        #expect(reds(.mirroredUpsideDown) == [3, 4, 5, 0, 1, 2])
        #expect(reds(.transposed) == [0, 3, 1, 4, 2, 5])
        #expect(reds(.rotatedClockwise) == [3, 0, 4, 1, 5, 2])
        #expect(reds(.transverse) == [5, 2, 4, 1, 3, 0])
        #expect(reds(.rotatedCounterClockwise) == [2, 5, 1, 4, 0, 3])
    }
}

/// A small seeded generator, so every run mutates the same bytes.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The process's peak resident set size (VmHWM), in bytes.
func peakResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return 0 }
    return (Int(line.split(separator: " ")[1]) ?? 0) * 1024
}
