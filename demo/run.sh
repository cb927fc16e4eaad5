#!/bin/sh
# demo/run.sh -- `make demo`: Frozen in miniature on the built-in world, end to end (docs/demo-run.md).
#
#   sh demo/run.sh [OUT=demo-out] [SEED=1] [QUICK=1] [LM=models/demo-lm] [THREADS=2] [VAR=value ...]
#
# 1 generate the world; 2 make sure the LM is there (pretrained by `make demo-lm` only if missing); 3-6 train
# Frozen, blind, finetuned and scratch on captions only; 7 the LM's text-only ceilings; 8-11 evaluate every run
# (held-out captioning, VQA 0/1/4-shot, binding 2/5-way x 1/3/5 inner shots with and without task induction,
# knowledge); 12 OUT/report.md. Every setting below can be given as VAR=value (arguments or environment).
# Stops at the first failure, naming the stage and the command. The same SEED (and THREADS) gives the same
# table: the world, the training runs and greedy evaluation are all deterministic.

set -u

for arg in "$@"; do
    case "$arg" in
    *=*)
        name=${arg%%=*}
        case "$name" in
        OUT | SEED | QUICK | LM | THREADS | BUILD | FROZEN | SCALE | STEPS | BATCH | VISION | WIDTH | IMAGE_SIZE | \
            PREFIX | LR | BETA2 | LR_DECAY | VAL_FRACTION | ANSWER_TOKENS | EVAL_LIMIT | CAPTION_LIMIT | PROBE_LIMIT | BUDGET | WORLD_TOOL)
            eval "$name=\${arg#*=}"
            ;;
        *) echo "demo: unknown setting '$name' (see the top of demo/run.sh)" >&2; exit 2 ;;
        esac
        ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: arguments are VAR=value settings, not '$arg'" >&2; exit 2 ;;
    esac
done

# ---- settings ------------------------------------------------------------------------------------------------
OUT=${OUT:-demo-out}
SEED=${SEED:-1}
QUICK=${QUICK:-0}
LM=${LM:-models/demo-lm}
THREADS=${THREADS:-2}
BUILD=${BUILD:-build}
FROZEN=${FROZEN:-bin/frozen}
BUDGET=${BUDGET:-600}            # seconds: the demo's promise on 2 cores
VISION=${VISION:-tiny}           # encoder: tiny NF-ResNet (2,1,1,2)
WIDTH=${WIDTH:-0.5}              # its channel width factor (0.25 sees colour but hardly shape)
IMAGE_SIZE=${IMAGE_SIZE:-32}     # images resized to 32 x 32
PREFIX=${PREFIX:-7}              # visual prefix tokens: a scene caption's length (the paper: 2; docs/demo-run.md)
LR=${LR:-2e-3}                   # Adam (the paper: 3e-4 over far more steps)
BETA2=${BETA2:-0.999}            # Adam's beta2 (the paper: 0.95); with lr 2e-3 the better captioner (docs/demo-run.md)
LR_DECAY=${LR_DECAY:-0}          # share of the steps that cools the lr down to 0 at the end (0: constant, the paper's;
                                 # 0.25 measured no reliably better: docs/demo-run.md)
VAL_FRACTION=${VAL_FRACTION:-0.02}
# Every answer in the world is one word that the demo LM's tokenizer holds as one token. The prompts put the next
# example right after a shot's answer, with no separator (as the paper's prompts do), so the LM has no reason to
# end an answer with a newline or <|endoftext|>: it goes on with the next example's text. One token is the answer.
ANSWER_TOKENS=${ANSWER_TOKENS:-1}
if [ "$QUICK" = 1 ]; then        # a smoke test: every stage, tiny counts
    SCALE=${SCALE:-small}; STEPS=${STEPS:-3}; BATCH=${BATCH:-4}
    EVAL_LIMIT=${EVAL_LIMIT:-3}; CAPTION_LIMIT=${CAPTION_LIMIT:-4}; PROBE_LIMIT=${PROBE_LIMIT:-20}
else
    # 1500 steps of 32 (1200 until the training step got 23 % faster: docs/demo-run.md, "1500 steps")
    SCALE=${SCALE:-full}; STEPS=${STEPS:-1500}; BATCH=${BATCH:-32}
    EVAL_LIMIT=${EVAL_LIMIT:-100}; CAPTION_LIMIT=${CAPTION_LIMIT:-200}; PROBE_LIMIT=${PROBE_LIMIT:-0}
fi
WORLD_TOOL=${WORLD_TOOL:-$BUILD/demo/frozen-demo-world}
PROBE_TOOL=$BUILD/demo/frozen-demo-textprobe
REPORT_TOOL=$BUILD/demo/frozen-demo-report
W=$OUT/world
RUNS="frozen blind finetuned scratch"
N_STAGES=12

# OpenBLAS 0.3.21 may not recognise this CPU and run a generic kernel (docs/performance.md): on AVX-512 CPUs the
# demo asks for the SkylakeX kernel unless the environment already chose one.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q avx512f /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=SkylakeX
fi

# ---- progress and failure ----------------------------------------------------------------------------------
T0=$(date +%s)
STAGE=0
STAGE_NAME=""
STAGE_T0=$T0

clock() { # seconds -> m:ss
    printf '%d:%02d' $(($1 / 60)) $(($1 % 60))
}

stage() {
    [ "$STAGE" -gt 0 ] && stage_done
    STAGE=$((STAGE + 1))
    STAGE_NAME=$1
    STAGE_T0=$(date +%s)
    printf '\n\033[1m[%d/%d] %s\033[0m  (%s elapsed)\n' "$STAGE" "$N_STAGES" "$STAGE_NAME" \
        "$(clock $((STAGE_T0 - T0)))" >&2
}

stage_done() {
    now=$(date +%s)
    printf '%s\t%d\n' "$STAGE_NAME" $((now - STAGE_T0)) >> "$OUT/timings.tsv"
    printf '[%d/%d] %s: done in %s\n' "$STAGE" "$N_STAGES" "$STAGE_NAME" "$(clock $((now - STAGE_T0)))" >&2
}

fail() {
    printf '\ndemo: FAILED at stage %d/%d (%s): %s\n' "$STAGE" "$N_STAGES" "$STAGE_NAME" "$1" >&2
    printf 'demo: what finished so far is in %s (log: %s/demo.log)\n' "$OUT" "$OUT" >&2
    exit 1
}

# Runs a command, shown first; its own progress goes to the terminal, its stdout to OUT/demo.log (run) or to a
# file (run_to FILE ...).
run_to() {
    dest=$1
    shift
    printf '  $ %s\n' "$*" >&2
    printf '$ %s\n' "$*" >> "$OUT/demo.log"
    "$@" >> "$dest"
    rc=$?
    [ $rc -eq 0 ] || fail "this command exited with status $rc (its messages are above):
  $*"
}

run() {
    run_to "$OUT/demo.log" "$@"
}

limit() { # --limit N, or nothing for 0
    [ "$1" -gt 0 ] && printf -- '--limit %s' "$1"
}

# ---- 0. what the demo needs --------------------------------------------------------------------------------
for tool in "$FROZEN" "$WORLD_TOOL" "$PROBE_TOOL" "$REPORT_TOOL"; do
    [ -x "$tool" ] || { echo "demo: $tool is missing: run 'make all demo-tools' (or 'make demo')" >&2; exit 1; }
done
mkdir -p "$OUT" || exit 1
: > "$OUT/timings.tsv"
: > "$OUT/demo.log"
cat > "$OUT/settings.txt" <<EOF
SEED=$SEED QUICK=$QUICK THREADS=$THREADS SCALE=$SCALE
LM=$LM
train: --vision $VISION --width $WIDTH --image-size $IMAGE_SIZE --prefix-tokens $PREFIX --batch $BATCH --steps $STEPS --lr $LR --beta2 $BETA2 --lr-decay $LR_DECAY --val-fraction $VAL_FRACTION
eval: --limit $EVAL_LIMIT (0: all) per task, answers of $ANSWER_TOKENS token(s); captions: $CAPTION_LIMIT held-out images; probes: $PROBE_LIMIT (0: all)
libfrozen $(git describe --always --dirty 2>/dev/null || echo '(no git)'), $(uname -m), $(date -u +%Y-%m-%d)
EOF

# ---- 1. world ----------------------------------------------------------------------------------------------
stage "generate the world (seed $SEED, $SCALE)"
rm -rf "$W"
run "$WORLD_TOOL" --out "$W" --seed "$SEED" --scale "$SCALE"

# ---- 2. the LM ---------------------------------------------------------------------------------------------
stage "language model ($LM)"
if [ -f "$LM/config.json" ]; then
    echo "  $LM is there (not retrained)" >&2
else
    echo "  $LM is missing: pretraining it (make demo-lm)" >&2
    run make --no-print-directory demo-lm
    [ -f "$LM/config.json" ] || fail "make demo-lm did not produce $LM/config.json"
fi

# ---- 3-6. training on captions only --------------------------------------------------------------------------
train() { # run-name [extra options]
    name=$1
    shift
    rm -rf "${OUT:?}/runs/$name"
    mkdir -p "$OUT/runs"
    run "$FROZEN" train --lm "$LM" --data "$W/captions_train.tsv" --out "$OUT/runs/$name" --vision "$VISION" \
        --width "$WIDTH" --image-size "$IMAGE_SIZE" --prefix-tokens "$PREFIX" --batch "$BATCH" --steps "$STEPS" \
        --lr "$LR" --beta2 "$BETA2" --lr-decay "$LR_DECAY" --val-fraction "$VAL_FRACTION" --seed "$SEED" --threads "$THREADS" "$@"
}

stage "train Frozen (LM frozen)"
train frozen
stage "train blind (black images: prefix tuning)"
train blind --blind
stage "train finetuned (LM trained too, lr 1e-5)"
train finetuned --finetune-lm
stage "train scratch (LM from random weights, trained with the rest)"
train scratch --scratch-lm

# ---- 7. text ceilings ----------------------------------------------------------------------------------------
stage "text-only ceilings (the LM with captions for images)"
# shellcheck disable=SC2046
run "$PROBE_TOOL" --lm "$LM" --probes "$W/text/probes.jsonl" --out "$OUT/eval/text/probes" --threads "$THREADS" \
    --max-tokens "$ANSWER_TOKENS" \
    $(limit "$PROBE_LIMIT")

# ---- 8-11. evaluation ------------------------------------------------------------------------------------------
mkdir -p "$OUT/eval"
head -n "$CAPTION_LIMIT" "$W/captions_val_heldout.tsv" > "$OUT/eval/captions_ref.tsv" || fail "no held-out captions"

evaluate() { # run-name
    name=$1
    model=$OUT/runs/$name
    E=$OUT/eval/$name
    lm=$LM
    case "$name" in finetuned | scratch) lm=$model/lm ;; esac
    blind=""
    [ "$name" = blind ] && blind=--blind
    rm -rf "$E"
    mkdir -p "$E/caption"
    echo "  captioning $(wc -l < "$OUT/eval/captions_ref.tsv") held-out scenes" >&2
    # shellcheck disable=SC2046
    run_to "$E/caption/captions.tsv" "$FROZEN" caption --lm "$lm" --model "$model" --threads "$THREADS" \
        $(awk -F '\t' -v d="$W" 'NF == 2 { print d "/" $1 }' "$OUT/eval/captions_ref.tsv")
    run "$REPORT_TOOL" score-captions --ref "$OUT/eval/captions_ref.tsv" --gen "$E/caption/captions.tsv" \
        --out "$E/caption" --setting "$name"
    # shellcheck disable=SC2046
    run "$FROZEN" eval vqa --lm "$lm" --model "$model" $blind --threads "$THREADS" --overwrite -n "$ANSWER_TOKENS" \
        --questions "$W/vqa/test_questions.json" --annotations "$W/vqa/test_annotations.json" \
        --images "$W/images/shapes" --support-questions "$W/vqa/support_questions.json" \
        --support-annotations "$W/vqa/support_annotations.json" --shots 0,1,4 --seed "$SEED" --task vqa \
        --out "$E/vqa" $(limit "$EVAL_LIMIT")
    for f in "$W"/binding/*.jsonl; do
        # shellcheck disable=SC2046
        run "$FROZEN" eval binding --lm "$lm" --model "$model" $blind --threads "$THREADS" --overwrite -n "$ANSWER_TOKENS" \
            --episodes "$f" --task-induction both --out "$E/$(basename "$f" .jsonl)" $(limit "$EVAL_LIMIT")
    done
    # shellcheck disable=SC2046
    run "$FROZEN" eval vqa --lm "$lm" --model "$model" $blind --threads "$THREADS" --overwrite -n "$ANSWER_TOKENS" \
        --questions "$W/knowledge/questions.json" --annotations "$W/knowledge/annotations.json" \
        --images "$W/images/fashion" --shots 0 --seed "$SEED" --task knowledge --out "$E/knowledge" \
        $(limit "$EVAL_LIMIT")
}

for name in $RUNS; do
    stage "evaluate $name"
    if [ -f "$OUT/runs/$name/projector.safetensors" ]; then evaluate "$name"; else
        echo "  demo: $name was not trained: its column stays empty" >&2; fi
done

# ---- 12. report ----------------------------------------------------------------------------------------------
stage "report"   # (its own time is not in timings.tsv, which it reads)
"$REPORT_TOOL" --out "$OUT" --targets "$(dirname "$0")/targets.txt" > "$OUT/table.md" || fail "frozen-demo-report failed"
cat "$OUT/table.md"
total=$(($(date +%s) - T0))
printf '\ndemo: finished in %s' "$(clock $total)"
if [ $total -le "$BUDGET" ]; then
    printf ' (within the %s budget; %s to spare)\n' "$(clock "$BUDGET")" "$(clock $((BUDGET - total)))"
else
    printf ' (OVER the %s budget by %s)\n' "$(clock "$BUDGET")" "$(clock $((total - BUDGET)))"
fi
printf 'demo: the report is %s/report.md (plots in %s/plots/)\n' "$OUT" "$OUT"
