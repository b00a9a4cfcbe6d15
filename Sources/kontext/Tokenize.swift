import ArgumentParser
import Foundation
import Tokenizers

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids the model sees for a prompt, as JSON.")

    enum Encoder: String, ExpressibleByArgument, CaseIterable {
        case clip
        case t5
    }

    @Option(help: "Model folder in the diffusers layout: CLIP's tokenizer is read from tokenizer/, T5's from tokenizer_2/.")
    var model: String

    @Option(help: "Which text encoder's tokenizer: \(Encoder.allCases.map(\.rawValue).joined(separator: ", ")).")
    var encoder: Encoder = .clip

    @Flag(help: "Only the ids of the text: no start/end tokens, truncation or padding.")
    var raw = false

    @Argument(help: "The prompt.")
    var text: String

    func run() throws {
        let ids: [Int]
        switch encoder {
        case .clip:
            let tokenizer = try CLIPTokenizer(directory: model + "/tokenizer")
            ids = raw ? tokenizer.encode(text) : tokenizer(text)
        case .t5:
            let tokenizer = try T5Tokenizer(directory: model + "/tokenizer_2")
            ids = raw ? tokenizer.encode(text) : tokenizer(text)
        }
        let data = try JSONSerialization.data(withJSONObject: ids)
        print(String(decoding: data, as: UTF8.self))
    }
}
