"""make_train_fixtures.py -- writes tests/fixtures/train/ for tests/check_train.c: one Frozen training step's
loss and gradients computed by PyTorch autograd through the independent references, the "tiny" NF-ResNet of
nfresnet_ref.py, a linear projector, and the GPT-2 of gpt2_ref.py (the committed tests/fixtures/models/gpt2-f32,
frozen).

  encoder.safetensors     the tiny NF-ResNet (depths 2,1,1,2) at width 0.0625, with random non-zero gains,
                          biases and skip-init gains so every path carries gradient; config as metadata
  projector.safetensors   projector.weight (P*C, F), projector.bias (P*C), P = 2 prefix tokens, C = 48
  expected.safetensors    images (B,3,R,R) float32, tokens (B,L) int32 and len (B) int32 (-1: an empty slot);
                          loss (float64); pooled (B,F); prefix (B,P,C); grad.prefix (B,P,C); grad.projector.weight,
                          grad.projector.bias; grad.<encoder tensor> for every encoder parameter -- all computed in
                          float64 from the float32 values stored

The sequence and the loss are defined in src/train/step.h, and restated here from that definition (not from
the C code): sequence b is [P prefix embeddings][its len caption tokens][padding], targets are caption token i
at position P-1+i and <|endoftext|> at position P-1+len, -1 elsewhere (and everywhere in an empty slot); the
loss is the mean cross-entropy over all targets of the batch. Learned positions 0..T-1 run over the prefix.

    /usr/bin/python3 tests/reference/make_train_fixtures.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpt2_ref  # noqa: E402
import nfresnet_ref as nfr  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "tests", "fixtures", "train")
LM = os.path.join(REPO, "tests", "fixtures", "models", "gpt2-f32")

P = 2                                  # prefix tokens
R = 36                                 # image side: odd sizes after the stem (18 -> 9 -> 5 -> 3 -> 2)
LENS = [4, -1, 1, 6]                   # caption lengths; -1: an empty slot (an image that failed to load)
L = max(LENS)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20210607)
    lm_cfg, lm_w = gpt2_ref.load_hf_folder(LM, torch.float64)
    lm = gpt2_ref.GPT2(lm_cfg, lm_w, torch.float64)
    C, V = lm_cfg.n_embd, lm_cfg.vocab_size
    eot = V - 1  # the fixture vocabulary ends with <|endoftext|>

    # The encoder: random weights as timm initialises them, then every gain, bias and skip-init gain perturbed.
    cfg = nfr.config("tiny", width=0.0625)
    enc = nfr.NFResNet(cfg)
    with torch.no_grad():
        for name, p in enc.named_parameters():
            if name.endswith(".gain"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif name.endswith("skipinit_gain"):
                p.copy_(torch.empty(()).uniform_(0.5, 1.5))
    enc_w = {k: v.detach().numpy().astype(np.float32) for k, v in enc.state_dict().items()}
    enc_path = os.path.join(OUT, "encoder.safetensors")
    nfr.write_safetensors(enc_path, enc_w, nfr.config_to_meta(cfg))
    Fdim = enc.num_features

    # The projector, at a scale that makes the prefix comparable to the LM's embeddings.
    pw = (torch.randn(P * C, Fdim) * 0.3 / Fdim ** 0.5).float()
    pb = (torch.randn(P * C) * 0.1).float()
    nfr.write_safetensors(os.path.join(OUT, "projector.safetensors"),
                          {"projector.weight": pw.numpy(), "projector.bias": pb.numpy()},
                          {"frozen.projector.n_prefix": str(P), "frozen.projector.n_embd": str(C),
                           "frozen.projector.n_features": str(Fdim)})

    B = len(LENS)
    images = torch.randn(B, 3, R, R).float()
    tokens = torch.randint(0, V - 1, (B, L), dtype=torch.int32)
    for b, n in enumerate(LENS):
        tokens[b, max(n, 0):] = 0

    # float64 from the stored float32 values.
    enc64 = nfr.load_model(enc_path, torch.float64)
    W = pw.double().requires_grad_(True)
    bias = pb.double().requires_grad_(True)
    pooled = enc64(images.double())
    prefix = (pooled @ W.T + bias).view(B, P, C)
    prefix.retain_grad()

    T = P + max(0, L)
    ids = torch.full((B, T), eot, dtype=torch.long)
    ids[:, :P] = -1
    targets = torch.full((B, T), -1, dtype=torch.long)
    for b, n in enumerate(LENS):
        if n < 0:
            continue
        ids[b, P:P + n] = tokens[b, :n].long()
        for i in range(n):
            targets[b, P - 1 + i] = int(tokens[b, i])
        targets[b, P - 1 + n] = eot
    embeds = torch.zeros(B, T, C, dtype=torch.float64)
    embeds = torch.cat([prefix, embeds[:, P:]], dim=1)
    logits, _ = lm.logits(ids, embeds)
    loss = F.cross_entropy(logits.reshape(B * T, V), targets.view(-1), ignore_index=-1, reduction="mean")
    loss.backward()

    expected = {"images": images.numpy(), "tokens": tokens.numpy(), "len": np.array(LENS, dtype=np.int32),
                "loss": np.array(loss.item(), dtype=np.float64),
                "pooled": pooled.detach().numpy().astype(np.float32),
                "prefix": prefix.detach().numpy().astype(np.float32),
                "grad.prefix": prefix.grad.numpy().astype(np.float32),
                "grad.projector.weight": W.grad.numpy().astype(np.float32),
                "grad.projector.bias": bias.grad.numpy().astype(np.float32)}
    for name, p in enc64.named_parameters():
        expected["grad." + name] = p.grad.numpy().astype(np.float32)
    nfr.write_safetensors(os.path.join(OUT, "expected.safetensors"), expected)
    print(f"wrote {OUT}: loss {loss.item():.6f}, {sum(v.size for v in enc_w.values())} encoder parameters, "
          f"{len(expected)} expected tensors")


if __name__ == "__main__":
    main()
