/// A failure of the tensor backend. ATen's own message is kept word for word.
public enum TorchError: Error, Equatable, CustomStringConvertible {
    /// libtorch or the shim could not be found or loaded.
    case runtimeUnavailable(String)
    /// ATen rejected an operation (shape mismatch, unsupported dtype, out of memory, ...).
    case operationFailed(operation: String, message: String)
    /// The Swift side rejected arguments before calling ATen.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .runtimeUnavailable(let message): "torch runtime unavailable: \(message)"
        case .operationFailed(let operation, let message): "\(operation) failed: \(message)"
        case .invalidArgument(let message): "invalid argument: \(message)"
        }
    }
}
