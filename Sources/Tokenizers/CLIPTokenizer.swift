import Foundation
import Synchronization

/// The CLIP byte-level BPE tokenizer, giving the same ids as the Hugging Face `CLIPTokenizer`
/// (transformers 5, tokenizers backend) that the FLUX pipelines use for the pooled prompt vector.
///
/// The special tokens are matched on the raw text first. The rest is NFC-normalised, runs of
/// whitespace become one space, and it is lower-cased scalar by scalar; the pre-tokenizer keeps
/// the matches of `'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+` (the reference's
/// pattern also lists the special tokens, but they never match there: a lower-cased
/// `<|ENDOFTEXT|>` is split like any other text); each piece is mapped byte by byte to GPT-2's
/// printable alphabet, its last symbol gets the `</w>` suffix, and merges apply by rank.
public final class CLIPTokenizer: Sendable {
    public static let startOfText = "<|startoftext|>"
    public static let endOfText = "<|endoftext|>"
    /// The sequence length of CLIP-L's text model.
    public static let contextLength = 77
    private static let splitter = SpecialTokenSplitter([startOfText, endOfText])

    public let startID: Int
    public let endID: Int
    /// Padding uses the end-of-text token, as the reference does.
    public var padID: Int { endID }
    public let vocabularySize: Int

    private let merges: [UInt64: Merge]
    private let byteSymbols: [Int32]
    private let finalByteSymbols: [Int32]
    /// Keyed by `String`, not `Substring`, so an entry does not keep its whole prompt alive.
    private let cache = Mutex<[String: [Int32]]>([:])

    private struct Merge: Sendable {
        let rank: Int32
        let result: Int32
    }

    /// Loads `tokenizer.json` from `directory` when present, else `vocab.json` and `merges.txt`.
    public convenience init(directory: String) throws(TokenizerError) {
        let tokenizerJSON = directory + "/tokenizer.json"
        if FileManager.default.fileExists(atPath: tokenizerJSON) {
            try self.init(tokenizerJSON: tokenizerJSON)
        } else {
            try self.init(vocabularyFile: directory + "/vocab.json", mergesFile: directory + "/merges.txt")
        }
    }

    /// Loads the diffusers layout: `vocab.json` (token to id) and `merges.txt` (one `a b` pair a line).
    public convenience init(vocabularyFile: String, mergesFile: String) throws(TokenizerError) {
        let object = try JSONFile.read(vocabularyFile)
        guard let vocabulary = JSONFile.integerMap(object) else {
            throw .malformed(path: vocabularyFile, reason: "expected a JSON object of token to integer id")
        }
        let text = try JSONFile.text(mergesFile)
        var merges: [(String, String)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || (number == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw .malformed(path: mergesFile, reason: "line \(number + 1) is not two symbols separated by one space: \(line.prefix(80))")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        try self.init(vocabulary: vocabulary, merges: merges, vocabularySource: vocabularyFile, mergesSource: mergesFile)
    }

    /// Loads a Hugging Face `tokenizer.json` whose model is BPE.
    public convenience init(tokenizerJSON path: String) throws(TokenizerError) {
        guard let root = try JSONFile.read(path) as? [String: Any], let model = root["model"] as? [String: Any] else {
            throw .malformed(path: path, reason: "no \"model\" object")
        }
        guard (model["type"] as? String) == "BPE" else {
            throw .malformed(path: path, reason: "model type is \(model["type"] ?? "missing"), expected BPE")
        }
        guard let vocabulary = JSONFile.integerMap(model["vocab"]) else {
            throw .malformed(path: path, reason: "model.vocab is not a map of token to integer id")
        }
        guard let rawMerges = model["merges"] as? [Any] else {
            throw .malformed(path: path, reason: "model.merges is missing")
        }
        var merges: [(String, String)] = []
        for (index, entry) in rawMerges.enumerated() {
            if let pair = entry as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else if let line = entry as? String, case let parts = line.split(separator: " "), parts.count == 2 {
                merges.append((String(parts[0]), String(parts[1])))
            } else {
                throw .malformed(path: path, reason: "model.merges[\(index)] is not a pair of symbols")
            }
        }
        try self.init(vocabulary: vocabulary, merges: merges, vocabularySource: path, mergesSource: path)
    }

    /// Builds a tokenizer from a vocabulary and ranked merges (rank = position in `merges`);
    /// the sources name the files in errors.
    public init(
        vocabulary: [String: Int], merges: [(String, String)],
        vocabularySource: String = "<vocabulary>", mergesSource: String = "<merges>"
    ) throws(TokenizerError) {
        guard let start = vocabulary[Self.startOfText], let end = vocabulary[Self.endOfText] else {
            throw .malformed(path: vocabularySource, reason: "vocabulary lacks \(Self.startOfText) or \(Self.endOfText)")
        }
        var byteSymbols: [Int32] = []
        var finalByteSymbols: [Int32] = []
        for character in ByteLevel.characters {
            guard let plain = vocabulary[String(character)], let final = vocabulary[String(character) + "</w>"] else {
                throw .malformed(path: vocabularySource, reason: "vocabulary lacks the byte symbol \(character) or \(character)</w>")
            }
            byteSymbols.append(Int32(plain))
            finalByteSymbols.append(Int32(final))
        }
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let leftID = vocabulary[left], let rightID = vocabulary[right], let result = vocabulary[left + right] else {
                throw .malformed(path: mergesSource, reason: "merge \(rank + 1) '\(left) \(right)' uses or makes a symbol missing from the vocabulary")
            }
            let key = Self.pairKey(Int32(leftID), Int32(rightID))
            if table[key] == nil { table[key] = Merge(rank: Int32(rank), result: Int32(result)) }
        }
        self.merges = table
        self.byteSymbols = byteSymbols
        self.finalByteSymbols = finalByteSymbols
        self.startID = start
        self.endID = end
        self.vocabularySize = vocabulary.count
    }

    /// The ids of `text` without start/end tokens, truncation or padding.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for segment in Self.splitter.split(text) {
            switch segment {
            case .special(let token):
                ids.append(token == Self.startOfText ? startID : endID)
            case .text(let text):
                for piece in Self.pieces(of: Self.normalize(text)) {
                    ids.append(contentsOf: symbols(of: piece).lazy.map(Int.init))
                }
            }
        }
        return ids
    }

    /// The model input, as the pipeline asks for it: start token, at most `length - 2` text ids,
    /// end token, then padding with the end token up to `length`.
    public func callAsFunction(_ text: String, length: Int = CLIPTokenizer.contextLength) -> [Int] {
        let body = encode(text).prefix(max(length - 2, 0))
        let ids = [startID] + body + [endID]
        return Array(ids.prefix(length)) + Array(repeating: padID, count: max(length - ids.count, 0))
    }

    static func normalize(_ text: String) -> String {
        let composed = text.precomposedStringWithCanonicalMapping
        var folded = String.UnicodeScalarView()
        var inWhitespace = false
        for scalar in composed.unicodeScalars {
            if TextClass.isWhitespace(scalar) {
                if !inWhitespace { folded.append(" ") }
                inWhitespace = true
            } else {
                folded.append(scalar)
                inWhitespace = false
            }
        }
        return String(folded).lowercasedPerScalar()
    }

    /// The pre-tokenizer's matches, in order; whatever no alternative matches (whitespace) is dropped.
    static func pieces(of text: String) -> [Substring] {
        let scalars = text.unicodeScalars
        var pieces: [Substring] = []
        var index = scalars.startIndex
        let contractions = ["s", "t", "re", "ve", "m", "ll", "d"]
        func run(from start: String.UnicodeScalarView.Index, while predicate: (Unicode.Scalar) -> Bool) -> String.UnicodeScalarView.Index {
            var end = start
            while end < scalars.endIndex, predicate(scalars[end]) { end = scalars.index(after: end) }
            return end
        }
        while index < scalars.endIndex {
            let scalar = scalars[index]
            var end = index
            if scalar == "'", let suffix = contractions.first(where: { scalars[scalars.index(after: index)...].starts(with: $0.unicodeScalars) }) {
                end = scalars.index(index, offsetBy: 1 + suffix.unicodeScalars.count)
            } else if TextClass.isLetter(scalar) {
                end = run(from: index, while: TextClass.isLetter)
            } else if TextClass.isNumber(scalar) {
                end = scalars.index(after: index)
            } else if !TextClass.isWhitespace(scalar) {
                end = run(from: index) { !TextClass.isWhitespace($0) && !TextClass.isLetter($0) && !TextClass.isNumber($0) }
            }
            if end == index {
                index = scalars.index(after: index)
            } else {
                pieces.append(Substring(text.unicodeScalars[index..<end]))
                index = end
            }
        }
        return pieces
    }

    /// BPE of one piece, memoised: pieces repeat a lot across prompts.
    private func symbols(of piece: Substring) -> [Int32] {
        let key = String(piece)
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let bytes = Array(piece.utf8)
        var symbols = bytes.enumerated().map { index, byte in
            index == bytes.count - 1 ? finalByteSymbols[Int(byte)] : byteSymbols[Int(byte)]
        }
        while symbols.count > 1 {
            var best: (position: Int, merge: Merge)?
            for position in 0..<(symbols.count - 1) {
                if let merge = merges[Self.pairKey(symbols[position], symbols[position + 1])],
                    merge.rank < best?.merge.rank ?? .max
                {
                    best = (position, merge)
                }
            }
            guard let best else { break }
            let (left, right) = (symbols[best.position], symbols[best.position + 1])
            var merged: [Int32] = []
            merged.reserveCapacity(symbols.count)
            var position = 0
            while position < symbols.count {
                if position < symbols.count - 1, symbols[position] == left, symbols[position + 1] == right {
                    merged.append(best.merge.result)
                    position += 2
                } else {
                    merged.append(symbols[position])
                    position += 1
                }
            }
            symbols = merged
        }
        let result = symbols
        cache.withLock { cache in
            if cache.count > 100_000 { cache.removeAll(keepingCapacity: true) }
            cache[key] = result
        }
        return result
    }

    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}
