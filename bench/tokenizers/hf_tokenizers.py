"""Tokens per second of the Hugging Face fast tokenizers on the same corpus and calls as main.swift."""
import json
import sys
import time

from transformers import CLIPTokenizer, T5Tokenizer

folder = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
texts = [row["text"] for row in json.load(open(f"{folder}/clip_parity.json"))]


def tokens_per_second(encode):
    tokens = sum(len(encode(text)) for text in texts)
    start = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            encode(text)
    return tokens * rounds / (time.perf_counter() - start)


for name, tokenizer in (("clip", CLIPTokenizer.from_pretrained(f"{folder}/clip")), ("t5", T5Tokenizer.from_pretrained(f"{folder}/t5"))):
    per_call = tokens_per_second(lambda text: tokenizer(text, add_special_tokens=False)["input_ids"])
    backend = tokenizer.backend_tokenizer
    raw = tokens_per_second(lambda text: backend.encode(text, add_special_tokens=False).ids)
    print(json.dumps({"tokenizer": name, "tokens_per_second": int(per_call), "backend_tokens_per_second": int(raw)}))
