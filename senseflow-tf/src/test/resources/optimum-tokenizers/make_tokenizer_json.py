"""Writes tokenizer.json for the CLIP tokenizer folders of the shared Optimum exports.

Optimum re-saves diffusers' slow CLIPTokenizer, which writes only vocab.json + merges.txt; the SDK's tokenizer
reads Hugging Face's tokenizer.json. This converts each CLIP folder with transformers' own slow-to-fast conversion
(CLIPTokenizerFast.from_pretrained on the folder) and checks the ids of the fixture's prompt 0 against ref.npz.

usage: python make_tokenizer_json.py <optimum-exports folder> <output folder>
"""
import sys, os, numpy as np
from transformers import CLIPTokenizerFast

src, out = sys.argv[1], sys.argv[2]
folders = {"sd3": ["tokenizer", "tokenizer_2"], "flux_dev": ["tokenizer"], "sdxl": ["tokenizer", "tokenizer_2"]}
for case, names in folders.items():
    ref = np.load(os.path.join(src, case, "reference", "ref.npz"))
    for name in names:
        tok = CLIPTokenizerFast.from_pretrained(os.path.join(src, case, "onnx", name))
        ids = tok("a small wooden boat on a calm lake", padding="max_length", max_length=77)["input_ids"]
        want = ref["tokens/%s/p0" % name][0].tolist()
        assert ids == want, (case, name, ids[:16], want[:16])
        target = os.path.join(out, case, name)
        os.makedirs(target, exist_ok=True)
        tok.backend_tokenizer.save(os.path.join(target, "tokenizer.json"))
        print(case, name, "ok")
