/// Why an image could not be read or written. The API maps these to its error codes in one place:
/// `unsupportedFormat` and `invalidImage` to `unsupported_image_format`, `tooLarge` to
/// `image_too_large`, the others to server errors.
public enum ImageCodecError: Error, Equatable, Sendable {
    /// The bytes are in no format the decoder reads, or in one the caller does not accept.
    case unsupportedFormat(String)
    /// A file of a known format that cannot be decoded: truncated, corrupt, or using a feature
    /// that is not supported (an animated WebP, say).
    case invalidImage(format: ImageFormat, reason: String)
    /// Over a limit: file size, pixels a side, or pixel count.
    case tooLarge(String)
    /// The encoder failed.
    case encodingFailed(format: ImageFormat, reason: String)
    /// A caller error: an impossible size, a quality out of range.
    case invalidArgument(String)

    /// A sentence for the person who sent the image.
    public var message: String {
        switch self {
        case .unsupportedFormat(let reason), .tooLarge(let reason), .invalidArgument(let reason):
            reason
        case .invalidImage(let format, let reason):
            "the \(format.displayName) image cannot be decoded: \(reason)"
        case .encodingFailed(let format, let reason):
            "encoding \(format.displayName) failed: \(reason)"
        }
    }
}
