#!/bin/sh
# demo/make_lm.sh -- `make demo-lm`: the demo's language model, made by libfrozen itself. This file is the exact
# recipe of the shipped models/demo-lm (its config.json, model.safetensors, vocab.json, merges.txt; metrics.csv
# and loss.png beside them): a world corpus (seed 1), then `frozen pretrain`, which first learns a byte-level BPE
# tokenizer of 4096 entries from it (the files `frozen tokenizer-train` writes) and then pretrains GPT-2 from
# random weights. Same machine type, same result (the runs are deterministic for a thread count).
#
#   sh demo/make_lm.sh [OUT=models/demo-lm] [THREADS=2] [BUILD=build]
# About 9-12 minutes on 2 cores with OPENBLAS_CORETYPE=SkylakeX (set here when the CPU has AVX-512).
set -eu
OUT=models/demo-lm THREADS=2 BUILD=build
for arg in "$@"; do
    case "$arg" in
    OUT=* | THREADS=* | BUILD=*) eval "${arg%%=*}=\${arg#*=}" ;;
    *) echo "demo/make_lm.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q avx512f /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
WORK=$BUILD/demo-lm-world
rm -rf "$WORK"
set -x
"$BUILD/demo/frozen-demo-world" --out "$WORK" --seed 1 --scale full --corpus 200000 \
    --mix caption=0.05,qa=0.25,fewshot=0.15,binding=0.30,fact=0.05,knowledge=0.10,repeat=0.10 --easy-fraction 0.3
bin/frozen pretrain --data "$WORK/lm/corpus.txt" --vocab-size 4096 --out "$OUT" --layers 4 --heads 4 --width 128 \
    --context 512 --steps 6000 --batch 32 --lr 1e-3 --warmup 100 --tab-segments --no-shuffle --val-fraction 0.002 \
    --val-every 500 --seed 1 --threads "$THREADS"
