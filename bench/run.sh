#!/bin/sh
# run.sh -- the LM benchmark: libfrozen beside PyTorch on a GPT-2-small-shaped model (`make bench`).
# Not a test: it measures and prints a table, and exits 0 whether or not the targets are met.
#
#   prefill: 8 sequences x 32 tokens in one call       target: libfrozen >= 2x PyTorch
#   decode:  batch 1, KV cache, 64 greedy tokens       target: >= 75% of the memory-bandwidth bound
#            (bound = read bandwidth / bytes of f32 weights touched per token, LM head included)
#
# Both sides run with the same environment: OPENBLAS_CORETYPE (default SkylakeX; set it to override) and
# OMP_NUM_THREADS = BENCH_THREADS (default 2). On a machine with few cores, OpenMP threads that spin while OpenBLAS
# threads work can slow both sides several-fold, so each side also runs with OMP_WAIT_POLICY=passive and the table
# takes each side's better run (both runs are listed). BENCH_POLICIES="default" runs only the first.
# BENCH_REPS (default 5) sets the runs per median. Needs lib/libfrozen.a (make), /usr/bin/python3 with torch.
set -eu
cd "$(dirname "$0")/.."

export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SkylakeX}"
THREADS="${BENCH_THREADS:-2}"
export OMP_NUM_THREADS="$THREADS"
REPS="${BENCH_REPS:-5}"
POLICIES="${BENCH_POLICIES:-default passive}"
PYTHON="${PYTHON:-/usr/bin/python3}"
CC="${CC:-cc}"
OUT=bench/out
MODEL="$OUT/gpt2-small-random"
mkdir -p "$OUT"

[ -f lib/libfrozen.a ] || { echo "bench: lib/libfrozen.a is missing; run make first" >&2; exit 1; }
LIBS="$(pkg-config --libs openblas libpcre2-8 jansson) -lm -lpthread"
$CC -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Iinclude bench/bench_lm.c -o "$OUT/bench_lm" \
    lib/libfrozen.a $LIBS -fopenmp
$CC -O3 -march=native -std=c11 -Wall -Wextra -fopenmp bench/membw.c -o "$OUT/membw"
"$PYTHON" bench/make_gpt2_small.py "$MODEL"

# get KEY FILE: the value of a "key value" line.
get() { sed -n "s/^$1 //p" "$2"; }

echo "bench: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE OMP_NUM_THREADS=$OMP_NUM_THREADS, medians of $REPS runs"
"$OUT/membw" "$THREADS" 1024 5 >"$OUT/membw.txt"
bw=$(get membw_gb_s "$OUT/membw.txt")

for policy in $POLICIES; do
    if [ "$policy" = default ]; then set -- env -u OMP_WAIT_POLICY; else set -- env OMP_WAIT_POLICY="$policy"; fi
    echo "bench: OMP_WAIT_POLICY=$policy: libfrozen ..."
    "$@" "$OUT/bench_lm" "$MODEL" "$THREADS" "$REPS" >"$OUT/frozen.$policy.txt"
    echo "bench: OMP_WAIT_POLICY=$policy: PyTorch ..."
    "$@" "$PYTHON" bench/torch_lm.py "$MODEL" "$REPS" >"$OUT/torch.$policy.txt"
done

# The table. Each side's best policy is taken; the detail lists every run.
awk -v bw="$bw" -v policies="$POLICIES" -v out="$OUT" '
function val(file, key,    line, kv) {
    while ((getline line < file) > 0) { split(line, kv, " "); if (kv[1] == key) { close(file); return kv[2] } }
    close(file); return ""
}
BEGIN {
    n = split(policies, pol, " ")
    for (i = 1; i <= n; i++) {
        f = out "/frozen." pol[i] ".txt"; t = out "/torch." pol[i] ".txt"
        fp[i] = val(f, "prefill_tok_s"); fd[i] = val(f, "decode_tok_s"); fg[i] = val(f, "generate_tok_s")
        tp[i] = val(t, "prefill_tok_s"); td[i] = val(t, "decode_tok_s")
        wb = val(f, "weight_bytes_per_token"); core = val(f, "blas_core")
        if (fp[i] > bfp) bfp = fp[i]; if (fd[i] > bfd) bfd = fd[i]; if (fg[i] > bfg) bfg = fg[i]
        if (tp[i] > btp) btp = tp[i]; if (td[i] > btd) btd = td[i]
    }
    bound = bw * 1e9 / wb
    printf "\nmemory read bandwidth %.2f GB/s; weights per token %.1f MB; decode bound %.2f tok/s; BLAS core %s\n\n",
        bw, wb / 1e6, bound, core
    printf "%-28s %12s %12s %9s %-26s %s\n", "metric", "libfrozen", "PyTorch", "ratio", "target", "met?"
    printf "%-28s %12.1f %12.1f %8.2fx %-26s %s\n", "prefill 8x32 (tok/s)", bfp, btp, bfp / btp,
        ">= 2x PyTorch", (bfp >= 2 * btp) ? "yes" : "NO"
    printf "%-28s %12.2f %12.2f %8.2fx %-26s %s\n", "decode batch 1 (tok/s)", bfd, btd, bfd / btd,
        sprintf(">= %.2f (75%% of bound)", 0.75 * bound), (bfd >= 0.75 * bound) ? "yes" : "NO"
    printf "%-28s %11.1f%% %11.1f%% %9s %-26s %s\n", "decode, % of bound", 100 * bfd / bound, 100 * btd / bound,
        "", ">= 75%", (bfd >= 0.75 * bound) ? "yes" : "NO"
    printf "%-28s %12.2f %12s %9s %-26s %s\n", "frz_generate batch 1 (tok/s)", bfg, "-", "", "(information)", ""
    printf "\nruns (OMP_WAIT_POLICY):\n"
    printf "  %-10s %18s %18s %18s %18s %18s\n", "policy", "frozen prefill", "torch prefill", "frozen decode",
        "torch decode", "frozen generate"
    for (i = 1; i <= n; i++)
        printf "  %-10s %18.1f %18.1f %18.2f %18.2f %18.2f\n", pol[i], fp[i], tp[i], fd[i], td[i], fg[i]
}' </dev/null
