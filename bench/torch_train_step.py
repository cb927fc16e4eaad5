"""torch_train_step.py -- the PyTorch peer of bench_train_step.c: one Frozen training step on the same model.

    /usr/bin/python3 bench/torch_train_step.py LM_DIR ARCH SIZE BATCH PREFIX TOKENS REPS [WIDTH]

The model: the independent references of tests/reference/ -- nfresnet_ref.NFResNet (float32, timm's
initialisation), a linear projector nn.Linear(F, PREFIX*768), and gpt2_ref.GPT2 over the same GPT-2 folder the C
side loads, in float32 with every weight requires_grad False (frozen, as in Frozen) -- and
torch.optim.Adam(lr 3e-4, betas (0.9, 0.95), eps 1e-8) over the encoder and the projector.
torch.set_num_threads(N), N from OMP_NUM_THREADS (default 2).

The batch is laid out as src/train/step.h defines it: PREFIX prefix embeddings, then the caption's TOKENS
tokens; position PREFIX-1+i predicts caption token i and position PREFIX-1+TOKENS predicts <|endoftext|>; the
loss is the mean cross-entropy over those targets. Synthetic images (normal pixels) and random caption tokens.

The step is cut at the projector's input and output with detach(), so each part is timed on its own while
autograd does exactly the work of one backward through the whole graph:
    vision  encoder forward + encoder backward (pooled.backward(d_pooled))
    lm      LM forward + loss + backward to the prefix embeddings
    other   step - vision - lm: zero_grad, projector forward and backward, Adam
    proj_adam  projector forward + backward + Adam alone
One warm-up step, then the medians of REPS steps in milliseconds, as "key value" lines. peak_mb: VmHWM of the
steps (the high-water mark is reset through /proc/self/clear_refs after loading, as on the C side)."""

import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import gpt2_ref  # noqa: E402
import nfresnet_ref as nfr  # noqa: E402


def status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return 0.0


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS (Linux >= 4.0)
    except OSError:
        pass


def main():
    if len(sys.argv) < 8:
        sys.exit("usage: torch_train_step.py LM_DIR ARCH SIZE BATCH PREFIX TOKENS REPS [WIDTH]")
    lm_dir, arch = sys.argv[1], sys.argv[2]
    R, B, P, L, reps = (int(a) for a in sys.argv[3:8])
    width = float(sys.argv[8]) if len(sys.argv) > 8 else 1.0  # the encoder's channel multiplier
    nth = int(os.environ.get("OMP_NUM_THREADS", "2"))
    torch.set_num_threads(nth)
    torch.manual_seed(0)

    lm_cfg, lm_w = gpt2_ref.load_hf_folder(lm_dir, torch.float32)
    lm = gpt2_ref.GPT2(lm_cfg, lm_w, torch.float32)
    del lm_w
    assert not any(w.requires_grad for w in lm.W.values())
    C, V = lm_cfg.n_embd, lm_cfg.vocab_size
    eot = V - 1  # GPT-2's <|endoftext|> is its last id
    enc = nfr.NFResNet(nfr.config(arch, width))
    proj = torch.nn.Linear(enc.num_features, P * C)
    opt = torch.optim.Adam(list(enc.parameters()) + list(proj.parameters()), lr=3e-4, betas=(0.9, 0.95), eps=1e-8)

    images = torch.randn(B, 3, R, R)
    caption = torch.randint(0, V - 1, (B, L))
    T = P + L
    ids = torch.full((B, T), -1, dtype=torch.long)
    ids[:, P:] = caption
    targets = torch.full((B, T), -1, dtype=torch.long)
    targets[:, P - 1:P - 1 + L] = caption
    targets[:, P - 1 + L] = eot
    rest = torch.zeros(B, L, C)  # the caption positions take their token embeddings (ids >= 0)

    load_peak = status_mb("VmHWM:")
    reset_peak()
    t_step, t_cpu, t_vis, t_lm, t_other, t_pa = [], [], [], [], [], []
    for r in range(reps + 1):
        c0, t0 = time.process_time(), time.perf_counter()
        opt.zero_grad(set_to_none=False)
        ta = time.perf_counter()
        pooled = enc(images)
        tb = time.perf_counter()
        pooled_in = pooled.detach().requires_grad_(True)
        prefix = proj(pooled_in).view(B, P, C)
        prefix_in = prefix.detach().requires_grad_(True)
        tc = time.perf_counter()
        logits, _ = lm.logits(ids, torch.cat([prefix_in, rest], dim=1))
        loss = F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)
        loss.backward()
        td = time.perf_counter()
        prefix.backward(prefix_in.grad)
        te = time.perf_counter()
        pooled.backward(pooled_in.grad)
        tf = time.perf_counter()
        opt.step()
        t1, c1 = time.perf_counter(), time.process_time()
        if r == 0:
            continue
        step, vis, lmt = t1 - t0, (tb - ta) + (tf - te), td - tc
        t_step.append(step * 1e3)
        t_cpu.append((c1 - c0) * 1e3)
        t_vis.append(vis * 1e3)
        t_lm.append(lmt * 1e3)
        t_other.append((step - vis - lmt) * 1e3)
        t_pa.append(((tc - tb) + (te - td) + (t1 - tf)) * 1e3)
    assert proj.weight.grad.abs().sum() > 0 and enc.stem.conv.weight.grad.abs().sum() > 0
    step_ms = statistics.median(t_step)
    print("side pytorch")
    print("config %s %g %dpx batch %d prefix %d tokens %d threads %d" % (arch, width, R, B, P, L, nth))
    print("torch %s\nloss %.4f\ntargets %d" % (torch.__version__, float(loss), int((targets >= 0).sum())))
    for k, v in (("vision_ms", t_vis), ("lm_ms", t_lm), ("other_ms", t_other), ("proj_adam_ms", t_pa),
                 ("step_ms", t_step), ("step_cpu_ms", t_cpu)):
        print("%s %.1f" % (k, statistics.median(v)))
    print("images_s %.3f\npeak_mb %.0f\nload_peak_mb %.0f" % (B / (step_ms / 1e3), status_mb("VmHWM:"), load_peak))
    print("params_vision %d\nparams_projector %d" % (sum(p.numel() for p in enc.parameters()),
                                                      sum(p.numel() for p in proj.parameters())))


if __name__ == "__main__":
    main()
