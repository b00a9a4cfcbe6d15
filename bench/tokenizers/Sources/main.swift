// Tokens per second of the Swift CLIP and T5 tokenizers over the parity corpus, one prompt per
// call, after one warm-up pass. hf_tokenizers.py measures the Hugging Face fast tokenizers alike.
// Usage: kontext-bench-tokenizers FIXTURES/tokenizers [rounds]
import Foundation
import Tokenizers

struct Row: Decodable { let text: String }

let folder = CommandLine.arguments.dropFirst().first ?? ".build/kontext-fixtures/tokenizers"
let rounds = CommandLine.arguments.dropFirst(2).first.flatMap(Int.init) ?? 20
let texts = try JSONDecoder().decode([Row].self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/clip_parity.json"))).map(\.text)

func tokensPerSecond(_ encode: (String) -> [Int]) -> Double {
    var tokens = 0
    for text in texts { tokens += encode(text).count }
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<rounds {
        for text in texts { _ = encode(text) }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return Double(tokens * rounds) / seconds
}

let clip = try CLIPTokenizer(directory: folder + "/clip")
let t5 = try T5Tokenizer(directory: folder + "/t5")
print(#"{"tokenizer": "clip", "tokens_per_second": \#(Int(tokensPerSecond(clip.encode)))}"#)
print(#"{"tokenizer": "t5", "tokens_per_second": \#(Int(tokensPerSecond(t5.encode)))}"#)
