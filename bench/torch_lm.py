"""torch_lm.py -- the PyTorch peer of bench_lm.c: the same GPT-2 folder, the same three measurements.

(a) prefill: 8 sequences x 32 tokens in one forward, logits of each sequence's last position only;
(b) greedy decode at batch 1 with a KV cache: prefill a 16-token prompt, then 64 single-token steps;
(c) a long prompt: one sequence of 1024 tokens (the model's context if shorter) in one forward.

A plain GPT-2 forward as Hugging Face's GPT2LMHeadModel computes it (Conv1D weights [in, out], gelu_new,
pre-LayerNorm, LM head tied to wte), written for speed the way a careful PyTorch user would: inference_mode,
addmm for the projections, a preallocated KV cache written in place (no concatenation per step), the LM head on
the last position only. torch.set_num_threads(N) with N from OMP_NUM_THREADS (default 2).

Prints "prefill_tok_s X", "decode_tok_s Y" and "prefill_long_tok_s Z" (medians over REPS runs after warm-up).
Run: /usr/bin/python3 bench/torch_lm.py MODEL_DIR [REPS]
"""

import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

PREFILL_B, PREFILL_T = 8, 32
DECODE_PROMPT, DECODE_N = 16, 64
LONG_T = 1024  # one long prompt (the model's context if shorter), as bench_lm.c


def load_safetensors(path):
    """Reads an F32 safetensors file by hand (there is no safetensors package here)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit("torch_lm: %s: dtype %s, this benchmark reads F32 only" % (name, info["dtype"]))
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"])
        name = name[len("transformer."):] if name.startswith("transformer.") else name
        out[name] = torch.from_numpy(arr.copy())
    return out


class GPT2:
    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        self.L, self.C, self.H = cfg["n_layer"], cfg["n_embd"], cfg["n_head"]
        self.P = cfg.get("n_positions", cfg.get("n_ctx"))
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.hd = self.C // self.H
        self.w = load_safetensors(os.path.join(folder, "model.safetensors"))
        self.cache = None

    def reset_cache(self, B, T):
        """A KV cache for B sequences of up to T positions (sized to the run, as a careful user would)."""
        self.cache = [(torch.empty(B, self.H, T, self.hd), torch.empty(B, self.H, T, self.hd))
                      for _ in range(self.L)]

    @staticmethod
    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))

    def forward(self, ids, pos):
        """ids (B,T) appended at positions pos..pos+T-1 of every sequence; returns the last position's logits
        (B,V). Keys and values go into the cache."""
        w, C, H, hd = self.w, self.C, self.H, self.hd
        B, T = ids.shape
        x = w["wte.weight"][ids] + w["wpe.weight"][pos:pos + T]              # (B,T,C)
        mask = None
        if T > 1:
            mask = torch.full((T, pos + T), float("-inf")).triu(pos + 1)     # causal over the cached + new
        for i in range(self.L):
            p = "h.%d." % i
            h = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps)
            qkv = torch.addmm(w[p + "attn.c_attn.bias"], h.view(B * T, C), w[p + "attn.c_attn.weight"])
            q, k, v = qkv.view(B, T, 3, H, hd).permute(2, 0, 3, 1, 4)       # each (B,H,T,hd)
            kc, vc = self.cache[i]
            kc[:, :, pos:pos + T] = k
            vc[:, :, pos:pos + T] = v
            k, v = kc[:, :, :pos + T], vc[:, :, :pos + T]
            att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))  # (B,H,T,pos+T)
            if mask is not None:
                att = att + mask
            y = torch.matmul(torch.softmax(att, dim=-1), v)                    # (B,H,T,hd)
            y = y.transpose(1, 2).reshape(B * T, C)
            x = x + torch.addmm(w[p + "attn.c_proj.bias"], y, w[p + "attn.c_proj.weight"]).view(B, T, C)
            h = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps)
            h = self.gelu_new(torch.addmm(w[p + "mlp.c_fc.bias"], h.view(B * T, C), w[p + "mlp.c_fc.weight"]))
            x = x + torch.addmm(w[p + "mlp.c_proj.bias"], h, w[p + "mlp.c_proj.weight"]).view(B, T, C)
        last = F.layer_norm(x[:, -1], (C,), w["ln_f.weight"], w["ln_f.bias"], self.eps)
        return torch.mm(last, w["wte.weight"].t())                           # (B,V)


def main():
    folder = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    m = GPT2(folder)
    V = m.w["wte.weight"].shape[0]
    g = torch.Generator().manual_seed(7)
    prefill_ids = torch.randint(0, V, (PREFILL_B, PREFILL_T), generator=g)
    prompt = torch.randint(0, V, (1, DECODE_PROMPT), generator=g)

    def prefill():
        m.reset_cache(PREFILL_B, PREFILL_T)
        t0 = time.perf_counter()
        m.forward(prefill_ids, 0)
        return time.perf_counter() - t0

    def decode():
        m.reset_cache(1, DECODE_PROMPT + DECODE_N)
        logits = m.forward(prompt, 0)
        t0 = time.perf_counter()
        for step in range(DECODE_N):
            nxt = logits.argmax(dim=-1, keepdim=True)                        # (1,1)
            logits = m.forward(nxt, DECODE_PROMPT + step)
        return time.perf_counter() - t0

    long_n = min(LONG_T, m.w["wpe.weight"].shape[0])
    long_ids = torch.randint(0, V, (1, long_n), generator=g)

    def prefill_long():
        m.reset_cache(1, long_n)
        t0 = time.perf_counter()
        m.forward(long_ids, 0)
        return time.perf_counter() - t0

    with torch.inference_mode():
        for _ in range(2):  # warm-up: first-touch of weights, allocator, thread pool
            prefill()
        prefill_s = statistics.median(prefill() for _ in range(reps))
        decode()
        decode_s = statistics.median(decode() for _ in range(reps))
        prefill_long()
        long_s = statistics.median(prefill_long() for _ in range(reps))
    print("prefill_tok_s %.3f" % (PREFILL_B * PREFILL_T / prefill_s))
    print("decode_tok_s %.3f" % (DECODE_N / decode_s))
    print("prefill_long_tok_s %.3f" % (long_n / long_s))
    print("threads %d" % torch.get_num_threads())


if __name__ == "__main__":
    main()
