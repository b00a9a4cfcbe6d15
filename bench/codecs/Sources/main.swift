// Encode and decode time of a 1024x1024 picture per format, and Lanczos resize time, for
// bench/codecs/run, which runs pillow_codecs.py on the same inputs. Decoding reads the files Pillow
// wrote, so both sides decode identical bytes. Prints one JSON object per line; times are medians
// in milliseconds; psnr_db is the fidelity of the encoded file to the picture.
// Usage: kontext-bench-codecs PHOTO.png PILLOW_FILES_DIR [runs]
import Foundation
import ImageCodecs

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: kontext-bench-codecs PHOTO.png PILLOW_FILES_DIR [runs]\n".utf8))
    exit(2)
}
let runs = arguments.count > 3 ? Int(arguments[3]) ?? 10 : 10
let photo = try ImageDecoder.decode(Data(contentsOf: URL(fileURLWithPath: arguments[1])))

/// Median wall time of `runs` calls after one warm-up call, in milliseconds.
func medianMilliseconds(_ body: () throws -> Void) rethrows -> Double {
    try body()
    var times = [Double]()
    for _ in 0..<runs {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    return times.sorted()[times.count / 2]
}

/// Peak signal-to-noise ratio of `a` against `b`, in dB; identical images report 99 (JSON has no infinity).
func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
    let squared = zip(a.pixels, b.pixels).reduce(0.0) { $0 + pow(Double(Int($1.0) - Int($1.1)), 2) }
    return squared == 0 ? 99 : min(99, 10 * log10(255 * 255 * Double(a.pixels.count) / squared))
}

func emit(_ fields: [String: Any]) throws {
    print(String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self))
}

// No GIF dithering here (the API's default dithers): Pillow's quantize() does not dither.
let options = EncodeOptions(quality: 90, dithering: false, pngCompressionLevel: 6, avifSpeed: 8)
for format in ImageFormat.allCases {
    var encoded = [UInt8]()
    let encode = try medianMilliseconds { encoded = try ImageEncoder.encode(photo, as: format, options: options) }
    let pillowFile = try Data(contentsOf: URL(fileURLWithPath: "\(arguments[2])/photo.\(format.rawValue)"))
    let decode = try medianMilliseconds { _ = try ImageDecoder.decode(pillowFile) }
    let fidelity = psnr(try ImageDecoder.decode(encoded), photo)
    try emit(["format": format.rawValue, "encode_ms": encode, "decode_ms": decode, "bytes": encoded.count, "psnr_db": fidelity])
}
for (width, height) in [(512, 512), (1184, 880), (2048, 2048)] {
    let resize = try medianMilliseconds { _ = try photo.resized(width: width, height: height) }
    try emit(["resize": "\(width)x\(height)", "ms": resize])
}
