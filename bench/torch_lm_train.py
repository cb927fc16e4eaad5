"""torch_lm_train.py -- the PyTorch peer of bench_lm_train.c: the same batch shape through the reference GPT-2
(tests/reference/gpt2_ref.py) in float32, autograd w.r.t. the input embeddings only (every weight has
requires_grad False, as in Frozen), loss = mean cross-entropy over the targets.

    /usr/bin/python3 bench/torch_lm_train.py B T REPS
torch.set_num_threads(N) with N from OMP_NUM_THREADS (default 2). Random GPT-2-small-shaped weights (the speed
does not depend on their values). Prints medians over REPS runs after one warm-up, in milliseconds (step_cpu_ms:
the process's CPU time, all threads)."""

import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import gpt2_ref as ref  # noqa: E402


def main():
    B, T, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    cfg = ref.GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)
    g = torch.Generator().manual_seed(1)
    W = {n: torch.randn(s, generator=g) * 0.02 for n, s in ref.param_shapes(cfg).items()}
    model = ref.GPT2(cfg, W, dtype=torch.float32)
    tokens = torch.randint(0, 50257, (B, T), generator=g)
    tokens[:, :2] = -1
    targets = torch.full((B, T), -1, dtype=torch.long)
    targets[:, 1:T - 1] = tokens[:, 2:T]
    embd0 = torch.randn(B, T, 768, generator=g) * 0.02
    tf, tb, tc = [], [], []
    for r in range(reps + 1):
        embd = embd0.clone().requires_grad_(True)
        c0, t0 = time.process_time(), time.perf_counter()
        logits, _ = model.logits(tokens, embd)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, 50257), targets.view(-1), ignore_index=-1)
        t1 = time.perf_counter()
        loss.backward()
        t2, c2 = time.perf_counter(), time.process_time()
        assert embd.grad is not None and embd.grad[:, :2].abs().sum() > 0
        if r > 0:
            tf.append((t1 - t0) * 1e3)
            tb.append((t2 - t1) * 1e3)
            tc.append((c2 - c0) * 1e3)
    print("loss %.4f" % float(loss))
    print("forward_ms %.1f\nbackward_ms %.1f\nstep_ms %.1f\nstep_cpu_ms %.1f"
          % (statistics.median(tf), statistics.median(tb), statistics.median([a + b for a, b in zip(tf, tb)]),
             statistics.median(tc)))


if __name__ == "__main__":
    main()
