"""make_lm_adamw_fixtures.py -- what torch.optim.AdamW does to a GPT-2's weights over two training steps.

    /usr/bin/python3 tests/reference/make_lm_adamw_fixtures.py [out_dir]     (default tests/fixtures/lm_adamw)

The model is tests/fixtures/models/gpt2-eps (read back from its folder: the weights the C loader sees). The batch
is shaped like `frozen pretrain`'s: 3 samples, each its own sequence from position 0, its tokens then
<|endoftext|>, padded with <|endoftext|> to the longest; targets are the next tokens (the closing <|endoftext|>
included), -1 on padding. The loss is the mean NLL over the targets (tests/reference/gpt2_ref.py, float64,
autograd).

Two steps of the recipe the C trainer follows (src/train/lm_opt.c, src/train/pretrain.c):
    loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); AdamW.step()
with torch.optim.AdamW(lr 1e-2, betas (0.9, 0.95), eps 1e-8) in two parameter groups: weight_decay 0.1 for the
2-D tensors (matrices and embeddings), 0 for the 1-D ones (biases, LayerNorm). The optimizer runs in float64 on
parameters and gradients rounded to float32, so the C side, given the same float32 gradients, must land on the
same parameters up to float32 rounding.

Writes <out_dir>/gpt2-eps.safetensors (names are tests/check_lm_pretrain.c's contract):
    tokens, targets       I32 (B,T)
    loss1                 F64 [1]   the first step's loss
    grad1.<name>          F32       the first step's raw gradient (before clipping)
    grad2.<name>          F32       the second step's raw gradient, at the parameters after step 1
    after2.<name>         F32       the parameters after step 2
Criterion: |got - want| <= 1e-6 * max(1, |want|) per element for after2 given grad1 and grad2; and our own
backward's first gradient against grad1 as in check_lm_backward (max |got - want| <= 1e-4 * max |want|).
Before writing, the script proves the criterion sharp: decaying every tensor, or not clipping, moves after2
more than 10x the tolerance. Seeded: a rerun gives identical files.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref as ref  # noqa: E402

MODEL = "gpt2-eps"
LENGTHS = [6, 3, 9]     # tokens per sample before <|endoftext|>
LR, BETAS, EPS, WD, CLIP = 1e-2, (0.9, 0.95), 1e-8, 0.1, 1.0
TOL = 1e-6


def make_batch(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    V = cfg.vocab_size
    eot = V - 1
    B, T = len(LENGTHS), max(LENGTHS)          # positions: the tokens; the last target is <|endoftext|>
    tokens = torch.full((B, T), eot, dtype=torch.long)
    targets = torch.full((B, T), -1, dtype=torch.long)
    for b, n in enumerate(LENGTHS):
        sample = torch.cat([torch.randint(0, V - 1, (n,), generator=g), torch.tensor([eot])])
        tokens[b, :n] = sample[:n]
        targets[b, :n] = sample[1:]
    return tokens, targets


def loss_of(cfg, W, tokens, targets):
    m = ref.GPT2(cfg, W, torch.float64)
    logits, _ = m.logits(tokens, None)
    valid = targets >= 0
    lp = torch.log_softmax(logits, dim=-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return -(lp * valid).sum() / valid.sum()


def two_steps(cfg, W0, tokens, targets, decay_all=False, clip=True):
    """Runs the recipe; returns (loss1, grad1, grad2, after2) with gradients rounded to float32."""
    names = ref.param_names(cfg)
    P = {n: W0[n].double().clone().requires_grad_(True) for n in names}
    decay = [P[n] for n in names if decay_all or P[n].dim() == 2]
    no_decay = [P[n] for n in names if not (decay_all or P[n].dim() == 2)]
    groups = [{"params": decay, "weight_decay": WD}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=EPS)
    grads, loss1 = [], None
    for step in range(2):
        opt.zero_grad()
        loss = loss_of(cfg, P, tokens, targets)
        loss.backward()
        if step == 0:
            loss1 = float(loss)
        with torch.no_grad():
            for n in names:  # the C side sees float32 gradients: so does the reference optimizer
                P[n].grad.copy_(P[n].grad.float().double())
        grads.append({n: P[n].grad.detach().float().clone() for n in names})
        if clip:
            torch.nn.utils.clip_grad_norm_([P[n] for n in names], CLIP)
        opt.step()
        with torch.no_grad():  # the C parameters are float32
            for n in names:
                P[n].copy_(P[n].float().double())
    return loss1, grads[0], grads[1], {n: P[n].detach().float() for n in names}


def worst(a, b):
    return max(float(((a[n].double() - b[n].double()).abs() / b[n].double().abs().clamp(min=1.0)).max()) for n in b)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ref.REPO, "tests", "fixtures", "lm_adamw")
    os.makedirs(out_dir, exist_ok=True)
    cfg, W = ref.load_hf_folder(os.path.join(ref.REPO, "tests", "fixtures", "models", MODEL))
    tokens, targets = make_batch(cfg, 5)
    loss1, g1, g2, after = two_steps(cfg, W, tokens, targets)
    norm1 = float(torch.sqrt(sum((g.double() ** 2).sum() for g in g1.values())))
    assert norm1 > 2 * CLIP, "the first gradient's norm %g does not exercise clipping" % norm1
    sharp = {"decay on every tensor": worst(two_steps(cfg, W, tokens, targets, decay_all=True)[3], after),
             "no clipping": worst(two_steps(cfg, W, tokens, targets, clip=False)[3], after)}
    for k, e in sharp.items():
        assert e > 10 * TOL, "the fixture cannot detect '%s' (%g)" % (k, e)
    out = {"tokens": tokens.int(), "targets": targets.int(), "loss1": torch.tensor([loss1], dtype=torch.float64)}
    for n in ref.param_names(cfg):
        out["grad1." + n] = g1[n]
        out["grad2." + n] = g2[n]
        out["after2." + n] = after[n]
    meta = {"model": MODEL, "lr": repr(LR), "beta1": repr(BETAS[0]), "beta2": repr(BETAS[1]), "eps": repr(EPS),
            "weight_decay": repr(WD), "grad_clip": repr(CLIP),
            "tolerance": "|got-want| <= %g * max(1,|want|) per element" % TOL,
            "generator": "tests/reference/make_lm_adamw_fixtures.py"}
    path = os.path.join(out_dir, MODEL + ".safetensors")
    ref.save_safetensors(path, out, meta)
    print("%s loss1 %.6f |g1| %.3f  %s  %d bytes" % (MODEL, loss1, norm1,
                                                      " ".join("[%s: %.1e]" % kv for kv in sharp.items()),
                                                      os.path.getsize(path)))


if __name__ == "__main__":
    main()
