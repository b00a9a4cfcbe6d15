/// Why a tokenizer could not be loaded. Every case names the file at fault.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read tokenizer file: \(reason)"
        case .malformed(let path, let reason): "\(path): malformed tokenizer file: \(reason)"
        }
    }
}
