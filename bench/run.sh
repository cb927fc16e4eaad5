#!/bin/sh
# run.sh -- the LM benchmark: libfrozen beside PyTorch on a GPT-2-small-shaped model (`make bench`).
# Not a test: it measures and prints a table, and exits 0 whether or not the targets are met.
#
#   prefill: 8 sequences x 32 tokens in one call       target: libfrozen >= 2x PyTorch
#   decode:  batch 1, KV cache, 64 greedy tokens       target: >= 75% of the memory-bandwidth bound
#            (bound = read bandwidth / bytes of f32 weights touched per token, LM head included)
#   long prompt: 1 sequence x 1024 tokens in one call  (information: attention grows with the square of the length)
#
# A third program, blas_ceiling, times only the weight products of a decode step and of the prefill (through the
# library's own thread split, nothing else): the most either row can reach with this BLAS, printed beside them.
#
# Both sides run with the same environment: OPENBLAS_CORETYPE (default SkylakeX; set it to override) and
# OMP_NUM_THREADS = BENCH_THREADS (default 2). On a machine with few cores, OpenMP threads that spin while OpenBLAS
# threads work can slow either side several-fold, so each side also runs with OMP_WAIT_POLICY=passive
# (BENCH_POLICIES, default "default passive"). Other processes on the machine disturb the figures, so the sides
# alternate for BENCH_ROUNDS rounds (default 2), bandwidth is measured before each side's run, and the table takes
# each side's best run and the highest bandwidth (the strictest bound); every run is listed above the table.
# BENCH_REPS (default 5) sets the runs per median inside one run. Needs lib/libfrozen.a (make) and
# /usr/bin/python3 with torch.
set -eu
cd "$(dirname "$0")/.."

export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SkylakeX}"
THREADS="${BENCH_THREADS:-2}"
export OMP_NUM_THREADS="$THREADS"
REPS="${BENCH_REPS:-5}"
ROUNDS="${BENCH_ROUNDS:-2}"
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
$CC -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Iinclude -Isrc $(pkg-config --cflags openblas) \
    bench/blas_ceiling.c -o "$OUT/blas_ceiling" lib/libfrozen.a $LIBS -fopenmp
"$PYTHON" bench/make_gpt2_small.py "$MODEL"

echo "bench: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE OMP_NUM_THREADS=$OMP_NUM_THREADS, medians of $REPS runs, $ROUNDS rounds"
# How busy the machine is right now: the share of CPU time other processes used over one second.
cpu_busy() {
    a=$(head -n 1 /proc/stat); sleep 1; b=$(head -n 1 /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk '{ idle[NR] = $5 + $6; tot[NR] = 0; for (i = 2; i <= NF; i++) tot[NR] += $i }
        END { d = tot[2] - tot[1]; printf "%.0f", (d > 0 ? 100 * (1 - (idle[2] - idle[1]) / d) : 0) }'
}
busy=$(cpu_busy 2>/dev/null || echo 0)
if [ "${busy:-0}" -gt 10 ]; then
    echo "bench: warning: other processes use ${busy}% of the CPUs; they compete for cores and memory bandwidth, so"
    echo "bench: warning: the figures are noisy (each side's best run is taken; rerun on a quiet machine)"
fi
rm -f "$OUT"/run.*.txt
round=1
while [ "$round" -le "$ROUNDS" ]; do
    for policy in $POLICIES; do
        if [ "$policy" = default ]; then set -- env -u OMP_WAIT_POLICY; else set -- env OMP_WAIT_POLICY="$policy"; fi
        echo "bench: round $round, OMP_WAIT_POLICY=$policy: libfrozen, PyTorch ..."
        # bandwidth is sampled beside every run: on a shared machine it moves as much as the runs do
        "$OUT/membw" "$THREADS" 1024 5 >"$OUT/run.$round.membw.$policy.1.txt" 2>/dev/null
        "$@" "$OUT/bench_lm" "$MODEL" "$THREADS" "$REPS" >"$OUT/run.$round.frozen.$policy.txt"
        "$@" "$OUT/blas_ceiling" "$THREADS" 5 >"$OUT/run.$round.blas.$policy.txt"
        "$OUT/membw" "$THREADS" 1024 5 >"$OUT/run.$round.membw.$policy.2.txt" 2>/dev/null
        "$@" "$PYTHON" bench/torch_lm.py "$MODEL" "$REPS" >"$OUT/run.$round.torch.$policy.txt"
    done
    round=$((round + 1))
done

# Every run, then the table: each side's best run and the highest bandwidth.
awk -v policies="$POLICIES" -v rounds="$ROUNDS" -v out="$OUT" '
function val(file, key,    line, kv) {
    while ((getline line < file) > 0) { split(line, kv, " "); if (kv[1] == key) { close(file); return kv[2] "" } }
    close(file); return ""
}
BEGIN {
    n = split(policies, pol, " ")
    printf "\nruns:\n  %-6s %-8s %10s %15s %14s %14s %14s %16s %12s %12s\n", "round", "policy", "bw GB/s",
        "frozen prefill", "torch prefill", "frozen decode", "torch decode", "frozen generate", "frozen long",
        "torch long"
    for (r = 1; r <= rounds; r++) {
        for (i = 1; i <= n; i++) {
            b = val(out "/run." r ".membw." pol[i] ".1.txt", "membw_gb_s") + 0
            b2 = val(out "/run." r ".membw." pol[i] ".2.txt", "membw_gb_s") + 0
            if (b2 > b) b = b2; if (b > bw) bw = b
            f = out "/run." r ".frozen." pol[i] ".txt"; t = out "/run." r ".torch." pol[i] ".txt"
            fp = val(f, "prefill_tok_s") + 0; fd = val(f, "decode_tok_s") + 0; fg = val(f, "generate_tok_s") + 0
            tp = val(t, "prefill_tok_s") + 0; td = val(t, "decode_tok_s") + 0
            fl = val(f, "prefill_long_tok_s") + 0; tl = val(t, "prefill_long_tok_s") + 0; ln = val(f, "long_tokens")
            if (fl > bfl) bfl = fl; if (tl > btl) btl = tl
            wb = val(f, "weight_bytes_per_token") + 0; core = val(f, "blas_core")
            gv = val(out "/run." r ".blas." pol[i] ".txt", "sgemv_pass_tok_s") + 0; if (gv > bgv) bgv = gv
            gp = val(out "/run." r ".blas." pol[i] ".txt", "sgemm_prefill_tok_s") + 0; if (gp > bgp) bgp = gp
            if (fp > bfp) bfp = fp; if (fd > bfd) bfd = fd; if (fg > bfg) bfg = fg
            if (tp > btp) btp = tp; if (td > btd) btd = td
            printf "  %-6d %-8s %10.2f %15.1f %14.1f %14.2f %14.2f %16.2f %12.1f %12.1f\n", r, pol[i], b, fp, tp, fd,
                td, fg, fl, tl
        }
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
    printf "%-28s %12.1f %12.1f %8.2fx %-26s %s\n", sprintf("prefill 1x%s (tok/s)", ln), bfl, btl, bfl / btl,
        "(information)", ""
    printf "\nwhat the BLAS alone does with the same products (bench/blas_ceiling.c; the rows above cannot beat it):\n"
    printf "%-28s %12.1f %12s %8.2fx %-26s %s\n", "prefill products (tok/s)", bgp, "-", bgp / btp, "(x PyTorch prefill)", ""
    printf "%-28s %12.2f %12s %9s %-26s %s\n", "decode products (tok/s)", bgv, "-", "", "(sgemv, 1 row)", ""
    printf "%-28s %11.1f%% %12s %9s %-26s %s\n", "decode products, % of bound", 100 * bgv / bound, "-", "",
        "(information)", ""
}' </dev/null
