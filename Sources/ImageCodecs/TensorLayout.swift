extension RGBImage {
    /// The pixels as diffusers' `VaeImageProcessor` prepares them: (height, width, 3) floats in
    /// [-1, 1] (`value / 255`, then `2 * x - 1`, in float32). The reference turns this array into the
    /// VAE's (3, height, width) input by permuting, not copying, so its input is channels-last in
    /// memory; doing the same matters, because ATen's convolutions round differently in that layout.
    public func normalizedFloats() -> [Float] {
        var output = [Float](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                for index in 0..<input.count {
                    let unit = Float(input[index]) / 255
                    output[index] = 2 * unit - 1
                }
            }
        }
        return output
    }

    /// An image from planar (3, height, width) floats in [-1, 1], as diffusers' postprocessing turns
    /// a VAE output into a PIL image: `(x / 2 + 0.5).clamp(0, 1)`, times 255, rounded half to even.
    public init(normalizedPlanarFloats values: [Float], width: Int, height: Int) throws(ImageCodecError) {
        guard width > 0, height > 0, values.count == width * height * 3 else {
            throw .invalidArgument("\(values.count) values do not make a 3x\(height)x\(width) image")
        }
        let planeSize = width * height
        var pixels = [UInt8](repeating: 0, count: planeSize * 3)
        values.withUnsafeBufferPointer { input in
            pixels.withUnsafeMutableBufferPointer { pixels in
                for pixel in 0..<planeSize {
                    for channel in 0..<3 {
                        let value = input[channel * planeSize + pixel]
                        // NaN becomes black: a defined colour rather than an undefined conversion.
                        let unit = value.isNaN ? 0 : min(max(value / 2 + 0.5, 0), 1)
                        pixels[pixel * 3 + channel] = UInt8((unit * 255).rounded(.toNearestOrEven))
                    }
                }
            }
        }
        self.init(validatedWidth: width, height: height, pixels: pixels)
    }
}
