/// Unicode character classes as the Oniguruma regexes of the Hugging Face tokenizers see them.
enum TextClass {
    /// `\s`: the Unicode White_Space property.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isWhitespace }

    /// `\p{L}`: general category Letter.
    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    /// `\p{N}`: general category Number.
    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }
}

extension String {
    /// Lower-casing as the tokenizers library does it: each scalar through its full Unicode
    /// lowercase mapping, without context (so a final capital sigma becomes σ, not ς).
    func lowercasedPerScalar() -> String {
        var result = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return String(result)
    }
}

/// GPT-2's reversible map from bytes to printable characters, used by byte-level BPE.
enum ByteLevel {
    static let characters: [Character] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var codePoints = printable
        var extra = 0
        for byte in 0..<256 where !printable.contains(byte) {
            printable.append(byte)
            codePoints.append(256 + extra)
            extra += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (byte, codePoint) in zip(printable, codePoints) {
            table[byte] = Character(Unicode.Scalar(UInt32(codePoint))!)
        }
        return table
    }()
}
