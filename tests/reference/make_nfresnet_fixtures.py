"""make_nfresnet_fixtures.py -- writes tests/fixtures/nfresnet/ from the independent PyTorch reference
(nfresnet_ref.py), for tests/check_nfresnet.c:

  model.safetensors     the "tiny" NF-ResNet (depths 2,1,1,2) at width 0.0625: weights He-normal as timm, but
                        gains, biases and skip-init gains random and non-zero so every path carries signal;
                        the config as __metadata__, float32
  expected.safetensors  input (2,3,40,38) float32; r (2,F) the fixed random linear loss L = sum(pooled * r);
                        pooled (2,F); grad.<param> for every parameter and grad.input; betas (blocks), all
                        computed in float64 from the float32 values above

40x38 gives odd sizes at every stride (20x19 after the stem, 10x10, 5x5, 3x3, 2x2), so the ceil-mode pool
cuts windows at the edge and the max-pool meets its padding; depth 2 in the first and the last stage gives
identity shortcuts and betas below 1.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfresnet_ref as ref  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "nfresnet")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20210108)
    cfg = ref.config("tiny", width=0.0625)
    model = ref.NFResNet(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".gain"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif name.endswith("skipinit_gain"):
                p.copy_(torch.empty(()).uniform_(0.5, 1.5))
    weights = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    ref.write_safetensors(os.path.join(OUT, "model.safetensors"), weights, ref.config_to_meta(cfg))

    x = torch.randn(2, cfg["in_channels"], 40, 38).float()
    r = torch.randn(2, model.num_features).float()

    # The same float32 values, computed in float64: the C float32 result is compared against (nearly) exact.
    model64 = ref.load_model(os.path.join(OUT, "model.safetensors"), torch.float64)
    x64 = x.double().requires_grad_(True)
    pooled = model64(x64)
    (pooled * r.double()).sum().backward()

    expected = {"input": x.numpy(), "r": r.numpy(), "pooled": pooled.detach().numpy().astype(np.float32),
                "grad.input": x64.grad.numpy().astype(np.float32),
                "betas": np.array(model64.betas, dtype=np.float32)}
    for name, p in model64.named_parameters():
        expected["grad." + name] = p.grad.numpy().astype(np.float32)
    ref.write_safetensors(os.path.join(OUT, "expected.safetensors"), expected)
    n = sum(v.size for v in weights.values())
    print(f"wrote {OUT}: {len(weights)} tensors, {n} parameters, pooled {tuple(pooled.shape)}")


if __name__ == "__main__":
    main()
