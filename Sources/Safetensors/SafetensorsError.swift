/// Why a safetensors file or checkpoint could not be read or written. Every case names the file.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened, mapped or written.
    case io(path: String, message: String)
    /// The file is not a valid safetensors file.
    case malformed(path: String, reason: String)
    /// A dtype this reader does not know.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// A tensor that was asked for is not in the file or checkpoint.
    case missingTensor(path: String, tensor: String)

    public var description: String {
        switch self {
        case .io(let path, let message): "\(path): \(message)"
        case .malformed(let path, let reason): "\(path): not a valid safetensors file: \(reason)"
        case .unknownDType(let path, let tensor, let dtype): "\(path): tensor '\(tensor)' has unknown dtype '\(dtype)'"
        case .missingTensor(let path, let tensor): "\(path): no tensor named '\(tensor)'"
        }
    }
}
