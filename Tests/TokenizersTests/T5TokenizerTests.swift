import Foundation
import Testing

@testable import Tokenizers

@Suite("T5 tokenizer")
struct T5TokenizerTests {
    @Test(arguments: [("t5", "t5_parity.json"), ("t5-metaspace", "t5_metaspace_parity.json")])
    func everyCorpusPromptGivesTheReferenceIds(folder: String, references: String) throws {
        let tokenizer = try T5Tokenizer(directory: TokenizerFixtures.directory + "/" + folder)
        let rows = try TokenizerFixtures.rows(references)
        #expect(rows.contains { $0.content.contains(tokenizer.unknownID) }, "the corpus must exercise unknown characters")
        #expect(rows.contains { $0.content.count > 511 }, "the corpus must exercise truncation")
        TokenizerFixtures.expectParity(rows, content: tokenizer.encode, input: { tokenizer($0) })
    }

    @Test func modelInputEndsWithEndTokenAndPadsWithZero() throws {
        let tokenizer = try T5Tokenizer(directory: TokenizerFixtures.directory + "/t5")
        let short = tokenizer("a cat")
        #expect(short.count == 512)
        let end = try #require(short.firstIndex(of: tokenizer.endID))
        #expect(short[(end + 1)...].allSatisfy { $0 == 0 })
        #expect(tokenizer("").prefix(2) == [tokenizer.endID, 0])
        let long = tokenizer(String(repeating: "cat ", count: 1000))
        #expect(long.count == 512 && long.last == tokenizer.endID)
    }

    @Test func malformedFilesAreReportedByName() throws {
        let folder = NSTemporaryDirectory() + "kontext-t5-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/tokenizer.json"
        let valid = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: TokenizerFixtures.directory + "/t5/tokenizer.json"))) as! [String: Any]

        func expectRejected(_ edit: (inout [String: Any]) -> Void, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            var config = valid
            edit(&config)
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
            do {
                _ = try T5Tokenizer(directory: folder)
                Issue.record("accepted a file with \(reason)", sourceLocation: sourceLocation)
            } catch {
                #expect(error.description.hasPrefix(path), sourceLocation: sourceLocation)
                #expect(error.description.contains(reason), "\(error)", sourceLocation: sourceLocation)
            }
        }
        try expectRejected({ $0["model"] = ["type": "BPE"] }, "expected Unigram")
        try expectRejected({ $0["normalizer"] = ["type": "Precompiled", "precompiled_charsmap": "AAAA"] }, "precompiled_charsmap")
        try expectRejected({ $0["normalizer"] = ["type": "NFKD"] }, "normalizer type NFKD is not supported")
        try expectRejected({ $0["pre_tokenizer"] = ["type": "ByteLevel"] }, "pre_tokenizer type ByteLevel")
        try expectRejected({ config in
            var model = config["model"] as! [String: Any]
            model["vocab"] = [["a"]]
            config["model"] = model
        }, "model.vocab[0] is not [piece, score]")

        try Data("not json".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: TokenizerError.self) { try T5Tokenizer(directory: folder) }
        #expect(throws: TokenizerError.self) { try T5Tokenizer(directory: folder + "/missing") }
    }
}
