/// SentencePiece's precompiled normalisation map (`precompiled_charsmap`): a darts-clone
/// double-array trie from UTF-8 byte strings to offsets in a blob of NUL-terminated replacements.
/// Applied as the Hugging Face `Precompiled` normalizer does: grapheme cluster by grapheme cluster,
/// taking the shortest matching prefix (the reference's own, deliberate, quirk).
struct PrecompiledCharsmap: Sendable {
    private let units: [UInt32]
    private let replacements: [UInt8]

    init(_ bytes: [UInt8], source: String) throws(TokenizerError) {
        guard bytes.count >= 4 else { throw .malformed(path: source, reason: "precompiled_charsmap is shorter than its 4-byte header") }
        let trieSize = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        guard trieSize % 4 == 0, trieSize >= 4, 4 + trieSize <= bytes.count else {
            throw .malformed(path: source, reason: "precompiled_charsmap declares a \(trieSize)-byte trie in \(bytes.count) bytes")
        }
        units = stride(from: 4, to: 4 + trieSize, by: 4).map { offset in
            UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
        }
        replacements = Array(bytes[(4 + trieSize)...])
    }

    func normalize(_ text: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for grapheme in text {
            let bytes = Array(grapheme.utf8)
            if bytes.count < 6, let replacement = transform(bytes[...]) {
                output.append(contentsOf: replacement)
                continue
            }
            for scalar in grapheme.unicodeScalars {
                let part = Array(String(scalar).utf8)
                output.append(contentsOf: transform(part[...]) ?? part[...])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The replacement for the shortest prefix of `key` in the trie, if any.
    private func transform(_ key: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        guard let offset = shortestPrefixValue(key), offset < replacements.count else { return nil }
        let start = offset
        var end = start
        while end < replacements.count, replacements[end] != 0 { end += 1 }
        return replacements[start..<end]
    }

    private func shortestPrefixValue(_ key: ArraySlice<UInt8>) -> Int? {
        guard !units.isEmpty else { return nil }
        var position = Int(Self.offset(units[0]))
        for byte in key {
            if byte == 0 { break }
            position ^= Int(byte)
            guard position < units.count else { return nil }
            let unit = units[position]
            guard Self.label(unit) == UInt32(byte) else { return nil }
            position ^= Int(Self.offset(unit))
            if Self.hasLeaf(unit) {
                guard position < units.count else { return nil }
                return Int(units[position] & 0x7FFF_FFFF)
            }
        }
        return nil
    }

    private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    private static func label(_ unit: UInt32) -> UInt32 { unit & ((1 << 31) | 0xFF) }
    private static func offset(_ unit: UInt32) -> UInt32 { (unit >> 10) << ((unit & (1 << 9)) >> 6) }
}
