"""nfresnet_ref.py -- an independent PyTorch NF-ResNet, written from timm's definitions of nf_resnet26/50
(timm/models/nfnet.py: NfCfg, _nfres_cfg, NormFreeBlock, create_stem('7x7_pool'), DownsampleAvg;
timm/layers/std_conv.py: ScaledStdConv2d), with timm's module names so state_dict keys are timm's tensor
names. timm itself is not installed here; nothing is imported from it.

Also a minimal safetensors reader/writer (the format: u64 header length, JSON header, raw little-endian data).

Run directly for the benchmark peer of libfrozen's encoder:
    /usr/bin/python3 tests/reference/nfresnet_ref.py bench --arch nf_resnet50 --size 224 --batch 8 --threads 2
or to check weights written by libfrozen (frz_nfr_save) against an input and the pooled output libfrozen
computed for it (both in one safetensors file, tensors "input" and "pooled"):
    /usr/bin/python3 tests/reference/nfresnet_ref.py check MODEL.safetensors IO.safetensors
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

RELU_GAMMA = 1.7139588594436646  # timm's _nonlin_gamma['relu'], from DeepMind's nfnets code

DEPTHS = {"nf_resnet50": (3, 4, 6, 3), "nf_resnet26": (2, 2, 2, 2), "tiny": (2, 1, 1, 2)}


def config(arch, width=1.0):
    """The NF-ResNet config as libfrozen stores it (timm's _nfres_cfg plus a width factor)."""
    return dict(depths=list(DEPTHS[arch]), channels=[256, 512, 1024, 2048], stem_channels=64, in_channels=3,
                width=width, bottle_ratio=0.25, alpha=0.2, std_conv_eps=1e-5, act="relu", skipinit=1)


def config_to_meta(cfg):
    f = lambda v: repr(float(np.float32(v)))
    return {"nfresnet.depths": ",".join(map(str, cfg["depths"])),
            "nfresnet.channels": ",".join(map(str, cfg["channels"])),
            "nfresnet.stem_channels": str(cfg["stem_channels"]), "nfresnet.in_channels": str(cfg["in_channels"]),
            "nfresnet.width": f(cfg["width"]), "nfresnet.bottle_ratio": f(cfg["bottle_ratio"]),
            "nfresnet.alpha": f(cfg["alpha"]), "nfresnet.std_conv_eps": f(cfg["std_conv_eps"]),
            "nfresnet.act": cfg["act"], "nfresnet.skipinit": str(cfg["skipinit"])}


def config_from_meta(meta):
    ints = lambda k: [int(x) for x in meta[k].split(",")]
    return dict(depths=ints("nfresnet.depths"), channels=ints("nfresnet.channels"),
                stem_channels=int(meta["nfresnet.stem_channels"]), in_channels=int(meta["nfresnet.in_channels"]),
                width=float(meta["nfresnet.width"]), bottle_ratio=float(meta["nfresnet.bottle_ratio"]),
                alpha=float(meta["nfresnet.alpha"]), std_conv_eps=float(meta["nfresnet.std_conv_eps"]),
                act=meta["nfresnet.act"], skipinit=int(meta["nfresnet.skipinit"]))


def make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
    """timm.layers.helpers.make_divisible."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


class ScaledStdConv(nn.Module):
    """Conv with scaled weight standardisation: per output channel,
    w_hat = gain * gamma / sqrt(fan_in) * (w - mean) / sqrt(biased var + eps)."""

    def __init__(self, cin, cout, k, stride=1, eps=1e-5, gamma=RELU_GAMMA):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.gain = nn.Parameter(torch.ones(cout, 1, 1, 1))
        self.stride, self.padding = stride, ((stride - 1) + (k - 1)) // 2  # timm get_padding
        self.scale, self.eps = gamma * (cin * k * k) ** -0.5, eps
        nn.init.kaiming_normal_(self.weight, mode="fan_in", nonlinearity="linear")

    def standardised(self):
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = ((w - mean) ** 2).mean(dim=(1, 2, 3), keepdim=True)
        return (w - mean) / torch.sqrt(var + self.eps) * (self.gain * self.scale)

    def forward(self, x):
        return F.conv2d(x, self.standardised(), self.bias, self.stride, self.padding)


class Downsample(nn.Module):
    """timm's DownsampleAvg: 2x2 ceil-mode average pool (padding not counted) when strided, then a 1x1 conv."""

    def __init__(self, cin, cout, stride, eps):
        super().__init__()
        self.stride = stride
        self.conv = ScaledStdConv(cin, cout, 1, eps=eps)

    def forward(self, x):
        if self.stride > 1:
            x = F.avg_pool2d(x, 2, self.stride, ceil_mode=True, count_include_pad=False)
        return self.conv(x)


class Block(nn.Module):
    """Pre-activation NF bottleneck: h = relu(x) beta; y = shortcut + alpha g branch(h)."""

    def __init__(self, cin, cout, mid, stride, alpha, beta, eps, skipinit):
        super().__init__()
        self.alpha, self.beta = alpha, beta
        self.downsample = Downsample(cin, cout, stride, eps) if (cin != cout or stride != 1) else None
        self.conv1 = ScaledStdConv(cin, mid, 1, eps=eps)
        self.conv2 = ScaledStdConv(mid, mid, 3, stride=stride, eps=eps)
        self.conv3 = ScaledStdConv(mid, cout, 1, eps=eps)
        if skipinit:
            self.skipinit_gain = nn.Parameter(torch.tensor(0.0))
        else:
            self.skipinit_gain = None
            nn.init.zeros_(self.conv3.gain)

    def forward(self, x):
        h = F.relu(x) * self.beta
        shortcut = self.downsample(h) if self.downsample is not None else x
        out = self.conv3(F.relu(self.conv2(F.relu(self.conv1(h)))))
        if self.skipinit_gain is not None:
            out = out * self.skipinit_gain
        return out * self.alpha + shortcut


class Stem(nn.Module):
    def __init__(self, cin, cout, eps):
        super().__init__()
        self.conv = ScaledStdConv(cin, cout, 7, stride=2, eps=eps)

    def forward(self, x):
        return F.max_pool2d(self.conv(x), 3, 2, 1)


class NFResNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        w, eps, alpha = cfg["width"], cfg["std_conv_eps"], cfg["alpha"]
        stem_chs = make_divisible(cfg["stem_channels"] * w)
        self.stem = Stem(cfg["in_channels"], stem_chs, eps)
        self.betas = []
        prev, expected_var, stages = stem_chs, 1.0, []
        for s, depth in enumerate(cfg["depths"]):
            out_chs = make_divisible(cfg["channels"][s] * w)
            mid = make_divisible(out_chs * cfg["bottle_ratio"])
            blocks = []
            for b in range(depth):
                stride = 2 if (b == 0 and s > 0) else 1
                beta = 1.0 / expected_var ** 0.5
                self.betas.append(beta)
                blocks.append(Block(prev, out_chs, mid, stride, alpha, beta, eps, cfg["skipinit"]))
                if b == 0:
                    expected_var = 1.0
                expected_var += alpha ** 2
                prev = out_chs
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.num_features = prev

    def forward(self, x):
        """x (B,C,H,W) -> pooled (B,num_features): relu after the last stage, then global average pooling."""
        return F.relu(self.stages(self.stem(x))).mean(dim=(2, 3))


# ---- safetensors ----------------------------------------------------------------------------------------------

_DT = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: numpy array}; written as their dtype, sorted by name, 8-byte aligned header."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        a = np.array(tensors[name], order="C")  # not ascontiguousarray: it turns a 0-d scalar into shape [1]
        dt = [k for k, v in _DT.items() if v == a.dtype.type][0]
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """-> ({name: numpy array}, metadata dict)"""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base, out = 8 + n, {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + e], dtype=np.dtype(_DT[t["dtype"]]).newbyteorder("<")) \
            .reshape(t["shape"]).copy()
    return out, meta


def load_model(path, dtype=torch.float64):
    tensors, meta = read_safetensors(path)
    model = NFResNet(config_from_meta(meta)).to(dtype)
    model.load_state_dict({k: torch.from_numpy(v).to(dtype) for k, v in tensors.items()}, strict=True)
    return model


# ---- benchmark --------------------------------------------------------------------------------------------------

def bench(arch, width, size, batch, threads, iters):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = NFResNet(config(arch, width))
    x = torch.randn(batch, 3, size, size)
    r = torch.randn(batch, model.num_features)
    times = []
    for i in range(iters + 1):
        model.zero_grad(set_to_none=False)
        t0 = time.perf_counter()
        (model(x) * r).sum().backward()
        times.append(time.perf_counter() - t0)
    best = min(times[1:])  # the first pass warms allocators and oneDNN's kernel choice
    print(f"pytorch {torch.__version__} {arch} width {width} {size}px batch {batch} threads {threads}: "
          f"forward+backward {best * 1e3:.1f} ms best of {iters} -> {batch / best:.2f} images/s")


def check(model_path, io_path):
    model = load_model(model_path)
    io, _ = read_safetensors(io_path)
    with torch.no_grad():
        want = model(torch.from_numpy(io["input"]).double()).numpy()
    err = np.abs(want - io["pooled"]).max() / np.abs(want).max()
    print(f"pooled {tuple(want.shape)}: max |libfrozen - reference| / max |reference| = {err:.3g}")
    return err <= 1e-4


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="forward+backward images/s")
    b.add_argument("--arch", default="nf_resnet50", choices=sorted(DEPTHS))
    b.add_argument("--width", type=float, default=1.0)
    b.add_argument("--size", type=int, default=224)
    b.add_argument("--batch", type=int, default=8)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--iters", type=int, default=3)
    c = sub.add_parser("check", help="compare libfrozen's pooled output for its own weights")
    c.add_argument("model")
    c.add_argument("io")
    a = ap.parse_args()
    if a.cmd == "bench":
        bench(a.arch, a.width, a.size, a.batch, a.threads, a.iters)
    else:
        sys.exit(0 if check(a.model, a.io) else 1)
