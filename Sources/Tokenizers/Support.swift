import Foundation

/// Splits text around exact occurrences of special tokens, which the reference matches on the
/// raw text before any normalisation: leftmost match first, the longest token at one position.
struct SpecialTokenSplitter: Sendable {
    enum Segment: Equatable {
        case text(String)
        case special(String)
    }

    /// Candidate tokens by first scalar, longest first.
    private let candidates: [Unicode.Scalar: [String]]

    init(_ specials: some Sequence<String>) {
        var candidates: [Unicode.Scalar: [String]] = [:]
        for token in specials {
            if let first = token.unicodeScalars.first { candidates[first, default: []].append(token) }
        }
        self.candidates = candidates.mapValues { $0.sorted { $0.unicodeScalars.count > $1.unicodeScalars.count } }
    }

    func split(_ text: String) -> [Segment] {
        let scalars = text.unicodeScalars
        var segments: [Segment] = []
        var segmentStart = scalars.startIndex
        var index = scalars.startIndex
        while index < scalars.endIndex {
            if let tokens = candidates[scalars[index]],
                let token = tokens.first(where: { scalars[index...].starts(with: $0.unicodeScalars) })
            {
                if segmentStart < index { segments.append(.text(String(scalars[segmentStart..<index]))) }
                segments.append(.special(token))
                index = scalars.index(index, offsetBy: token.unicodeScalars.count)
                segmentStart = index
            } else {
                index = scalars.index(after: index)
            }
        }
        if segmentStart < scalars.endIndex { segments.append(.text(String(scalars[segmentStart...]))) }
        return segments
    }
}

/// Reading the tokenizer files, with errors that name the file.
enum JSONFile {
    static func data(_ path: String) throws(TokenizerError) -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
    }

    static func text(_ path: String) throws(TokenizerError) -> String {
        guard let text = String(data: try data(path), encoding: .utf8) else {
            throw .malformed(path: path, reason: "not UTF-8 text")
        }
        return text
    }

    static func read(_ path: String) throws(TokenizerError) -> Any {
        do {
            return try JSONSerialization.jsonObject(with: try data(path))
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw .malformed(path: path, reason: "not valid JSON: \(error.localizedDescription)")
        }
    }

    /// A JSON object whose values are all integers, as `[String: Int]`.
    static func integerMap(_ value: Any?) -> [String: Int]? {
        guard let object = value as? [String: Any] else { return nil }
        var result: [String: Int] = [:]
        result.reserveCapacity(object.count)
        for (key, value) in object {
            guard let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded() else { return nil }
            result[key] = number.intValue
        }
        return result
    }
}
