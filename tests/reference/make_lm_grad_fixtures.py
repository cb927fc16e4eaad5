"""make_lm_grad_fixtures.py -- what PyTorch autograd says the GPT-2 training loss and its gradients are.

    /usr/bin/python3 tests/reference/make_lm_grad_fixtures.py [out_dir]     (default tests/fixtures/lm_grad)

For fixture models of tests/fixtures/models/ (read back from their folders, so the weights are exactly what
the C loader sees), a batch shaped like Frozen's training sequences,

    [2 free embedding vectors (the visual prefix)] [caption tokens] [<|endoftext|>] [padding]

with next-token targets on the caption tokens and on <|endoftext|>, -1 elsewhere (the position before the
second prefix vector, the <|endoftext|> position itself, padding). The reference is tests/reference/gpt2_ref.py
in float64 with autograd; the loss is the mean negative log-likelihood over the targets.

Writes <out_dir>/<model>.safetensors with (names are tests/check_lm_backward.c's contract):
    tokens   I32 (B,T)   -1 (FRZ_TOKEN_EMBEDDING) at the prefix positions
    embd     F32 (B,T,C) the prefix vectors at the prefix positions, zeros elsewhere
    targets  I32 (B,T)
    loss     F64 [1]     mean NLL over the targets
    seq_nll  F64 [B]     NLL sum per sequence;  seq_count I32 [B]: its number of targets
    d_embd   F32 (B,T,C) dloss / d(input embedding) at every position (prefix vector or token row of wte)
    grad.<name> F32      dloss / d(weight) for every parameter tensor (WEIGHT_GRADS models only); the tied
                         wte.weight gradient includes both the embedding lookup and the LM head (an untied
                         model's lm_head.weight has its own)
Metadata: the model name, B, T and the tolerance.

The C test's criterion, for each of loss, seq_nll, d_embd and every grad.<name>:
    max |got - want| <= 1e-4 * max |want|   (over the tensor; for d_embd over each position's row)
i.e. errors are measured against the tensor's own scale. Elementwise relative error would be meaningless for
gradients, whose entries cross zero; a fixed absolute floor (e.g. 1e-3) would be loose, as these gradients are
of order 1e-2 .. 1e-4. Per position for d_embd because prefix and caption rows differ in scale, and the prefix's
rows are what Frozen trains on. Before writing, the script proves the criterion is fair and sharp:
  - a float32 evaluation of the same batch (torch autograd, f32 throughout) passes 10x inside it;
  - likely mistakes move the results far outside it (> 10x): the mean over all B*T positions instead of the
    targets, targets not shifted (predicting the current token), and each model's distinguishing config
    (layer_norm_epsilon 0.05 vs 1e-5, erf gelu vs tanh gelu_new).
Everything is seeded: rerunning gives identical files.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref as ref  # noqa: E402

TOL = 1e-4
PREFIX = 2
CAPTIONS = [5, 3, 8]          # caption lengths; the longest sequence fills T (no padding)
MODELS = ["gpt2-f32", "gpt2-gelu", "gpt2-eps", "gpt2-untied"]
WEIGHT_GRADS = {"gpt2-f32", "gpt2-untied"}   # weight gradients stored (the others: loss and d_embd only)


def make_batch(cfg, seed):
    """tokens (B,T) long with -1 at prefix positions, prefix vectors (B,T,C) f32, targets (B,T) long."""
    g = torch.Generator().manual_seed(seed)
    V, C = cfg.vocab_size, cfg.n_embd
    eot = V - 1
    B, T = len(CAPTIONS), PREFIX + max(CAPTIONS) + 1
    tokens = torch.full((B, T), eot, dtype=torch.long)  # padding: <|endoftext|>, as GPT-2 pads
    targets = torch.full((B, T), -1, dtype=torch.long)
    embd = torch.zeros(B, T, C, dtype=torch.float32)
    for b, n in enumerate(CAPTIONS):
        caption = torch.randint(0, V - 1, (n,), generator=g)
        tokens[b, :PREFIX] = -1
        tokens[b, PREFIX:PREFIX + n] = caption
        tokens[b, PREFIX + n] = eot
        # position t predicts the token at t + 1: the caption's tokens and the closing <|endoftext|>
        targets[b, PREFIX - 1:PREFIX + n] = tokens[b, PREFIX:PREFIX + n + 1]
        embd[b, :PREFIX] = (torch.randn(PREFIX, C, generator=g, dtype=torch.float64) * 0.5).float()
    return tokens, embd, targets


def nll_terms(logits, targets):
    """Per-position NLL (B,T), zero where target is -1, and the mask."""
    valid = targets >= 0
    lp = torch.log_softmax(logits, dim=-1)
    picked = lp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return torch.where(valid, -picked, torch.zeros_like(picked)), valid


def run(cfg, W, tokens, embd, targets, dtype, weight_grads, mean_over=None):
    """loss, seq_nll, seq_count, d_embd (at every position) and, when weight_grads, {name: grad}.
    mean_over: divisor of the summed NLL (default: the number of targets)."""
    emb_rows = W["wte.weight"].to(dtype)[tokens.clamp(min=0)]
    full = torch.where((tokens < 0).unsqueeze(-1), embd.to(dtype), emb_rows)
    # d_embd: every position enters as a free vector (the same numbers as the token rows), a leaf of the graph
    E = full.detach().clone().requires_grad_(True)
    m = ref.GPT2(cfg, W, dtype)
    logits, _ = m.logits(torch.full_like(tokens, -1), E)
    per, valid = nll_terms(logits, targets)
    div = float(valid.sum()) if mean_over is None else float(mean_over)
    loss = per.sum() / div
    loss.backward()
    out = {"loss": loss.detach().double(), "seq_nll": per.detach().sum(1).double(),
           "seq_count": valid.sum(1).int(), "d_embd": E.grad.detach()}
    if weight_grads:
        # the weights as leaves; tokens enter through wte, so its gradient has the lookup and the head
        Wl = {n: W[n].to(dtype).detach().clone().requires_grad_(True) for n in ref.param_names(cfg)}
        m2 = ref.GPT2(cfg, Wl, dtype)
        logits2, _ = m2.logits(tokens, embd.to(dtype))
        per2, _ = nll_terms(logits2, targets)
        loss2 = per2.sum() / div
        loss2.backward()
        assert abs(float(loss2) - float(loss)) <= 1e-12 * max(1.0, abs(float(loss))) or dtype != torch.float64
        out["grads"] = {n: Wl[n].grad.detach() for n in ref.param_names(cfg)}
    return out


def scaled_err(got, want, rows=False):
    """max |got - want| / max |want|, over the tensor or (rows) the worst over its last-dimension rows that are
    not all zero (rows that are zero in want must be zero in got: reported as inf otherwise)."""
    got, want = got.double(), want.double()
    if not rows:
        return float((got - want).abs().max() / want.abs().max().clamp(min=1e-300))
    g = got.reshape(-1, got.shape[-1])
    w = want.reshape(-1, want.shape[-1])
    worst = 0.0
    for i in range(w.shape[0]):
        scale = float(w[i].abs().max())
        err = float((g[i] - w[i]).abs().max())
        if scale == 0.0:
            worst = max(worst, 0.0 if err == 0.0 else float("inf"))
        else:
            worst = max(worst, err / scale)
    return worst


def compare(a, b):
    """The worst criterion value of result a against reference b."""
    errs = {"loss": scaled_err(a["loss"].view(1), b["loss"].view(1)),
            "seq_nll": scaled_err(a["seq_nll"], b["seq_nll"]),
            "d_embd": scaled_err(a["d_embd"], b["d_embd"], rows=True)}
    for n, gr in b.get("grads", {}).items():
        errs["grad." + n] = scaled_err(a["grads"][n], gr)
    return errs


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ref.REPO, "tests", "fixtures", "lm_grad")
    os.makedirs(out_dir, exist_ok=True)
    for k, name in enumerate(MODELS):
        cfg, W = ref.load_hf_folder(os.path.join(ref.REPO, "tests", "fixtures", "models", name))
        tokens, embd, targets = make_batch(cfg, 2024 + k)
        wg = name in WEIGHT_GRADS
        want = run(cfg, W, tokens, embd, targets, torch.float64, wg)

        # fair: float32 passes 10x inside
        f32 = compare(run(cfg, W, tokens, embd, targets, torch.float32, wg), want)
        worst_name = max(f32, key=f32.get)
        assert f32[worst_name] < TOL / 10, "%s: float32 %s off by %g" % (name, worst_name, f32[worst_name])

        # sharp: likely mistakes move d_embd far outside
        B, T = tokens.shape
        wrong = {"mean over all B*T positions": run(cfg, W, tokens, embd, targets, torch.float64, False,
                                                    mean_over=B * T)}
        unshifted = torch.where(targets >= 0, tokens.clamp(min=0), targets)
        wrong["unshifted targets"] = run(cfg, W, tokens, embd, unshifted, torch.float64, False)
        if cfg.layer_norm_epsilon != 1e-5:
            c2 = ref.GPT2Config(**{**cfg.__dict__, "layer_norm_epsilon": 1e-5})
            wrong["epsilon 1e-5"] = run(c2, W, tokens, embd, targets, torch.float64, False)
        if cfg.activation_function == "gelu":
            c2 = ref.GPT2Config(**{**cfg.__dict__, "activation_function": "gelu_new"})
            wrong["gelu_new"] = run(c2, W, tokens, embd, targets, torch.float64, False)
        if not cfg.tie_word_embeddings:
            c2 = ref.GPT2Config(**{**cfg.__dict__, "tie_word_embeddings": True})
            wrong["head tied to wte"] = run(c2, W, tokens, embd, targets, torch.float64, False)
        sharp = {k2: scaled_err(v["d_embd"], want["d_embd"], rows=True) for k2, v in wrong.items()}
        for k2, e in sharp.items():
            assert e > 10 * TOL, "%s: the fixture cannot detect '%s' (%g)" % (name, k2, e)

        out = {"tokens": tokens.int(), "embd": embd, "targets": targets.int(), "loss": want["loss"].view(1),
               "seq_nll": want["seq_nll"], "seq_count": want["seq_count"], "d_embd": want["d_embd"].float()}
        for n, gr in want.get("grads", {}).items():
            out["grad." + n] = gr.float()
        meta = {"model": name, "B": B, "T": T, "prefix": PREFIX,
                "tolerance": "max|got-want| <= %g * max|want| per tensor (d_embd: per position row)" % TOL,
                "generator": "tests/reference/make_lm_grad_fixtures.py"}
        path = os.path.join(out_dir, name + ".safetensors")
        ref.save_safetensors(path, out, meta)
        print("%-10s B=%d T=%d loss %.6f  d_embd max %.2e  f32 worst %.1e (%s)  %s  %d bytes"
              % (name, B, T, float(want["loss"]), float(want["d_embd"].abs().max()), f32[worst_name], worst_name,
                 " ".join("[%s: %.1e]" % kv for kv in sharp.items()), os.path.getsize(path)))


if __name__ == "__main__":
    main()
