import Foundation

/// The T5 SentencePiece (unigram) tokenizer, giving the same ids as the Hugging Face
/// `T5TokenizerFast` (transformers 5, tokenizers backend) that FLUX uses for its 512-token prompt.
///
/// Added tokens (`<pad>`, `</s>`, `<unk>`, `<extra_id_N>`) are matched on the raw text; the rest
/// goes through the model's precompiled normalisation map, the configured pre-tokenizer (runs of
/// whitespace split, `▁` prepended to each word), then the unigram model's best segmentation by
/// piece scores, with unknown characters as `<unk>` (consecutive ones fused into one).
public final class T5Tokenizer: Sendable {
    /// The sequence length of FLUX's T5 encoder input.
    public static let contextLength = 512
    static let wordBoundary = "\u{2581}"

    public let padID: Int
    public let endID: Int
    public let unknownID: Int
    public var vocabularySize: Int { scores.count }

    private let scores: [Double]
    private let unknownScore: Double
    private let trie: PieceTrie
    private let normalizer: PrecompiledCharsmap?
    private let splitsOnWhitespace: Bool
    private let prependsBoundary: Bool
    private let addedTokens: [String: Int]
    private let splitter: SpecialTokenSplitter

    /// Loads `tokenizer.json` from `directory` (the diffusers `tokenizer_2/` folder).
    public convenience init(directory: String) throws(TokenizerError) {
        try self.init(tokenizerJSON: directory + "/tokenizer.json")
    }

    /// Loads a Hugging Face `tokenizer.json` whose model is Unigram.
    public init(tokenizerJSON path: String) throws(TokenizerError) {
        guard let root = try JSONFile.read(path) as? [String: Any], let model = root["model"] as? [String: Any] else {
            throw .malformed(path: path, reason: "no \"model\" object")
        }
        guard (model["type"] as? String) == "Unigram" else {
            throw .malformed(path: path, reason: "model type is \(model["type"] ?? "missing"), expected Unigram")
        }
        guard (model["byte_fallback"] as? Bool) != true else {
            throw .malformed(path: path, reason: "byte_fallback unigram models are not supported")
        }
        guard let vocabulary = model["vocab"] as? [[Any]], !vocabulary.isEmpty else {
            throw .malformed(path: path, reason: "model.vocab is not a list of [piece, score]")
        }
        var pieceIDs: [String: Int32] = [:]
        var scores: [Double] = []
        var trie = PieceTrie()
        for (id, entry) in vocabulary.enumerated() {
            guard entry.count == 2, let piece = entry[0] as? String, let score = (entry[1] as? NSNumber)?.doubleValue else {
                throw .malformed(path: path, reason: "model.vocab[\(id)] is not [piece, score]")
            }
            if pieceIDs[piece] == nil { pieceIDs[piece] = Int32(id) }
            scores.append(score)
            trie.insert(Array(piece.utf8), id: Int32(id))
        }
        guard let unknown = model["unk_id"] as? Int, scores.indices.contains(unknown) else {
            throw .malformed(path: path, reason: "model.unk_id is missing or out of range")
        }
        var addedTokens: [String: Int] = [:]
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let content = entry["content"] as? String, let id = entry["id"] as? Int else {
                throw .malformed(path: path, reason: "an added_tokens entry lacks content or id")
            }
            addedTokens[content] = id
        }
        guard let end = addedTokens["</s>"] ?? pieceIDs["</s>"].map(Int.init) else {
            throw .malformed(path: path, reason: "no </s> token")
        }
        self.scores = scores
        self.unknownScore = (scores.min() ?? 0) - 10
        self.trie = trie
        self.unknownID = unknown
        self.endID = end
        self.padID = addedTokens["<pad>"] ?? pieceIDs["<pad>"].map(Int.init) ?? 0
        self.addedTokens = addedTokens
        self.splitter = SpecialTokenSplitter(addedTokens.keys)
        self.normalizer = try Self.normalizer(root["normalizer"], source: path)
        (splitsOnWhitespace, prependsBoundary) = try Self.preTokenizer(root["pre_tokenizer"], source: path)
    }

    /// The ids of `text` without the end token, truncation or padding.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for segment in splitter.split(text) {
            switch segment {
            case .special(let token):
                ids.append(addedTokens[token]!)
            case .text(let text):
                for word in words(of: normalizer?.normalize(text) ?? text) {
                    ids.append(contentsOf: bestSegmentation(Array(word.utf8)))
                }
            }
        }
        return ids
    }

    /// The model input as the pipeline asks for it: at most `length - 1` text ids, the end token,
    /// then padding up to `length`.
    public func callAsFunction(_ text: String, length: Int = T5Tokenizer.contextLength) -> [Int] {
        let ids = Array(encode(text).prefix(max(length - 1, 0))) + [endID]
        return Array(ids.prefix(length)) + Array(repeating: padID, count: max(length - ids.count, 0))
    }

    /// The pre-tokenizer: optional whitespace split, spaces to `▁`, `▁` prepended to each word,
    /// then a split before every `▁`.
    private func words(of text: String) -> [String] {
        let chunks: [String] = splitsOnWhitespace
            ? text.split(whereSeparator: { $0.unicodeScalars.allSatisfy(\.properties.isWhitespace) }).map(String.init)
            : (text.isEmpty ? [] : [text])
        var words: [String] = []
        for chunk in chunks {
            var marked = chunk.replacingOccurrences(of: " ", with: Self.wordBoundary)
            if prependsBoundary, !marked.hasPrefix(Self.wordBoundary) { marked = Self.wordBoundary + marked }
            var current = ""
            for character in marked {
                if character == Character(Self.wordBoundary), !current.isEmpty {
                    words.append(current)
                    current = ""
                }
                current.append(character)
            }
            if !current.isEmpty { words.append(current) }
        }
        return words
    }

    /// The unigram model's best segmentation (Viterbi over piece scores), as the reference's
    /// optimised encoder computes it, including its tie-breaking and unknown-fusing.
    private func bestSegmentation(_ bytes: [UInt8]) -> [Int] {
        struct Best {
            var id: Int32 = -1
            var score: Double = 0
            var start: Int = -1
        }
        var best = [Best](repeating: Best(), count: bytes.count + 1)
        var start = 0
        while start < bytes.count {
            let scoreHere = best[start].score
            let characterLength = Self.utf8Length(leadByte: bytes[start])
            var coversCharacter = false
            trie.forEachPrefix(of: bytes, from: start) { length, id in
                let candidate = scores[Int(id)] + scoreHere
                let end = start + length
                if best[end].start < 0 || candidate > best[end].score {
                    best[end] = Best(id: id, score: candidate, start: start)
                }
                if length == characterLength { coversCharacter = true }
            }
            if !coversCharacter {
                let end = min(start + characterLength, bytes.count)
                let candidate = unknownScore + scoreHere
                if best[end].start < 0 || candidate > best[end].score {
                    best[end] = Best(id: Int32(unknownID), score: candidate, start: start)
                }
            }
            start += characterLength
        }
        var ids: [Int] = []
        var end = bytes.count
        var inUnknownRun = false
        while end > 0 {
            let node = best[end]
            if node.id == Int32(unknownID) {
                if !inUnknownRun { ids.append(unknownID) }
                inUnknownRun = true
            } else {
                ids.append(Int(node.id))
                inUnknownRun = false
            }
            end = node.start
        }
        return ids.reversed()
    }

    private static func utf8Length(leadByte: UInt8) -> Int {
        switch leadByte {
        case 0..<0x80: 1
        case 0xF0...: 4
        case 0xE0...: 3
        default: 2
        }
    }

    private static func normalizer(_ value: Any?, source: String) throws(TokenizerError) -> PrecompiledCharsmap? {
        guard let object = value as? [String: Any] else { return nil }
        switch object["type"] as? String {
        case "Precompiled":
            guard let encoded = object["precompiled_charsmap"] as? String, let bytes = Data(base64Encoded: encoded) else {
                throw .malformed(path: source, reason: "Precompiled normalizer without a base64 precompiled_charsmap")
            }
            return try PrecompiledCharsmap(Array(bytes), source: source)
        case "Sequence":
            let steps = object["normalizers"] as? [Any] ?? []
            guard steps.count <= 1 else {
                throw .malformed(path: source, reason: "normalizer sequences of \(steps.count) steps are not supported")
            }
            return try normalizer(steps.first, source: source)
        case let other:
            throw .malformed(path: source, reason: "normalizer type \(other ?? "missing") is not supported")
        }
    }

    /// (splits on whitespace first, prepends ▁ to every word)
    private static func preTokenizer(_ value: Any?, source: String) throws(TokenizerError) -> (Bool, Bool) {
        guard let object = value as? [String: Any] else {
            throw .malformed(path: source, reason: "no pre_tokenizer: expected Metaspace")
        }
        func metaspace(_ object: [String: Any]) throws(TokenizerError) -> Bool {
            guard (object["replacement"] as? String ?? wordBoundary) == wordBoundary, (object["split"] as? Bool ?? true) else {
                throw .malformed(path: source, reason: "only a splitting Metaspace with replacement ▁ is supported")
            }
            if let scheme = object["prepend_scheme"] as? String {
                guard scheme == "always" || scheme == "never" else {
                    throw .malformed(path: source, reason: "Metaspace prepend_scheme \(scheme) is not supported")
                }
                return scheme == "always"
            }
            return object["add_prefix_space"] as? Bool ?? true
        }
        switch object["type"] as? String {
        case "Metaspace":
            return (false, try metaspace(object))
        case "Sequence":
            let steps = object["pretokenizers"] as? [[String: Any]] ?? []
            guard steps.count == 2, steps[0]["type"] as? String == "WhitespaceSplit", steps[1]["type"] as? String == "Metaspace" else {
                throw .malformed(path: source, reason: "pre_tokenizer sequence must be [WhitespaceSplit, Metaspace]")
            }
            return (true, try metaspace(steps[1]))
        case let other:
            throw .malformed(path: source, reason: "pre_tokenizer type \(other ?? "missing") is not supported")
        }
    }
}

/// A byte trie over the vocabulary's pieces, for the prefix searches of the unigram lattice.
struct PieceTrie: Sendable {
    private var children: [[UInt8: Int32]] = [[:]]
    private var ids: [Int32] = [-1]

    mutating func insert(_ bytes: [UInt8], id: Int32) {
        var node = 0
        for byte in bytes {
            if let next = children[node][byte] {
                node = Int(next)
            } else {
                children.append([:])
                ids.append(-1)
                children[node][byte] = Int32(children.count - 1)
                node = children.count - 1
            }
        }
        if ids[node] < 0 { ids[node] = id }
    }

    /// Calls `body(length, id)` for every piece that is a prefix of `bytes[start...]`, shortest first.
    func forEachPrefix(of bytes: [UInt8], from start: Int, _ body: (Int, Int32) -> Void) {
        var node = 0
        var position = start
        while position < bytes.count, let next = children[node][bytes[position]] {
            node = Int(next)
            position += 1
            if ids[node] >= 0 { body(position - start, ids[node]) }
        }
    }
}
