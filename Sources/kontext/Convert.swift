import ArgumentParser
import Foundation
import ImageCodecs

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode an image, optionally resize it (Lanczos, as Pillow), and encode it in another format.",
        discussion: "Reads PNG, JPEG, WebP, GIF (first frame) and AVIF; the format comes from the bytes. Writes the format of --format, else of the output's extension.")

    @Argument(help: "Input image file.")
    var input: String

    @Argument(help: "Output file (.png, .jpg/.jpeg, .webp, .gif or .avif).")
    var output: String

    @Option(help: "Output format: \(ImageFormat.allCases.map(\.rawValue).joined(separator: ", ")). Default: from the output's extension.")
    var format: String?

    @Option(help: "Resize to exactly WxH pixels.")
    var size: String?

    @Option(help: "Quality 0-100 for JPEG, WebP and AVIF.")
    var quality = 90

    @Flag(inversion: .prefixedNo, help: "GIF: dither onto the palette.")
    var dithering = true

    func run() throws {
        let outputFormat = try resolvedFormat()
        let started = DispatchTime.now().uptimeNanoseconds
        let bytes = try Data(contentsOf: URL(fileURLWithPath: input))
        let info = try ImageDecoder.probe(bytes)
        var image = try ImageDecoder.decode(bytes)
        if let size {
            let sides = size.lowercased().split(separator: "x").compactMap { Int($0) }
            guard sides.count == 2, sides.allSatisfy({ $0 > 0 }) else { throw ValidationError("--size takes WxH, e.g. 1024x768, not \(size)") }
            image = try image.resized(width: sides[0], height: sides[1])
        }
        let encoded = try ImageEncoder.encode(image, as: outputFormat, options: EncodeOptions(quality: quality, dithering: dithering))
        try Data(encoded).write(to: URL(fileURLWithPath: output))
        let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
        print("\(input) (\(info.format.displayName) \(info.width)x\(info.height)) -> \(output) (\(outputFormat.displayName) \(image.sizeDescription), \(encoded.count) bytes) in \(Int(milliseconds)) ms")
    }

    private func resolvedFormat() throws -> ImageFormat {
        let name = (format ?? URL(fileURLWithPath: output).pathExtension).lowercased()
        guard let format = ImageFormat(rawValue: name == "jpg" ? "jpeg" : name) else {
            throw ValidationError("unknown output format '\(name)': use --format with one of \(ImageFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return format
    }
}

extension ImageCodecError: CustomStringConvertible {
    public var description: String { message }
}
