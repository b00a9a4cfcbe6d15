import Foundation

extension RGBImage {
    /// The image resized with a Lanczos-3 filter, computed as Pillow's
    /// `Image.resize((width, height), Image.LANCZOS)` computes it: separable, horizontal pass first,
    /// the filter widened by the scale factor when shrinking, weights in 22-bit fixed point on the
    /// 8-bit sRGB values. diffusers prepares Kontext's input images with exactly that call, so the
    /// engine sees the same pixels as the reference.
    public func resized(width newWidth: Int, height newHeight: Int) throws(ImageCodecError) -> RGBImage {
        guard newWidth > 0, newHeight > 0 else { throw .invalidArgument("cannot resize to \(newWidth)x\(newHeight)") }
        if newWidth == width, newHeight == height { return self }
        let horizontal = LanczosWeights(inputSize: width, outputSize: newWidth)
        let vertical = LanczosWeights(inputSize: height, outputSize: newHeight)
        var image = self
        if newWidth != width {
            // Only the rows the vertical pass reads are resampled horizontally.
            let rows = vertical.firstInput..<vertical.endInput
            image = image.resampledHorizontally(horizontal, rows: newHeight != height ? rows : 0..<height)
        }
        if newHeight != height {
            image = image.resampledVertically(vertical.shifted(by: newWidth != width ? vertical.firstInput : 0))
        }
        return image
    }

    private func resampledHorizontally(_ weights: LanczosWeights, rows: Range<Int>) -> RGBImage {
        let outputWidth = weights.outputSize
        var output = [UInt8](repeating: 0, count: outputWidth * rows.count * 3)
        pixels.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                weights.coefficients.withUnsafeBufferPointer { coefficients in
                    for (outputRow, row) in rows.enumerated() {
                        let inputRow = row * width * 3
                        let outputRowStart = outputRow * outputWidth * 3
                        for x in 0..<outputWidth {
                            let (start, count, first) = weights.taps(x)
                            var sums = (LanczosWeights.half, LanczosWeights.half, LanczosWeights.half)
                            for tap in 0..<count {
                                let pixel = inputRow + (start + tap) * 3
                                let coefficient = coefficients[first + tap]
                                sums.0 &+= Int32(input[pixel]) &* coefficient
                                sums.1 &+= Int32(input[pixel + 1]) &* coefficient
                                sums.2 &+= Int32(input[pixel + 2]) &* coefficient
                            }
                            let target = outputRowStart + x * 3
                            output[target] = LanczosWeights.clip(sums.0)
                            output[target + 1] = LanczosWeights.clip(sums.1)
                            output[target + 2] = LanczosWeights.clip(sums.2)
                        }
                    }
                }
            }
        }
        return RGBImage(validatedWidth: outputWidth, height: rows.count, pixels: output)
    }

    private func resampledVertically(_ weights: LanczosWeights) -> RGBImage {
        let outputHeight = weights.outputSize
        let rowLength = width * 3
        var output = [UInt8](repeating: 0, count: rowLength * outputHeight)
        var sums = [Int32](repeating: 0, count: rowLength)
        pixels.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                sums.withUnsafeMutableBufferPointer { sums in
                    weights.coefficients.withUnsafeBufferPointer { coefficients in
                        for y in 0..<outputHeight {
                            let (start, count, first) = weights.taps(y)
                            for index in 0..<rowLength { sums[index] = LanczosWeights.half }
                            // Row by row, so the inner loop walks memory in order.
                            for tap in 0..<count {
                                let coefficient = coefficients[first + tap]
                                let inputRow = (start + tap) * rowLength
                                for index in 0..<rowLength { sums[index] &+= Int32(input[inputRow + index]) &* coefficient }
                            }
                            let outputRow = y * rowLength
                            for index in 0..<rowLength { output[outputRow + index] = LanczosWeights.clip(sums[index]) }
                        }
                    }
                }
            }
        }
        return RGBImage(validatedWidth: width, height: outputHeight, pixels: output)
    }
}

/// The filter taps of one resampling pass (Pillow's `precompute_coeffs` and
/// `normalize_coeffs_8bpc`), for every output position.
struct LanczosWeights {
    static let precisionBits = 32 - 8 - 2
    /// Rounding offset every sum starts from. Sums are 32-bit as in Pillow: 255 times the largest
    /// total of absolute weights stays far below 2^31.
    static let half: Int32 = 1 << (precisionBits - 1)

    let outputSize: Int
    /// Per output position: first input index, number of taps.
    private var bounds: [(start: Int, count: Int)]
    /// `kernelSize` fixed-point coefficients per output position.
    let coefficients: [Int32]
    private let kernelSize: Int

    init(inputSize: Int, outputSize: Int) {
        let support = 3.0
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1.0)
        let scaledSupport = support * filterScale
        let kernelSize = Int(scaledSupport.rounded(.up)) * 2 + 1
        var bounds = [(start: Int, count: Int)]()
        bounds.reserveCapacity(outputSize)
        var coefficients = [Int32](repeating: 0, count: outputSize * kernelSize)
        var weights = [Double](repeating: 0, count: kernelSize)
        for position in 0..<outputSize {
            let center = (Double(position) + 0.5) * scale
            // Pillow's (int)(x + 0.5): truncation toward zero, then clamped.
            let start = max(Int(center - scaledSupport + 0.5), 0)
            let end = min(Int(center + scaledSupport + 0.5), inputSize)
            var total = 0.0
            for tap in 0..<(end - start) {
                let weight = Self.lanczos((Double(tap + start) - center + 0.5) / filterScale)
                weights[tap] = weight
                total += weight
            }
            for tap in 0..<(end - start) {
                let weight = total != 0 ? weights[tap] / total : weights[tap]
                let fixed = weight * Double(1 << Self.precisionBits)
                coefficients[position * kernelSize + tap] = Int32(weight < 0 ? -0.5 + fixed : 0.5 + fixed)
            }
            bounds.append((start, end - start))
        }
        self.outputSize = outputSize
        self.bounds = bounds
        self.coefficients = coefficients
        self.kernelSize = kernelSize
    }

    /// The first input index any output position reads.
    var firstInput: Int { bounds.first.map(\.start) ?? 0 }
    /// One past the last input index any output position reads.
    var endInput: Int { bounds.last.map { $0.start + $0.count } ?? 0 }

    /// The same weights reading from an input that starts `offset` positions later.
    func shifted(by offset: Int) -> LanczosWeights {
        var copy = self
        copy.bounds = bounds.map { ($0.start - offset, $0.count) }
        return copy
    }

    /// The input range output `position` reads, and where its coefficients start in `coefficients`.
    func taps(_ position: Int) -> (start: Int, count: Int, firstCoefficient: Int) {
        let (start, count) = bounds[position]
        return (start, count, position * kernelSize)
    }

    static func clip(_ value: Int32) -> UInt8 {
        if value >= 1 << (precisionBits + 8) { return 255 }
        if value <= 0 { return 0 }
        return UInt8(value >> precisionBits)
    }

    private static func lanczos(_ x: Double) -> Double {
        guard -3.0 <= x, x < 3.0 else { return 0 }
        return sinc(x) * sinc(x / 3)
    }

    private static func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let angle = x * Double.pi
        return sin(angle) / angle
    }
}

