"""make_gpt2_fixtures.py -- writes the tiny GPT-2 fixture models and what the reference says they compute.

    /usr/bin/python3 tests/reference/make_gpt2_fixtures.py [out_dir]      (default tests/fixtures/models)

For each model in MODELS it writes
    <out_dir>/<name>/                      a Hugging Face GPT-2 folder (config.json, safetensors, vocab, merges)
    <out_dir>/<name>.expected.safetensors  the reference's answers (see write_expected for the tensor names)

Expectations are computed in float64 from the weights as stored (after f16/bf16 rounding) and saved as F32
(logits) or F64 (log-probs); the C test (tests/check_lm_parity.c) accepts |got - want| <= 1e-4 * max(1, |want|)
per element. Before writing, the script proves each fixture can tell right from wrong:
  - a float32 evaluation of the same model stays 10x inside the tolerance (a correct f32 implementation passes);
  - each model's distinguishing config (epsilon, activation, f16/bf16 rounding, an untied head) moves the logits
    far outside it;
  - every greedy step wins by a margin far above float32 noise (so greedy ids must match exactly).
Everything is seeded: rerunning gives identical files.
"""

import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref as ref  # noqa: E402

TOL = 1e-4          # the C test's criterion: |got - want| <= TOL * max(1, |want|)
GREEDY_N = 10
MIN_MARGIN = 1e-2   # best - second-best logit at every greedy step (f32 noise is ~1e-5)
N_MERGES = 200      # vocabulary: 256 bytes + 200 merges + <|endoftext|> = 457 ids

# Each model differs from the others in what the loader must get right.
MODELS = [
    # (a) like the hub's gpt2: F32, no prefix, attn.bias (1,1,P,P) and attn.masked_bias buffers present
    dict(name="gpt2-f32", seed=101, n_embd=48, n_head=4, n_layer=2, n_positions=64,
         write=dict(dtype="F32", attn_bias=True, masked_bias=True)),
    # (b) F16, "transformer." prefix, lm_head.weight present, no buffers, ASCII-escaped vocab.json
    dict(name="gpt2-f16-prefix", seed=102, n_embd=32, n_head=4, n_layer=2, n_positions=40,
         write=dict(dtype="F16", prefix=True, lm_head=True, attn_bias=False, ascii_vocab=True)),
    # (c) BF16, sharded (index + 2 shards), 3 layers, 5 heads of 8, bool attn.bias buffers
    dict(name="gpt2-bf16-sharded", seed=103, n_embd=40, n_head=5, n_layer=3, n_positions=64,
         write=dict(dtype="BF16", shards=2, attn_bias=True, attn_bias_dtype=torch.bool)),
    # (d) layer_norm_epsilon far from the 1e-5 default (proves it is read from config.json)
    dict(name="gpt2-eps", seed=104, n_embd=32, n_head=2, n_layer=2, n_positions=32, layer_norm_epsilon=0.05,
         write=dict(dtype="F32", attn_bias=False)),
    # (e) activation_function "gelu" (erf), not the default "gelu_new" (tanh)
    dict(name="gpt2-gelu", seed=105, n_embd=32, n_head=4, n_layer=2, n_positions=48, activation_function="gelu",
         write=dict(dtype="F32", attn_bias=False)),
    # (f) an LM head of its own: tie_word_embeddings false and lm_head.weight (what `frozen pretrain --untied-head`
    #     writes)
    dict(name="gpt2-untied", seed=106, n_embd=32, n_head=4, n_layer=2, n_positions=32, tie_word_embeddings=False,
         write=dict(dtype="F32", attn_bias=False)),
]


def rel_err(a, b):
    """max over elements of |a - b| / max(1, |b|): the C test's criterion, as a number."""
    return float(((a - b).abs() / b.abs().clamp(min=1.0)).max())


def make_config(spec, n_vocab):
    return ref.GPT2Config(vocab_size=n_vocab, n_positions=spec["n_positions"], n_embd=spec["n_embd"],
                          n_layer=spec["n_layer"], n_head=spec["n_head"],
                          activation_function=spec.get("activation_function", "gelu_new"),
                          layer_norm_epsilon=spec.get("layer_norm_epsilon", 1e-5),
                          tie_word_embeddings=spec.get("tie_word_embeddings", True),
                          bos_token_id=n_vocab - 1, eos_token_id=n_vocab - 1)


def pick_greedy_prompt(model, g, length, n, eot, vocab_hi):
    """A random prompt whose greedy continuation never comes near a tie."""
    for _ in range(200):
        prompt = [int(t) for t in torch.randint(0, vocab_hi, (length,), generator=g)]
        out, margins = model.greedy(prompt, n, eot=None, with_margins=True)
        if min(margins) >= MIN_MARGIN and eot not in out:
            return prompt, out, min(margins)
    raise RuntimeError("no prompt with a clear greedy continuation")


def write_expected(path, spec, cfg, W, vocab):
    """The reference's answers for one model (names are the C test's contract):
      seq.count (I32 [1]); seq.<i>.ids (I32 [T]); seq.<i>.logits (F32 [T,V])   sequences of different lengths
      greedy.prompt, greedy.ids (I32)            greedy continuation of GREEDY_N ids (no stop at EOT)
      ctx.prompt, ctx.ids (I32)                  greedy from a prompt 3 short of n_positions: 3 ids, then full
      score.context, score.cont (I32); score.logprobs (F64 [n]); score.total (F64 [1])
      embd.ids (I32 [T]); embd.rows (F32 [T,C])  the stored wte rows of embd.ids (for FRZ_TOKEN_EMBEDDING input)
      prefix.embd (F32 [K,C]); prefix.ids (I32 [M]); prefix.logits (F32 [K+M,V])
                                                 K free embedding vectors, then M tokens (a visual prefix)
    Metadata: the model's properties as frz_lm_get reports them."""
    g = torch.Generator().manual_seed(spec["seed"] * 7 + 1)
    V, P, C = cfg.vocab_size, cfg.n_positions, cfg.n_embd
    eot = V - 1
    m64 = ref.GPT2(cfg, W, torch.float64)
    m32 = ref.GPT2(cfg, W, torch.float32)
    out = {}
    lengths = [1, 5, 12, P]  # one sequence fills the whole context
    worst32 = 0.0
    seqs = []
    for i, T in enumerate(lengths):
        ids = [int(t) for t in torch.randint(0, V, (T,), generator=g)]
        if i == 2:
            ids[0] = eot  # <|endoftext|> is an ordinary input token
        lg = m64.seq_logits(ids)
        worst32 = max(worst32, rel_err(m32.seq_logits(ids).double(), lg))
        out["seq.%d.ids" % i] = torch.tensor(ids, dtype=torch.int32)
        out["seq.%d.logits" % i] = lg.float()
        seqs.append((ids, lg))
    out["seq.count"] = torch.tensor([len(lengths)], dtype=torch.int32)

    prompt, gen, margin = pick_greedy_prompt(m64, g, 6, GREEDY_N, eot, V - 1)
    out["greedy.prompt"] = torch.tensor(prompt, dtype=torch.int32)
    out["greedy.ids"] = torch.tensor(gen, dtype=torch.int32)
    assert m32.greedy(prompt, GREEDY_N) == gen
    cprompt, cgen, cmargin = pick_greedy_prompt(m64, g, P - 3, GREEDY_N, eot, V - 1)
    assert len(cgen) == 3
    out["ctx.prompt"] = torch.tensor(cprompt, dtype=torch.int32)
    out["ctx.ids"] = torch.tensor(cgen, dtype=torch.int32)

    context = [int(t) for t in torch.randint(0, V, (7,), generator=g)]
    cont = [int(t) for t in torch.randint(0, V, (6,), generator=g)]
    per, total = m64.score(context, cont)
    per32, total32 = m32.score(context, cont)
    worst32 = max(worst32, max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(per32, per)))
    out["score.context"] = torch.tensor(context, dtype=torch.int32)
    out["score.cont"] = torch.tensor(cont, dtype=torch.int32)
    out["score.logprobs"] = torch.tensor(per, dtype=torch.float64)
    out["score.total"] = torch.tensor([total], dtype=torch.float64)

    eids = seqs[2][0]
    out["embd.ids"] = torch.tensor(eids, dtype=torch.int32)
    out["embd.rows"] = W["wte.weight"][torch.tensor(eids)].float()

    K, M = 3, 5
    pe = (torch.randn(K, C, generator=g, dtype=torch.float64) * 0.5).float()
    pids = [int(t) for t in torch.randint(0, V, (M,), generator=g)]
    mixed = [-1] * K + pids
    emb = torch.cat([pe.double(), torch.zeros(M, C, dtype=torch.float64)])
    plg = m64.seq_logits(mixed, emb)
    worst32 = max(worst32, rel_err(m32.seq_logits(mixed, emb.float()).double(), plg))
    out["prefix.embd"] = pe
    out["prefix.ids"] = torch.tensor(pids, dtype=torch.int32)
    out["prefix.logits"] = plg.float()

    assert worst32 < TOL / 10, "%s: float32 evaluation off by %g (tolerance %g)" % (spec["name"], worst32, TOL)
    meta = {"n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": C, "n_vocab": V, "n_ctx": P, "eot": eot,
            "n_params": ref.n_params(cfg), "tolerance": "|got-want| <= %g*max(1,|want|)" % TOL,
            "generator": "tests/reference/make_gpt2_fixtures.py"}
    ref.save_safetensors(path, out, meta)
    return seqs, worst32, min(margin, cmargin)


def sensitivity(spec, cfg, W_stored, W_raw, seqs):
    """How far the logits move when one thing the loader must read is got wrong (must be >> TOL)."""
    checks = {}
    variants = {}
    if cfg.layer_norm_epsilon != 1e-5:
        variants["epsilon 1e-5"] = dict(layer_norm_epsilon=1e-5)
    variants["activation " + ("gelu_new" if cfg.activation_function == "gelu" else "gelu")] = \
        dict(activation_function="gelu_new" if cfg.activation_function == "gelu" else "gelu")
    if not cfg.tie_word_embeddings:
        variants["head tied to wte"] = dict(tie_word_embeddings=True)
    for label, change in variants.items():
        c2 = ref.GPT2Config(**{**cfg.__dict__, **change})
        m = ref.GPT2(c2, W_stored)
        checks[label] = max(rel_err(m.seq_logits(ids), lg) for ids, lg in seqs)
    if spec["write"]["dtype"] != "F32":
        m = ref.GPT2(cfg, W_raw)
        checks["unrounded f32 weights"] = max(rel_err(m.seq_logits(ids), lg) for ids, lg in seqs)
    return checks


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ref.REPO, "tests", "fixtures", "models")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_grad_enabled(False)
    vocab, merges = ref.build_small_vocab(N_MERGES)
    print("vocabulary: %d ids (%d merges from %s)" % (len(vocab), len(merges), ref.gpt2_merges_path()))
    for spec in MODELS:
        cfg = make_config(spec, len(vocab))
        W_raw = ref.random_weights(cfg, spec["seed"])
        W = ref.as_stored(W_raw, spec["write"]["dtype"])
        d = os.path.join(out_dir, spec["name"])
        shutil.rmtree(d, ignore_errors=True)
        ref.write_hf_folder(d, cfg, W_raw, vocab, merges, **spec["write"])
        cfg2, W2 = ref.load_hf_folder(d)  # what the folder holds is what the expectations use
        assert all(torch.equal(W2[n], W[n]) for n in W)
        seqs, worst32, margin = write_expected(os.path.join(out_dir, spec["name"] + ".expected.safetensors"),
                                               spec, cfg, W, vocab)
        checks = sensitivity(spec, cfg, W, W_raw, seqs)
        for label, err in checks.items():
            if "gelu" in label and cfg.activation_function == "gelu_new":
                continue  # only the gelu model has to tell the activations apart
            assert err > 10 * TOL, "%s: fixture cannot detect '%s' (%g)" % (spec["name"], label, err)
        spread = float(seqs[-1][1].std())
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) + \
            os.path.getsize(os.path.join(out_dir, spec["name"] + ".expected.safetensors"))
        print("%-18s %s C=%d H=%d L=%d P=%d  logit std %.2f  f32 err %.1e  min greedy margin %.3f  %s  %d bytes"
              % (spec["name"], spec["write"]["dtype"], cfg.n_embd, cfg.n_head, cfg.n_layer, cfg.n_positions,
                 spread, worst32, margin,
                 " ".join("[%s: %.1e]" % (k, v) for k, v in checks.items()), size))


if __name__ == "__main__":
    main()
