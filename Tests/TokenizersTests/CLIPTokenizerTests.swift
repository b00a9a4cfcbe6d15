import Foundation
import TestSupport
import Testing

@testable import Tokenizers

/// Reference ids written by scripts/fixtures/tokenizer_ids.py (scripts/test runs it first).
enum TokenizerFixtures {
    static let directory = fixtureDirectory + "/tokenizers"

    struct Row: Decodable {
        let text: String
        let content: [Int]
        let input: [Int]
    }

    /// Checks both forms of every row against a tokenizer; lists the prompts that differ.
    static func expectParity(
        _ rows: [Row], content: (String) -> [Int], input: (String) -> [Int], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(rows.count >= 300, "the corpus must hold at least 300 prompts", sourceLocation: sourceLocation)
        let mismatches = rows.filter { content($0.text) != $0.content || input($0.text) != $0.input }.map { row in
            "\(row.text.debugDescription.prefix(100)): got \(content(row.text).prefix(16)), expected \(row.content.prefix(16))"
        }
        #expect(
            mismatches.isEmpty, "\(mismatches.count) of \(rows.count) prompts differ:\n\(mismatches.prefix(10).joined(separator: "\n"))",
            sourceLocation: sourceLocation)
    }

    static func rows(_ name: String) throws -> [Row] {
        let path = directory + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else { throw FixtureMissing(path: path) }
        return try JSONDecoder().decode([Row].self, from: data)
    }
}

@Suite("CLIP tokenizer")
struct CLIPTokenizerTests {
    static let fromVocabAndMerges = Result { try CLIPTokenizer(directory: TokenizerFixtures.directory + "/clip") }
    static let fromTokenizerJSON = Result { try CLIPTokenizer(directory: TokenizerFixtures.directory + "/clip-json") }

    @Test(arguments: ["vocab.json + merges.txt", "tokenizer.json"])
    func everyCorpusPromptGivesTheReferenceIds(layout: String) throws {
        let tokenizer = try (layout == "tokenizer.json" ? Self.fromTokenizerJSON : Self.fromVocabAndMerges).get()
        TokenizerFixtures.expectParity(try TokenizerFixtures.rows("clip_parity.json"), content: tokenizer.encode, input: { tokenizer($0) })
    }

    @Test func modelInputIsPaddedAndTruncatedTo77() throws {
        let tokenizer = try Self.fromVocabAndMerges.get()
        let short = tokenizer("a cat")
        #expect(short.count == 77)
        #expect(short.first == tokenizer.startID)
        #expect(short.dropFirst(3).allSatisfy { $0 == tokenizer.endID })
        let long = tokenizer(String(repeating: "cat ", count: 200))
        #expect(long.count == 77)
        #expect(long.last == tokenizer.endID)
        #expect(long[75] != tokenizer.endID)
    }

    @Test func preTokenizerFollowsTheReferenceRegex() {
        #expect(CLIPTokenizer.pieces(of: "it's 42 cats!!") == ["it", "'s", "4", "2", "cats", "!!"])
        #expect(CLIPTokenizer.pieces(of: "''s x'llama") == ["''", "s", "x", "'ll", "ama"])
        #expect(CLIPTokenizer.pieces(of: "<|endoftext|> a") == ["<|", "endoftext", "|>", "a"])
        #expect(CLIPTokenizer.normalize("A\t\n  B\u{3000}Σ ΟΔΟΣ.") == "a b σ οδοσ.")
    }

    @Test func malformedFilesAreReportedByName() throws {
        let folder = NSTemporaryDirectory() + "kontext-clip-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let vocab = folder + "/vocab.json"
        let merges = folder + "/merges.txt"

        try Data("{not json".utf8).write(to: URL(fileURLWithPath: vocab))
        try Data("#version: 0.2\n".utf8).write(to: URL(fileURLWithPath: merges))
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(directory: folder) }
        do {
            _ = try CLIPTokenizer(directory: folder)
        } catch {
            #expect(error.description.hasPrefix(vocab))
        }

        try Data(#"{"a": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}"#.utf8).write(to: URL(fileURLWithPath: vocab))
        #expect(throws: TokenizerError.malformed(path: vocab, reason: "vocabulary lacks the byte symbol Ā or Ā</w>")) {
            try CLIPTokenizer(directory: folder)
        }

        let real = try String(contentsOfFile: TokenizerFixtures.directory + "/clip/vocab.json", encoding: .utf8)
        try Data(real.utf8).write(to: URL(fileURLWithPath: vocab))
        try Data("#version: 0.2\na b c\n".utf8).write(to: URL(fileURLWithPath: merges))
        #expect(throws: TokenizerError.malformed(path: merges, reason: "line 2 is not two symbols separated by one space: a b c")) {
            try CLIPTokenizer(directory: folder)
        }
        try Data("#version: 0.2\nzzzq qqqz\n".utf8).write(to: URL(fileURLWithPath: merges))
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(directory: folder) }
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(directory: folder + "/missing") }
    }
}
