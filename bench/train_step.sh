#!/bin/sh
# train_step.sh -- the training-step benchmark: one full Frozen training step (NF-ResNet forward -> projector ->
# frozen GPT-2 forward and backward to the prefix -> projector and encoder backward -> Adam), libfrozen
# (bench/bench_train_step.c, the trainer's own step function) beside the same model in PyTorch
# (bench/torch_train_step.py, the references of tests/reference/), on synthetic in-memory batches.
# Not a test: it prints a table and exits 0 whether or not the target is met.
#
#   a   GPT-2-small-shaped LM (bench/out/gpt2-small-random, random weights) + NF-ResNet-50 at 224 px
#   b   the same LM + NF-ResNet-26 at 64 px (a configuration a small CPU trains in reasonable time)
#       a and b: batch 8, 2 prefix tokens, 16-token captions.          target: libfrozen >= 1.5x PyTorch images/s
#   d   the demo's step (`make demo`): its LM (models/demo-lm, 4 layers x 128) + the tiny NF-ResNet at width 0.5,
#       32 px, batch 32, 7 prefix tokens, 10-token captions (not run by default: BENCH_CONFIGS="a b d")
#
# Both sides run with OPENBLAS_CORETYPE (default SkylakeX; set it to override) and OMP_NUM_THREADS = BENCH_THREADS
# (default 2; libfrozen's n_threads and torch.set_num_threads take the same number). Each run is a separate
# process: one warm-up step, then the median of BENCH_REPS steps (default 3). The machine is shared, so the
# sides alternate (which goes first flips every round) for BENCH_ROUNDS rounds (default 3), and the table takes
# each side's fastest round; every run is listed below it with its process CPU time and the load average.
# BENCH_CONFIGS (default "a b") picks the configurations (a, b, d). Needs lib/libfrozen.a (make) and
# /usr/bin/python3 with torch; a and b write bench/out/gpt2-small-random (about 500 MB) if it is missing.
set -eu
cd "$(dirname "$0")/.."

export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SkylakeX}"
THREADS="${BENCH_THREADS:-2}"
export OMP_NUM_THREADS="$THREADS"
REPS="${BENCH_REPS:-3}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONFIGS="${BENCH_CONFIGS:-a b}"
PYTHON="${PYTHON:-/usr/bin/python3}"
CC="${CC:-cc}"
OUT=bench/out
MODEL="$OUT/gpt2-small-random"
mkdir -p "$OUT"

[ -f lib/libfrozen.a ] || { echo "train_step: lib/libfrozen.a is missing; run make first" >&2; exit 1; }
# --wrap routes step.c's calls to the encoder, the projector and the LM through bench_train_step.c's timers.
WRAP=""
for f in frz_nfr_forward frz_nfr_backward frz_gpt2_train_forward frz_gpt2_train_backward frz_proj_forward \
         frz_proj_backward; do
    WRAP="$WRAP -Wl,--wrap=$f"
done
# shellcheck disable=SC2046,SC2086
$CC -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Iinclude -Isrc $(pkg-config --cflags openblas) \
    bench/bench_train_step.c -o "$OUT/bench_train_step" lib/libfrozen.a $WRAP \
    $(pkg-config --libs openblas libpcre2-8 jansson libpng16 libjpeg) -lm -lpthread -fopenmp
case " $CONFIGS " in
    *" a "* | *" b "*) [ -f "$MODEL/model.safetensors" ] || "$PYTHON" bench/make_gpt2_small.py "$MODEL" ;;
esac

config_args() { # config -> ARCH SIZE LM_DIR BATCH PREFIX TOKENS WIDTH
    case "$1" in
        a) echo "nf_resnet50 224 $MODEL 8 2 16 1" ;;
        b) echo "nf_resnet26 64 $MODEL 8 2 16 1" ;;
        d) echo "tiny 32 models/demo-lm 32 7 10 0.5" ;;
        *) echo "train_step: unknown configuration $1 (a, b or d)" >&2; exit 2 ;;
    esac
}
loadavg() { cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo "? ? ?"; }

run_side() { # round config side
    # shellcheck disable=SC2046
    set -- "$1" "$2" "$3" $(config_args "$2")
    f="$OUT/ts.$1.$2.$3.txt"
    # $4 ARCH, $5 SIZE, $6 LM_DIR, $7 BATCH, $8 PREFIX, $9 TOKENS, ${10} WIDTH
    if [ "$3" = libfrozen ]; then
        "$OUT/bench_train_step" "$6" "$4" "$5" "$7" "$8" "$9" "$THREADS" "$REPS" "${10}" >"$f"
    else
        "$PYTHON" bench/torch_train_step.py "$6" "$4" "$5" "$7" "$8" "$9" "$REPS" "${10}" >"$f"
    fi
    echo "load $(loadavg)" >>"$f"
}

LOAD0=$(loadavg)
echo "train_step: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE OMP_NUM_THREADS=$OMP_NUM_THREADS; medians of $REPS steps," \
    "best of $ROUNDS rounds; load average $LOAD0"
rm -f "$OUT"/ts.*.txt
round=1
while [ "$round" -le "$ROUNDS" ]; do
    if [ $((round % 2)) -eq 1 ]; then sides="libfrozen pytorch"; else sides="pytorch libfrozen"; fi
    for c in $CONFIGS; do
        for s in $sides; do
            echo "train_step: round $round, config $c ($(config_args "$c")), $s ..."
            run_side "$round" "$c" "$s"
        done
    done
    round=$((round + 1))
done
LOAD1=$(loadavg)

awk -v configs="$CONFIGS" -v rounds="$ROUNDS" -v out="$OUT" -v load0="$LOAD0" -v load1="$LOAD1" '
function readrun(file, r,    line, kv, rest) {
    delete r
    while ((getline line < file) > 0) {
        split(line, kv, " "); rest = line; sub(/^[^ ]+ /, "", rest); r[kv[1]] = rest
    }
    close(file)
}
BEGIN {
    nc = split(configs, cfg, " "); ns = split("libfrozen pytorch", side, " ")
    printf "\nruns (ms; step_cpu: process CPU time, all threads):\n"
    printf "  %-5s %-3s %-10s %9s %9s %8s %10s %9s %12s %9s %9s  %s\n", "round", "cfg", "side", "vision", "LM",
        "other", "proj+Adam", "step", "step_cpu", "images/s", "peak MB", "load after"
    for (c = 1; c <= nc; c++) for (r = 1; r <= rounds; r++) for (s = 1; s <= ns; s++) {
        readrun(out "/ts." r "." cfg[c] "." side[s] ".txt", run)
        if (!("step_ms" in run)) continue
        printf "  %-5d %-3s %-10s %9.1f %9.1f %8.1f %10.1f %9.1f %12.1f %9.3f %9.0f  %s\n", r, cfg[c], side[s],
            run["vision_ms"], run["lm_ms"], run["other_ms"], run["proj_adam_ms"], run["step_ms"],
            run["step_cpu_ms"], run["images_s"], run["peak_mb"], run["load"]
        k = cfg[c] SUBSEP side[s]
        if (!(k in best) || run["step_ms"] + 0 < best[k]) {
            best[k] = run["step_ms"] + 0
            for (f in run) B[k, f] = run[f]
        }
        if (side[s] == "libfrozen") core = run["blas_core"]; else tv = run["torch"]
    }
    printf "\nBLAS core %s, PyTorch %s; load average before %s, after %s\n\n", core, tv, load0, load1
    printf "%-36s %-10s %9s %9s %8s %10s %9s %9s %8s %9s %-8s %s\n", "config", "side", "vision ms", "LM ms",
        "other ms", "proj+Adam", "step ms", "images/s", "peak MB", "ratio", "target", "met?"
    for (c = 1; c <= nc; c++) {
        kf = cfg[c] SUBSEP "libfrozen"; kt = cfg[c] SUBSEP "pytorch"
        if (!(kf in best) || !(kt in best)) continue
        ratio = B[kt, "step_ms"] / B[kf, "step_ms"]
        for (s = 1; s <= ns; s++) {
            k = cfg[c] SUBSEP side[s]
            name = s == 1 ? cfg[c] ": " B[k, "config"] : ""
            sub(/ prefix.*/, "", name)
            printf "%-36s %-10s %9.1f %9.1f %8.1f %10.1f %9.1f %9.3f %8.0f", name, side[s], B[k, "vision_ms"],
                B[k, "lm_ms"], B[k, "other_ms"], B[k, "proj_adam_ms"], B[k, "step_ms"], B[k, "images_s"],
                B[k, "peak_mb"]
            if (s == 1) printf " %8.2fx %-8s %s\n", ratio, ">= 1.5x", (ratio >= 1.5) ? "yes" : "NO"
            else printf "\n"
        }
    }
    printf "\nratio: libfrozen images/s / PyTorch images/s (each side its fastest round). vision: encoder forward +\n"
    printf "backward; LM: frozen GPT-2 forward + backward to the prefix; other: step - vision - LM (projector,\n"
    printf "zeroing gradients, Adam); proj+Adam: the projector forward + backward and the optimizer step alone.\n"
    printf "peak MB: VmHWM over the steps (loading excluded, resident LM weights included).\n"
}' </dev/null
