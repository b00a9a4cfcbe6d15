/// The EXIF orientation tag (0x0112): how a camera says its stored pixels must be turned for display.
/// Read from JPEG APP1, PNG eXIf and WebP EXIF chunks; every decoded image is returned upright.
public enum ExifOrientation: Int, Sendable, CaseIterable {
    case up = 1, mirrored = 2, upsideDown = 3, mirroredUpsideDown = 4
    case transposed = 5, rotatedClockwise = 6, transverse = 7, rotatedCounterClockwise = 8

    /// Whether displaying the image swaps its width and height.
    public var swapsSides: Bool { rawValue >= 5 }

    /// The orientation recorded in the file; `.up` when there is none or it cannot be read.
    /// Never fails: a damaged EXIF block must not stop an otherwise good image from decoding.
    public init(reading bytes: UnsafeRawBufferPointer, format: ImageFormat) {
        let tiff: Range<Int>? = switch format {
        case .jpeg: Self.jpegExif(bytes)
        case .png: Self.pngExif(bytes)
        case .webp: Self.webpExif(bytes)
        case .gif, .avif: nil
        }
        self = tiff.flatMap { Self.orientation(inTIFF: bytes, $0) } ?? .up
    }

    /// The TIFF block of the first APP1 "Exif" segment before the image data.
    private static func jpegExif(_ bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        var offset = 2
        while offset + 4 <= bytes.count {
            guard bytes[offset] == 0xFF else { return nil }
            let marker = bytes[offset + 1]
            if marker == 0xFF {
                offset += 1
                continue
            }
            if marker == 0x01 || (0xD0...0xD8).contains(marker) {
                offset += 2
                continue
            }
            // Start of scan or end of image: no EXIF comes after this.
            if marker == 0xDA || marker == 0xD9 { return nil }
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard length >= 2, offset + 2 + length <= bytes.count else { return nil }
            let payload = offset + 4..<offset + 2 + length
            let exifHeader: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0]
            if marker == 0xE1, payload.count > exifHeader.count,
                zip(bytes[payload.lowerBound...], exifHeader).allSatisfy({ $0 == $1 })
            {
                return payload.lowerBound + exifHeader.count..<payload.upperBound
            }
            offset = payload.upperBound
        }
        return nil
    }

    private static func pngExif(_ bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = readUInt32(bytes, offset, bigEndian: true)
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            let data = offset + 8
            guard length <= bytes.count - data - 4 else { return nil }
            if type == "eXIf" { return data..<data + length }
            if type == "IEND" { return nil }
            offset = data + length + 4
        }
        return nil
    }

    private static func webpExif(_ bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        var offset = 12
        while offset + 8 <= bytes.count {
            let type = String(decoding: bytes[offset..<offset + 4], as: UTF8.self)
            let length = readUInt32(bytes, offset + 4, bigEndian: false)
            let data = offset + 8
            guard length <= bytes.count - data else { return nil }
            if type == "EXIF" {
                // Some writers keep the JPEG-style "Exif\0\0" prefix.
                let prefixed = length > 6 && String(decoding: bytes[data..<data + 4], as: UTF8.self) == "Exif"
                return (prefixed ? data + 6 : data)..<data + length
            }
            offset = data + length + (length & 1)
        }
        return nil
    }

    /// The orientation entry of IFD0 in a TIFF block.
    private static func orientation(inTIFF bytes: UnsafeRawBufferPointer, _ block: Range<Int>) -> ExifOrientation? {
        guard block.count >= 8 else { return nil }
        let base = block.lowerBound
        let bigEndian: Bool
        switch (bytes[base], bytes[base + 1]) {
        case (0x4D, 0x4D): bigEndian = true
        case (0x49, 0x49): bigEndian = false
        default: return nil
        }
        let directory = readUInt32(bytes, base + 4, bigEndian: bigEndian)
        guard directory >= 8, directory <= block.count - 2 else { return nil }
        let entries = readUInt16(bytes, base + directory, bigEndian: bigEndian)
        for index in 0..<entries {
            let entry = base + directory + 2 + index * 12
            guard entry + 12 <= block.upperBound else { return nil }
            guard readUInt16(bytes, entry, bigEndian: bigEndian) == 0x0112 else { continue }
            // Type SHORT, count 1: the value sits in the first two bytes of the value field.
            guard readUInt16(bytes, entry + 2, bigEndian: bigEndian) == 3 else { return nil }
            return ExifOrientation(rawValue: readUInt16(bytes, entry + 8, bigEndian: bigEndian))
        }
        return nil
    }

    private static func readUInt16(_ bytes: UnsafeRawBufferPointer, _ offset: Int, bigEndian: Bool) -> Int {
        let (first, second) = (Int(bytes[offset]), Int(bytes[offset + 1]))
        return bigEndian ? first << 8 | second : second << 8 | first
    }

    private static func readUInt32(_ bytes: UnsafeRawBufferPointer, _ offset: Int, bigEndian: Bool) -> Int {
        let value = (0..<4).reduce(0) { $0 << 8 | Int(bytes[offset + (bigEndian ? $1 : 3 - $1)]) }
        return value
    }
}

extension RGBImage {
    /// The image turned upright according to `orientation`.
    public func applying(_ orientation: ExifOrientation) -> RGBImage {
        if orientation == .up { return self }
        let (outputWidth, outputHeight) = orientation.swapsSides ? (height, width) : (width, height)
        let (w, h) = (width, height)
        // For each displayed pixel (x, y), the stored pixel it shows.
        let source: (Int, Int) -> (Int, Int) = switch orientation {
        case .up: { ($0, $1) }
        case .mirrored: { (w - 1 - $0, $1) }
        case .upsideDown: { (w - 1 - $0, h - 1 - $1) }
        case .mirroredUpsideDown: { ($0, h - 1 - $1) }
        case .transposed: { ($1, $0) }
        case .rotatedClockwise: { ($1, h - 1 - $0) }
        case .transverse: { (w - 1 - $1, h - 1 - $0) }
        case .rotatedCounterClockwise: { (w - 1 - $1, $0) }
        }
        var output = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                var target = 0
                for y in 0..<outputHeight {
                    for x in 0..<outputWidth {
                        let (sourceX, sourceY) = source(x, y)
                        let index = (sourceY * w + sourceX) * 3
                        output[target] = input[index]
                        output[target + 1] = input[index + 1]
                        output[target + 2] = input[index + 2]
                        target += 3
                    }
                }
            }
        }
        return RGBImage(validatedWidth: outputWidth, height: outputHeight, pixels: output)
    }
}
