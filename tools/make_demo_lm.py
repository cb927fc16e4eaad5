#!/usr/bin/python3
"""Trains the tiny demo language model that `make run` generates text with, and writes it as a Hugging Face
GPT-2 folder (models/demo-tiny) that libfrozen loads like any GPT-2 checkpoint.

It is a stand-in until libfrozen pretrains its own demo LM (`frozen pretrain`): a 4-layer, 128-wide GPT-2 with a
small byte-level BPE vocabulary (the byte alphabet plus the first real GPT-2 merges, so the real tokenizer code
path runs), trained for a couple of minutes with PyTorch on sentences generated about a small world of coloured
shapes. Deterministic for a given seed and thread count.

    /usr/bin/python3 tools/make_demo_lm.py [--out models/demo-tiny] [--steps 600] [--seed 1]
"""
import argparse
import os
import random
import re
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))
import gpt2_ref as ref  # noqa: E402

COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
SHAPES = ["circle", "square", "triangle", "star", "heart", "diamond"]
SIZES = ["small", "large"]
PLACES = ["on the left", "on the right", "at the top", "at the bottom", "in the middle"]
FACTS = {  # what things are for and made of: text-only knowledge, as the paper's "facts only the LM knows"
    "hammer": ("building houses", "steel"), "cup": ("drinking tea", "clay"), "boot": ("walking in the rain",
    "leather"), "kite": ("flying in the wind", "paper"), "spoon": ("eating soup", "silver"),
    "chair": ("sitting down", "wood"), "candle": ("giving light", "wax"), "coat": ("keeping warm", "wool"),
}


class AsciiBPE:
    """GPT-2's byte-level BPE for ASCII text (the corpus is ASCII, so the pre-tokenisation pattern needs no
    Unicode classes). libfrozen's own tokenizer is checked against the reference encoder elsewhere; this only
    has to agree with it on this corpus, which `make run` shows by generating from the same vocabulary."""

    PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")

    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.b2u = ref.bytes_to_unicode()

    def _bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        return parts

    def encode(self, text):
        ids = []
        for piece in self.PAT.findall(text):
            word = "".join(self.b2u[b] for b in piece.encode("utf-8"))
            ids += [self.vocab[t] for t in self._bpe(word)]
        return ids


def sentence(rng):
    kind = rng.randrange(5)
    c, s, z, p = rng.choice(COLOURS), rng.choice(SHAPES), rng.choice(SIZES), rng.choice(PLACES)
    if kind == 0:
        return "A %s %s %s is %s." % (z, c, s, p)
    if kind == 1:
        return "There is a %s %s. Question: What colour is the %s? Answer: %s." % (c, s, s, c)
    if kind == 2:
        return "The %s %s is %s. Question: What shape is it? Answer: a %s." % (c, s, p, s)
    thing = rng.choice(sorted(FACTS))
    use, material = FACTS[thing]
    if kind == 3:
        return "A %s is used for %s. It is made of %s." % (thing, use, material)
    return "Question: What is a %s made of? Answer: %s." % (thing, material)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "models", "demo-tiny"))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = random.Random(args.seed)

    vocab, merges = ref.build_small_vocab(n_merges=600)
    eot = vocab[ref.EOT_TEXT]
    enc = AsciiBPE(vocab, merges)

    cfg = ref.GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=128, n_layer=4, n_head=4)
    W = ref.random_weights(cfg, args.seed)
    # GPT-2 initialisation (std 0.02, residual projections scaled by 1/sqrt(2 * layers)), LN gain 1, bias 0.
    for n, w in W.items():
        if ".ln_" in n or n.startswith("ln_f"):
            w.fill_(1.0 if n.endswith("weight") else 0.0)
        elif n.endswith("bias"):
            w.zero_()
        else:
            std = 0.02 / (2 * cfg.n_layer) ** 0.5 if n.endswith("c_proj.weight") else 0.02
            w.normal_(0.0, std)
        w.requires_grad_(True)
    model = ref.GPT2(cfg, W, dtype=torch.float32)
    opt = torch.optim.AdamW(list(W.values()), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.0)

    T, B = cfg.n_positions, 32
    t0 = time.time()
    for step in range(args.steps):
        # One sample per sequence, starting at position 0 (packing hides the task from a small LM; see
        # shared DEMO-NOTES), padded with <|endoftext|>, loss on the text and its first end token only.
        batch = torch.full((B, T), eot, dtype=torch.long)
        mask = torch.zeros(B, T - 1)
        for b in range(B):
            ids = [eot] + enc.encode(sentence(rng))[: T - 2] + [eot]
            batch[b, : len(ids)] = torch.tensor(ids)
            mask[b, : len(ids) - 1] = 1.0
        lr = 3e-3 * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * (1 - step / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        logits, _ = model.logits(batch[:, :-1])
        lp = torch.log_softmax(logits, dim=-1).gather(2, batch[:, 1:].unsqueeze(-1)).squeeze(-1)
        loss = -(lp * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(W.values()), 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            print("step %4d  loss %.3f  %.0fs" % (step, loss.item(), time.time() - t0), flush=True)

    final = {n: w.detach().clone() for n, w in W.items()}
    ref.write_hf_folder(args.out, cfg, final, vocab, merges, dtype="F16", prefix=False, attn_bias=False)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
