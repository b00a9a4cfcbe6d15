import Foundation
import Testing

@testable import ImageCodecs

@Suite("Decoding against Pillow")
struct DecodeTests {
    @Test("every fixture decodes to Pillow's pixels within its tolerance", arguments: ImageFixtures.manifest.decode)
    func matchesPillow(_ fixture: ImageFixtures.DecodeCase) throws {
        let bytes = try ImageFixtures.bytes(fixture.file)
        let expected = try ImageFixtures.bytes(fixture.expected)
        let image = try ImageDecoder.decode(bytes)
        #expect(image.width == fixture.width && image.height == fixture.height, "size \(image.sizeDescription)")
        let (maximum, count) = difference(image, expected)
        #expect(maximum <= fixture.tolerance, "max difference \(maximum) over \(count) of \(expected.count) bytes")
        let info = try ImageDecoder.probe(bytes)
        #expect(info.width == fixture.width && info.height == fixture.height)
    }

    @Test func fixturesCoverEveryVariantTheIssueNames() {
        let files = Set(ImageFixtures.manifest.decode.map(\.file))
        for required in [
            "png_palette_trns.png", "png_rgb16.png", "png_grey16.png", "png_interlaced.png", "png_rgba.png",
            "jpeg_progressive.jpg", "jpeg_cmyk.jpg", "jpeg_grey.jpg", "jpeg_exif_6.jpg",
            "webp_lossless.webp", "webp_alpha.webp", "gif_transparent.gif", "avif_lossy.avif",
        ] {
            #expect(files.contains(required), "\(required) is missing from the manifest")
        }
    }

    @Test func formatComesFromTheBytes() throws {
        for (file, format) in [("png_rgb8.png", ImageFormat.png), ("jpeg_baseline.jpg", .jpeg), ("webp_lossy.webp", .webp),
                               ("gif_transparent.gif", .gif), ("avif_lossy.avif", .avif)] {
            let bytes = try ImageFixtures.bytes(file)
            #expect(bytes.withUnsafeBytes { ImageFormat(detecting: $0) } == format)
            #expect(try ImageDecoder.probe(bytes).format == format)
        }
    }

    @Test func probeReportsOrientationAndDisplayedSize() throws {
        let info = try ImageDecoder.probe(try ImageFixtures.bytes("jpeg_exif_6.jpg"))
        #expect(info.orientation == .rotatedClockwise)
        #expect(info.width == 64 && info.height == 96)
        #expect(try ImageDecoder.probe(try ImageFixtures.bytes("png_rgba.png")).hasAlpha)
    }

    @Test func formatsOutsideTheAcceptedSetAreRefused() throws {
        let gif = try ImageFixtures.bytes("gif_transparent.gif")
        #expect(throws: ImageCodecError.unsupportedFormat("the file is a GIF image; accepted image formats: PNG, JPEG, WebP")) {
            try ImageDecoder.decode(gif, accepting: [.png, .jpeg, .webp])
        }
    }

    @Test func unknownBytesAreNamedWhenRecognisable() {
        let cases: [([UInt8], String)] = [
            (Array("BM\u{0}\u{0}".utf8), "a BMP image"), (Array("%PDF-1.7".utf8), "a PDF document"), ([], "empty"),
            ([0, 0, 0, 24] + Array("ftypheic".utf8) + [0, 0, 0, 0] + Array("mif1heic".utf8), "a HEIC/HEIF image"),
            (Array("hello".utf8), "not an image in a known format"),
        ]
        for (bytes, name) in cases {
            #expect(throws: ImageCodecError.unsupportedFormat("the file is \(name); accepted image formats: PNG, JPEG, WebP, GIF, AVIF")) {
                try ImageDecoder.decode(bytes)
            }
        }
    }
}
