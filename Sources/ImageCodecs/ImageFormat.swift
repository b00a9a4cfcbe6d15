import CImageCodecs

/// The image file formats the codecs read and write.
public enum ImageFormat: String, Sendable, CaseIterable, Hashable {
    case png, jpeg, webp, gif, avif

    /// The format the bytes are in, from their signature; nil when they are in none of these.
    /// The file name and declared content type are deliberately not consulted: they are often wrong.
    public init?(detecting bytes: UnsafeRawBufferPointer) {
        func matches(_ signature: [UInt8], at offset: Int = 0) -> Bool {
            guard bytes.count >= offset + signature.count else { return false }
            return signature.indices.allSatisfy { bytes[offset + $0] == signature[$0] }
        }
        if matches([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else if matches([0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else if matches(Array("RIFF".utf8)), matches(Array("WEBP".utf8), at: 8) {
            self = .webp
        } else if matches(Array("GIF87a".utf8)) || matches(Array("GIF89a".utf8)) {
            self = .gif
        } else if Self.isoBrands(bytes).contains(where: { $0 == "avif" || $0 == "avis" }) {
            self = .avif
        } else {
            return nil
        }
    }

    /// The MIME type for responses.
    public var mimeType: String {
        switch self {
        case .png: "image/png"
        case .jpeg: "image/jpeg"
        case .webp: "image/webp"
        case .gif: "image/gif"
        case .avif: "image/avif"
        }
    }

    /// The usual file extension, without the dot.
    public var fileExtension: String { rawValue == "jpeg" ? "jpg" : rawValue }

    /// The name people use ("PNG", "JPEG", "WebP", ...).
    public var displayName: String { self == .webp ? "WebP" : rawValue.uppercased() }

    /// Whether `quality` changes the output.
    public var isLossy: Bool { self == .jpeg || self == .webp || self == .avif }

    /// The major and compatible brands of an ISO base media file (`ftyp` box), empty otherwise.
    static func isoBrands(_ bytes: UnsafeRawBufferPointer) -> [String] {
        guard bytes.count >= 16, String(decoding: bytes[4..<8], as: UTF8.self) == "ftyp" else { return [] }
        let boxSize = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        let end = min(max(boxSize, 16), bytes.count)
        var brands = [String(decoding: bytes[8..<12], as: UTF8.self)]
        var offset = 16
        while offset + 4 <= end {
            brands.append(String(decoding: bytes[offset..<offset + 4], as: UTF8.self))
            offset += 4
        }
        return brands
    }

    /// What the bytes look like, for an error message that helps: "a GIF image", "a PDF document".
    static func describe(_ bytes: UnsafeRawBufferPointer) -> String {
        if let format = ImageFormat(detecting: bytes) { return "a \(format.displayName) image" }
        func starts(with text: String) -> Bool {
            let signature = Array(text.utf8)
            return bytes.count >= signature.count && zip(bytes, signature).allSatisfy { $0 == $1 }
        }
        let brands = isoBrands(bytes)
        if brands.contains(where: { ["heic", "heix", "hevc", "heim", "heis", "mif1"].contains($0) }) { return "a HEIC/HEIF image" }
        if starts(with: "BM") { return "a BMP image" }
        if starts(with: "II*\0") || starts(with: "MM\0*") { return "a TIFF image" }
        if starts(with: "%PDF") { return "a PDF document" }
        if starts(with: "<svg") || starts(with: "<?xml") { return "an SVG or XML document" }
        if bytes.isEmpty { return "empty" }
        return "not an image in a known format"
    }
}

/// The C libraries behind the codecs and their versions, for `kontext doctor` and bug reports.
public var imageCodecLibraries: String {
    var text = [CChar](repeating: 0, count: 512)
    kic_library_versions(&text, text.count)
    return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
