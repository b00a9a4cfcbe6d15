import CImageCodecs

#if canImport(Glibc)
import Glibc
#endif

/// How to encode; the defaults are the API's.
public struct EncodeOptions: Sendable, Equatable {
    /// 0...100 for JPEG, WebP and AVIF (100 = best; WebP 100 is lossless). Ignored by PNG and GIF.
    public var quality: Int
    /// GIF: Floyd–Steinberg error diffusion onto the palette, which hides banding in gradients.
    public var dithering: Bool
    /// PNG: zlib level 0...9.
    public var pngCompressionLevel: Int
    /// AVIF: encoder speed 0 (slowest, smallest) ... 10 (fastest).
    public var avifSpeed: Int
    /// AVIF: encoder threads.
    public var threads: Int

    public init(quality: Int = 90, dithering: Bool = true, pngCompressionLevel: Int = 6, avifSpeed: Int = 8, threads: Int = 0) {
        self.quality = quality
        self.dithering = dithering
        self.pngCompressionLevel = pngCompressionLevel
        self.avifSpeed = avifSpeed
        self.threads = threads > 0 ? threads : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// Encodes `RGBImage`s as PNG, JPEG, WebP, GIF or AVIF files.
public enum ImageEncoder {
    /// The encoded file's bytes.
    public static func encode(_ image: RGBImage, as format: ImageFormat, options: EncodeOptions = EncodeOptions()) throws(ImageCodecError) -> [UInt8] {
        guard (0...100).contains(options.quality) else { throw .invalidArgument("quality must be 0 to 100, not \(options.quality)") }
        guard (0...9).contains(options.pngCompressionLevel) else {
            throw .invalidArgument("PNG compression level must be 0 to 9, not \(options.pngCompressionLevel)")
        }
        guard (0...10).contains(options.avifSpeed) else { throw .invalidArgument("AVIF speed must be 0 to 10, not \(options.avifSpeed)") }
        let width = UInt32(image.width), height = UInt32(image.height)
        var output = kic_output()
        let result: kic_result
        if format == .gif {
            let indexed = try IndexedImage(image, dithering: options.dithering)
            result = indexed.indices.withUnsafeBufferPointer { indices in
                kic_gif_encode(indices.baseAddress, width, height, indexed.palette, Int32(indexed.palette.count / 3), &output)
            }
        } else {
            result = image.pixels.withUnsafeBufferPointer { pixels in
                let rgb = pixels.baseAddress
                return switch format {
                case .png: kic_png_encode(rgb, width, height, Int32(options.pngCompressionLevel), &output)
                case .jpeg: kic_jpeg_encode(rgb, width, height, Int32(options.quality), &output)
                case .webp: kic_webp_encode(rgb, width, height, Int32(options.quality), &output)
                case .avif:
                    kic_avif_encode(rgb, width, height, Int32(options.quality), Int32(options.avifSpeed), Int32(options.threads), &output)
                case .gif: preconditionFailure("handled above")
                }
            }
        }
        defer { kic_free_output(&output) }
        switch result.status {
        case KIC_OK: return Array(UnsafeBufferPointer(start: output.bytes, count: output.count))
        case KIC_TOO_LARGE: throw .tooLarge(result.text)
        default: throw .encodingFailed(format: format, reason: result.text)
        }
    }
}
