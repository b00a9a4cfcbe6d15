import Foundation

/// Splits text around exact occurrences of special tokens, which the reference matches on the
/// raw text before any normalisation.
enum SpecialTokenSplitter {
    enum Segment: Equatable {
        case text(String)
        case special(String)
    }

    static func split(_ text: String, specials: [String]) -> [Segment] {
        var segments: [Segment] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            let earliest = specials.compactMap { token in rest.range(of: token).map { (token, $0) } }
                .min { first, second in
                    // Leftmost match first; at the same position the longest token wins.
                    first.1.lowerBound != second.1.lowerBound
                        ? first.1.lowerBound < second.1.lowerBound : first.0.count > second.0.count
                }
            guard let (token, range) = earliest else {
                segments.append(.text(String(rest)))
                break
            }
            if range.lowerBound > rest.startIndex { segments.append(.text(String(rest[..<range.lowerBound]))) }
            segments.append(.special(token))
            rest = rest[range.upperBound...]
        }
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
