"""Writes clip_ids.json: CLIP token ids from transformers' slow (pure-Python) CLIPTokenizer, for ClipBpeTokenizerTest.

Run with the local wheels (transformers 4.57.6, no ftfy installed, as the optimum-exports fixtures were made):
    python make_clip_ids.py <optimum-exports>/sd3/onnx
It loads tokenizer/ (pads with <|endoftext|>) and tokenizer_2/ (pads with "!", an added special token) from that
folder and tokenizes each prompt below as the diffusers pipelines do: padding="max_length", max_length=77,
truncation=True. The first prompts are hand-written; RANDOM_COUNT more are random strings from a fixed seed.
"""
import json
import os
import random
import sys

import transformers
from transformers import CLIPTokenizer

PROMPTS = [
    "a small wooden boat on a calm lake",
    "A Snowy MOUNTAIN village, under a starry sky.",
    "wow!! a boat! on the lake!",
    "it's the dog's toy; they'll say we're done, I'd think",
    "  spaces\tand\nnewlines   everywhere  ",
    "numbers 1234 and 3.14159 and 2nd",
    "café naïve résumé Ünïcödé",
    "東京の夜景 and 北京",
    "emoji \U0001F600 and symbols \u00a9 \u2122 \u20ac",
    "<|startoftext|>inline specials<|endoftext|> here",
    "zero\u200bwidth and e\u0301 combining",
    "hyphen-ated, semi;colons: (brackets) [more] {curly} \"quotes\"",
    "",
    "!",
    " ".join(["boat lake"] * 40),
    "a photograph of " + ", ".join("detail number %d" % i for i in range(30)),
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "ΟΔΥΣΣΕΥΣ: ΣΑΣ Σ:Σ darkΣ0 ΑΣ' ΑΣ.",
    "İstanbul ǅungla ﬁsh ① ½ \u2028line\u2029para\x07bell\ufffd",
]

# random strings over a mixed alphabet (fixed seed): sub-words, punctuation runs, specials, sigma contexts
ALPHABET = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.!?'\"-_()[]{}<>|:;\t\n") + [
    "é", "ü", "ß", "ñ", "東", "京", "\U0001F600", "\u200b", "\u00a0", "'s", "'ll", "<|endoftext|>", "<|startoftext|>",
    "<|ENDOFTEXT|>", "ǅ", "İ", "Σ", "ﬁ", "\u2028", "\x07", "\ufffd", "①", "½"]
WORDS = ["boat", "lake", "snowy", "mountain", "village", "starry", "sky", "dark", "noisy", "distorted", "calm", "wooden",
         "small"]
RANDOM_COUNT = 200


def random_prompts():
    rng = random.Random(5)
    return ["".join(rng.choice(ALPHABET + WORDS) for _ in range(rng.randint(0, 30))) for _ in range(RANDOM_COUNT)]


def main():
    folder = sys.argv[1]
    prompts = PROMPTS + random_prompts()
    out = {"transformers": transformers.__version__, "tokenizers": {}}
    for sub in ("tokenizer", "tokenizer_2"):
        tok = CLIPTokenizer.from_pretrained(os.path.join(folder, sub))
        assert type(tok).__name__ == "CLIPTokenizer"
        assert tok.fix_text is None, "ftfy is installed; the fixtures were made without it"
        cases = []
        for p in prompts:
            enc = tok(p, padding="max_length", max_length=77, truncation=True)
            full = tok(p, truncation=False)["input_ids"]
            cases.append({"prompt": p, "ids": enc["input_ids"], "mask": enc["attention_mask"], "untruncated": len(full)})
        out["tokenizers"][sub] = {"pad_token": str(tok.pad_token), "pad_id": tok.pad_token_id, "cases": cases}
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "clip_ids.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
