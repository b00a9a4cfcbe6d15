import CImageCodecs
import Foundation

/// Bounds on what a decoder accepts, all checked from the header before any pixel memory exists,
/// so a small file that claims a huge image (a decompression bomb) costs nothing.
public struct DecodeLimits: Sendable, Equatable {
    /// Largest accepted file, in bytes.
    public var maxBytes: Int
    /// Largest accepted width or height, in pixels.
    public var maxSide: Int
    /// Largest accepted width x height. The decoded image takes 3 bytes a pixel, and an image with
    /// alpha briefly 4 more.
    public var maxPixels: Int
    /// Most scans a progressive JPEG may have; each costs a pass over the image, so a file of
    /// thousands of tiny scans is a CPU bomb.
    public var maxProgressiveScans: Int

    /// The API's limits: 50 MiB, 14142 px a side, 64 megapixels, 500 scans.
    public init(maxBytes: Int = 50 << 20, maxSide: Int = 14142, maxPixels: Int = 64 << 20, maxProgressiveScans: Int = 500) {
        self.maxBytes = maxBytes
        self.maxSide = maxSide
        self.maxPixels = maxPixels
        self.maxProgressiveScans = maxProgressiveScans
    }

    var c: kic_limits { kic_limits(max_side: UInt32(clamping: maxSide), max_pixels: UInt64(clamping: maxPixels)) }
}

/// What the header of an image file says, read without decoding pixels.
public struct ImageInfo: Sendable, Equatable {
    public let format: ImageFormat
    /// Size as displayed, after the EXIF orientation is applied.
    public let width: Int
    public let height: Int
    /// Whether the file has transparency (GIF: not known from the header; reported false).
    public let hasAlpha: Bool
    /// EXIF orientation, 1 (as stored) to 8.
    public let orientation: ExifOrientation
}

/// Decodes PNG, JPEG, WebP, GIF (first frame) and AVIF files into `RGBImage`s.
public enum ImageDecoder {
    /// Reads only the header: format, size, alpha, orientation. Checks `limits`.
    public static func probe(
        _ bytes: some ContiguousBytes, limits: DecodeLimits = DecodeLimits(),
        accepting formats: Set<ImageFormat> = Set(ImageFormat.allCases)
    ) throws(ImageCodecError) -> ImageInfo {
        try withRawBytes(bytes) { raw throws(ImageCodecError) in try probe(raw, limits: limits, accepting: formats) }
    }

    /// Decodes the image to RGB8 with alpha composited over white and the EXIF orientation applied.
    /// The format comes from the bytes; `formats` lists those the caller accepts.
    public static func decode(
        _ bytes: some ContiguousBytes, limits: DecodeLimits = DecodeLimits(),
        accepting formats: Set<ImageFormat> = Set(ImageFormat.allCases)
    ) throws(ImageCodecError) -> RGBImage {
        try withRawBytes(bytes) { raw throws(ImageCodecError) in try decode(raw, limits: limits, accepting: formats) }
    }

    /// `body` over the bytes, keeping the typed error (`withUnsafeBytes` only rethrows untyped).
    private static func withRawBytes<Value>(
        _ bytes: some ContiguousBytes, _ body: (UnsafeRawBufferPointer) throws(ImageCodecError) -> Value
    ) throws(ImageCodecError) -> Value {
        try bytes.withUnsafeBytes { raw in Result { () throws(ImageCodecError) in try body(raw) } }.get()
    }

    private struct Header {
        let format: ImageFormat
        let width: Int
        let height: Int
        let hasAlpha: Bool
    }

    private static func probe(
        _ bytes: UnsafeRawBufferPointer, limits: DecodeLimits, accepting formats: Set<ImageFormat>
    ) throws(ImageCodecError) -> ImageInfo {
        let header = try readHeader(bytes, limits: limits, accepting: formats)
        let orientation = ExifOrientation(reading: bytes, format: header.format)
        let swapsSides = orientation.swapsSides
        return ImageInfo(
            format: header.format, width: swapsSides ? header.height : header.width,
            height: swapsSides ? header.width : header.height, hasAlpha: header.hasAlpha, orientation: orientation)
    }

    private static func decode(
        _ bytes: UnsafeRawBufferPointer, limits: DecodeLimits, accepting formats: Set<ImageFormat>
    ) throws(ImageCodecError) -> RGBImage {
        let header = try readHeader(bytes, limits: limits, accepting: formats)
        let data = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let count = bytes.count
        let limitsC = limits.c
        var status = kic_result()
        let pixels = [UInt8](unsafeUninitializedCapacity: header.width * header.height * 3) { buffer, initialized in
            let output = buffer.baseAddress!
            status = switch header.format {
            case .png: kic_png_decode(data, count, limitsC, output, buffer.count)
            case .jpeg: kic_jpeg_decode(data, count, UInt32(clamping: limits.maxProgressiveScans), output, buffer.count)
            case .webp: kic_webp_decode(data, count, output, buffer.count)
            case .gif: kic_gif_decode(data, count, limitsC, output, buffer.count)
            case .avif: kic_avif_decode(data, count, limitsC, output, buffer.count)
            }
            // On failure the bytes may be partly written; they are dropped below either way.
            initialized = buffer.count
        }
        try check(status, format: header.format, limits: limits)
        let image = RGBImage(validatedWidth: header.width, height: header.height, pixels: pixels)
        return image.applying(ExifOrientation(reading: bytes, format: header.format))
    }

    private static func readHeader(
        _ bytes: UnsafeRawBufferPointer, limits: DecodeLimits, accepting formats: Set<ImageFormat>
    ) throws(ImageCodecError) -> Header {
        guard bytes.count <= limits.maxBytes else {
            throw .tooLarge("the image file is \(bytes.count) bytes; the limit is \(limits.maxBytes)")
        }
        guard let format = ImageFormat(detecting: bytes), formats.contains(format) else {
            let accepted = ImageFormat.allCases.filter(formats.contains).map(\.displayName).joined(separator: ", ")
            let found = ImageFormat.describe(bytes)
            throw .unsupportedFormat("the file is \(found); accepted image formats: \(accepted)")
        }
        let data = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var header = kic_header()
        let status = switch format {
        case .png: kic_png_read_header(data, bytes.count, limits.c, &header)
        case .jpeg: kic_jpeg_read_header(data, bytes.count, &header)
        case .webp: kic_webp_read_header(data, bytes.count, &header)
        case .gif: kic_gif_read_header(data, bytes.count, &header)
        case .avif: kic_avif_read_header(data, bytes.count, limits.c, &header)
        }
        try check(status, format: format, limits: limits)
        let width = Int(header.width), height = Int(header.height)
        guard width > 0, height > 0 else { throw .invalidImage(format: format, reason: "the header gives a size of \(width)x\(height)") }
        guard width <= limits.maxSide, height <= limits.maxSide else {
            throw .tooLarge("the image is \(width)x\(height); the limit is \(limits.maxSide) pixels a side")
        }
        guard width * height <= limits.maxPixels else {
            throw .tooLarge("the image is \(width)x\(height) (\(width * height) pixels); the limit is \(limits.maxPixels) pixels")
        }
        return Header(format: format, width: width, height: height, hasAlpha: header.has_alpha != 0)
    }

    private static func check(_ result: kic_result, format: ImageFormat, limits: DecodeLimits) throws(ImageCodecError) {
        let message = result.text
        switch result.status {
        case KIC_OK: return
        case KIC_TOO_LARGE:
            throw .tooLarge(
                "the \(format.displayName) image is over the limit of \(limits.maxSide) pixels a side or \(limits.maxPixels) pixels (\(message))")
        case KIC_FAILED: throw .invalidImage(format: format, reason: message.isEmpty ? "the decoder failed" : message)
        default: throw .invalidImage(format: format, reason: message.isEmpty ? "the file is corrupt" : message)
        }
    }
}

extension kic_result {
    /// The library's message as a Swift string.
    var text: String {
        withUnsafeBytes(of: message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
