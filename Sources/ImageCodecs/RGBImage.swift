/// An 8-bit sRGB image, three bytes per pixel, rows top to bottom without padding.
///
/// Every decoder produces one (alpha already composited over white) and every encoder takes one.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes: R, G, B for each pixel in row-major order.
    public let pixels: [UInt8]

    /// Wraps `pixels`; throws when the byte count does not match the size.
    public init(width: Int, height: Int, pixels: [UInt8]) throws(ImageCodecError) {
        guard width > 0, height > 0 else {
            throw .invalidArgument("an image needs a positive size, not \(width)x\(height)")
        }
        guard pixels.count == width * height * 3 else {
            throw .invalidArgument("\(pixels.count) bytes do not make a \(width)x\(height) RGB image (\(width * height * 3) expected)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image of one colour.
    public init(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) throws(ImageCodecError) {
        guard width > 0, height > 0 else {
            throw .invalidArgument("an image needs a positive size, not \(width)x\(height)")
        }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for index in stride(from: 0, to: pixels.count, by: 3) {
            pixels[index] = red
            pixels[index + 1] = green
            pixels[index + 2] = blue
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// For code that has already checked the size.
    init(validatedWidth width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// "WxH", as the API reports sizes.
    public var sizeDescription: String { "\(width)x\(height)" }
}
