#!/bin/sh
# cli_test.sh -- tests of the `frozen` command-line tool against the committed fixture model.
# Run from the repository root after `make`:  sh tests/cli_test.sh
# FROZEN (default bin/frozen) and FRZ_CLI_MODEL (default tests/fixtures/models/gpt2-f32) may be overridden.
# Ends with "cli: N passed, N failed" and exits non-zero on any failure.

FROZEN=${FROZEN:-bin/frozen}
MODEL=${FRZ_CLI_MODEL:-tests/fixtures/models/gpt2-f32}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/frozen-cli.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "$2" ] && printf '     %s\n' "$2"; }

if [ ! -x "$FROZEN" ] || [ ! -d "$MODEL" ]; then
    echo "cli_test: need $FROZEN (run make) and the model folder $MODEL"
    echo "cli: 0 passed, 1 failed"
    exit 1
fi

# Runs the tool with its stdout, stderr and exit status in $TMP/out, $TMP/err, $rc.
run() {
    "$FROZEN" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
}

# ---- tokenize / detokenize ----------------------------------------------------------------------------------
# A Unicode string (Latin accents, CJK, an emoji, a newline): decoding its ids gives back the same bytes.
printf 'Grüße, 世界! naïve café 🙂\nsecond line' >"$TMP/text"
text=$(cat "$TMP/text")
run tokenize --lm "$MODEL" "$text"
ids=$(cat "$TMP/out")
if [ $rc -eq 0 ] && [ -n "$ids" ] && printf '%s\n' "$ids" | grep -Eq '^[0-9]+( [0-9]+)*$'; then
    ok "tokenize prints ids on one line"
else
    fail "tokenize prints ids on one line" "rc=$rc out='$ids' err=$(cat "$TMP/err")"
fi
# shellcheck disable=SC2086 # the ids are words
run detokenize --lm "$MODEL" $ids
if [ $rc -eq 0 ] && cmp -s "$TMP/out" "$TMP/text"; then
    ok "detokenize(tokenize(unicode)) gives the same bytes"
else
    fail "detokenize(tokenize(unicode)) gives the same bytes" "rc=$rc got '$(cat "$TMP/out")'"
fi
# The same through stdin on both sides.
"$FROZEN" tokenize --lm "$MODEL" - <"$TMP/text" | "$FROZEN" detokenize --lm "$MODEL" - >"$TMP/out2" 2>"$TMP/err"
if cmp -s "$TMP/out2" "$TMP/text"; then
    ok "tokenize - | detokenize - round trip through stdin"
else
    fail "tokenize - | detokenize - round trip through stdin" "got '$(cat "$TMP/out2")' $(cat "$TMP/err")"
fi
# Special tokens: ordinary text by default, one token with --special.
run tokenize --lm "$MODEL" --special "<|endoftext|>"
special=$(cat "$TMP/out")
run tokenize --lm "$MODEL" "<|endoftext|>"
plain=$(cat "$TMP/out")
if [ -n "$special" ] && [ "$(echo "$special" | wc -w)" -eq 1 ] && [ "$(echo "$plain" | wc -w)" -gt 1 ]; then
    ok "--special parses <|endoftext|> as one token, plain text does not"
else
    fail "--special parses <|endoftext|> as one token, plain text does not" "special='$special' plain='$plain'"
fi
run detokenize --lm "$MODEL" 99999999
if [ $rc -eq 1 ] && grep -q '^frozen: ' "$TMP/err"; then
    ok "detokenize of an out-of-range id fails with exit 1"
else
    fail "detokenize of an out-of-range id fails with exit 1" "rc=$rc err=$(cat "$TMP/err")"
fi

# ---- generate -------------------------------------------------------------------------------------------------
run generate --lm "$MODEL" --prompt "Hello, my dog" --greedy --ids --max-tokens 5
g1=$(cat "$TMP/out"); rc1=$rc
run generate --lm "$MODEL" --prompt "Hello, my dog" --greedy --ids --max-tokens 5
g2=$(cat "$TMP/out")
n1=$(echo "$g1" | wc -w)
if [ $rc1 -eq 0 ] && [ -n "$g1" ] && [ "$g1" = "$g2" ]; then
    ok "generate --greedy --ids is deterministic"
else
    fail "generate --greedy --ids is deterministic" "rc=$rc1 '$g1' vs '$g2'"
fi
if [ "$n1" -ge 1 ] && [ "$n1" -le 5 ]; then
    ok "generate --max-tokens 5 gives at most 5 tokens"
else
    fail "generate --max-tokens 5 gives at most 5 tokens" "got $n1: '$g1'"
fi
run generate --lm "$MODEL" --prompt "Hello, my dog" --ids --max-tokens 3
g3=$(cat "$TMP/out")
case "$g1 " in
"$g3 "*) ok "greedy is the default; 3 tokens are a prefix of 5" ;;
*) fail "greedy is the default; 3 tokens are a prefix of 5" "'$g3' vs '$g1'" ;;
esac
# The printed text is the decoding of the generated ids.
run generate --lm "$MODEL" --prompt "Hello, my dog" --max-tokens 5
cp "$TMP/out" "$TMP/gen_text"
# shellcheck disable=SC2086
"$FROZEN" detokenize --lm "$MODEL" $g1 >"$TMP/gen_ids_text" 2>/dev/null
if [ $rc -eq 0 ] && cmp -s "$TMP/gen_text" "$TMP/gen_ids_text"; then
    ok "generate prints the text of the ids it generates"
else
    fail "generate prints the text of the ids it generates" "'$(cat "$TMP/gen_text")' vs '$(cat "$TMP/gen_ids_text")'"
fi
run generate --lm "$MODEL" --prompt "" --ids --max-tokens 2
if [ $rc -eq 0 ] && [ -n "$(cat "$TMP/out")" ]; then
    ok "generate from an empty prompt starts from <|endoftext|>"
else
    fail "generate from an empty prompt starts from <|endoftext|>" "rc=$rc err=$(cat "$TMP/err")"
fi
# A stop string taken from the greedy text itself: the output must end before it, be a prefix of the unstopped
# text, never contain it (streaming must not print what it takes back) and match the decoded --ids output.
run generate --lm "$MODEL" --prompt "Hello, my dog" --max-tokens 12 --ids
g12=$(cat "$TMP/out")
"$FROZEN" generate --lm "$MODEL" --prompt "Hello, my dog" --max-tokens 12 >"$TMP/full" 2>/dev/null
# Prefer a token of printable ASCII (a lone UTF-8 lead byte would be held back by the UTF-8 rule anyway).
stop=""
for pattern in '^[!-~][ -~]*$' '^ *[!-~]'; do
    for k in 6 5 7 4 8 3 9 2; do
        id=$(echo "$g12" | cut -d ' ' -f "$k")
        [ -n "$id" ] || continue
        cand=$("$FROZEN" detokenize --lm "$MODEL" "$id" 2>/dev/null)
        if [ -n "$cand" ] && [ "$(printf '%s\n' "$cand" | wc -l)" -eq 1 ] &&
            printf '%s\n' "$cand" | LC_ALL=C grep -q -e "$pattern"; then
            stop=$cand
            break 2
        fi
    done
done
if [ -z "$stop" ]; then
    fail "generate --stop" "no usable stop string in the greedy text '$g12'"
else
    "$FROZEN" generate --lm "$MODEL" --prompt "Hello, my dog" --max-tokens 12 --stop "$stop" >"$TMP/stopped" 2>"$TMP/err"
    rc=$?
    ids_s=$("$FROZEN" generate --lm "$MODEL" --prompt "Hello, my dog" --max-tokens 12 --stop "$stop" --ids)
    : >"$TMP/stopped_ids"
    # shellcheck disable=SC2086
    [ -z "$ids_s" ] || "$FROZEN" detokenize --lm "$MODEL" $ids_s >"$TMP/stopped_ids"
    n_stopped=$(wc -c <"$TMP/stopped")
    if [ $rc -eq 0 ] && cmp -s "$TMP/stopped" "$TMP/stopped_ids" && cmp -s -n "$n_stopped" "$TMP/stopped" "$TMP/full" &&
        [ "$n_stopped" -lt "$(wc -c <"$TMP/full")" ] && ! LC_ALL=C grep -F -q -e "$stop" "$TMP/stopped"; then
        ok "generate --stop ends the text before the stop string, streamed and as ids alike"
    else
        fail "generate --stop ends the text before the stop string, streamed and as ids alike" \
            "rc=$rc stop='$stop' stopped='$(cat "$TMP/stopped")' full='$(cat "$TMP/full")' ids='$ids_s'"
    fi
fi
sample() {
    run generate --lm "$MODEL" --prompt "Once upon a time" --ids --max-tokens 8 \
        --temperature 1.5 --top-k 40 --top-p 0.95 --seed "$1"
}
sample 1234; s1=$(cat "$TMP/out"); rc1=$rc
sample 1234; s2=$(cat "$TMP/out")
if [ $rc1 -eq 0 ] && [ -n "$s1" ] && [ "$s1" = "$s2" ]; then
    ok "sampling with the same --seed twice gives the same tokens"
else
    fail "sampling with the same --seed twice gives the same tokens" "rc=$rc1 '$s1' vs '$s2'"
fi

# ---- score ------------------------------------------------------------------------------------------------------
run score --lm "$MODEL" --context "The cat sat on" --continuation " the mat, \"quietly\"."
if [ $rc -eq 0 ] && awk -F '\t' '
    NR == 1 { total = $1; next }
    NF != 3 || $2 !~ /^".*"$/ || $3 > 0 { bad = 1 }
    { sum += $3; n++ }
    END {
        d = total - sum; if (d < 0) d = -d
        exit !(n >= 2 && !bad && total < 0 && d <= 1e-5 * (n + 1))
    }' "$TMP/out"; then
    ok "score: first line is the sum of the per-token log-probabilities"
else
    fail "score: first line is the sum of the per-token log-probabilities" "rc=$rc $(cat "$TMP/out" "$TMP/err")"
fi
run score --lm "$MODEL" --context "" --continuation "Hello"
if [ $rc -eq 0 ] && [ "$(wc -l <"$TMP/out")" -ge 2 ]; then
    ok "score with an empty context starts from <|endoftext|>"
else
    fail "score with an empty context starts from <|endoftext|>" "rc=$rc $(cat "$TMP/err")"
fi

# ---- command-line errors: exit 2 with a usage message ------------------------------------------------------------
expect_usage() {
    label=$1
    shift
    run "$@"
    if [ $rc -eq 2 ] && grep -q 'usage: frozen' "$TMP/err"; then
        ok "usage error: $label"
    else
        fail "usage error: $label" "rc=$rc err=$(head -n 2 "$TMP/err")"
    fi
}
expect_usage "no command"
expect_usage "unknown command" frobnicate
expect_usage "unknown option" tokenize --lm "$MODEL" --bogus "x"
expect_usage "missing value" generate --lm "$MODEL" --prompt
expect_usage "missing --lm" tokenize "x"
expect_usage "non-numeric --max-tokens" generate --lm "$MODEL" --prompt x --max-tokens 12x
expect_usage "negative --max-tokens" generate --lm "$MODEL" --prompt x --max-tokens -1
expect_usage "--top-p out of range" generate --lm "$MODEL" --prompt x --top-p 1.5
expect_usage "--greedy with --temperature" generate --lm "$MODEL" --prompt x --greedy --temperature 0.7
expect_usage "non-numeric id" detokenize --lm "$MODEL" 12 abc
expect_usage "score without --continuation" score --lm "$MODEL" --context x
run generate --help
if [ $rc -eq 0 ] && grep -q -- '--max-tokens' "$TMP/out"; then
    ok "generate --help prints the options and exits 0"
else
    fail "generate --help prints the options and exits 0" "rc=$rc"
fi

# ---- a missing model folder: exit 1, the path in the message --------------------------------------------------
missing="$TMP/no-such-model"
run tokenize --lm "$missing" "x"
if [ $rc -eq 1 ] && grep -q "^frozen: .*$missing" "$TMP/err"; then
    ok "a missing model folder exits 1 naming the path"
else
    fail "a missing model folder exits 1 naming the path" "rc=$rc err=$(cat "$TMP/err")"
fi

# ---- info --------------------------------------------------------------------------------------------------------
run info
core=$(sed -n 's/^blas core: //p' "$TMP/out")
if [ $rc -eq 0 ] && [ -n "$core" ] && grep -q '^frozen [0-9]' "$TMP/out" && grep -q '^threads available: [1-9]' "$TMP/out"; then
    ok "info prints the version, the BLAS core ($core) and the threads"
else
    fail "info prints the version, the BLAS core and the threads" "rc=$rc $(cat "$TMP/out")"
fi
# OpenBLAS takes the core from OPENBLAS_CORETYPE; info must report the core actually chosen.
if grep -q '^flags.* avx2' /proc/cpuinfo 2>/dev/null; then
    OPENBLAS_CORETYPE=Haswell "$FROZEN" info >"$TMP/out" 2>"$TMP/err"
    if grep -q '^blas core: Haswell$' "$TMP/out"; then
        ok "info reports the core chosen by OPENBLAS_CORETYPE=Haswell"
    else
        fail "info reports the core chosen by OPENBLAS_CORETYPE=Haswell" "$(cat "$TMP/out")"
    fi
fi

# ---- train and caption: a tiny encoder through the fixture LM --------------------------------------------------
# Three steps on four fixture images, checkpointed; then --resume one more step, then caption an image.
IMG=tests/fixtures/images
printf '%s\tthe red one\n%s\tthe gray one\n%s\tthe blue one\n%s\ta photo\n' \
    "$PWD/$IMG/jpeg_baseline420.jpg" "$PWD/$IMG/jpeg_gray.jpg" "$PWD/$IMG/png_adam7_rgb8.png" \
    "$PWD/$IMG/photo_640x480.jpg" >"$TMP/captions.tsv"
TRAIN_OPTS="--vision tiny --width 0.0625 --image-size 32 --batch 2 --val-fraction 0 --seed 3 --threads 1"
# shellcheck disable=SC2086 # the options are words
run train --lm "$MODEL" --data "$TMP/captions.tsv" --out "$TMP/run" $TRAIN_OPTS --steps 3
if [ $rc -eq 0 ] && [ -f "$TMP/run/vision.safetensors" ] && [ -f "$TMP/run/projector.safetensors" ] \
    && [ -f "$TMP/run/checkpoint.safetensors" ] && [ -f "$TMP/run/loss.png" ] \
    && [ "$(grep -c '^[0-9]' "$TMP/run/metrics.csv")" -eq 3 ]; then
    ok "train writes the model, the checkpoint, metrics.csv (3 steps) and loss.png"
else
    fail "train writes the model, the checkpoint, metrics.csv and loss.png" "rc=$rc err=$(tail -n 3 "$TMP/err")"
fi
# shellcheck disable=SC2086
run train --lm "$MODEL" --data "$TMP/captions.tsv" --out "$TMP/run" $TRAIN_OPTS --steps 4 --resume
if [ $rc -eq 0 ] && [ "$(grep -c '^[0-9]' "$TMP/run/metrics.csv")" -eq 4 ]; then
    ok "train --resume continues the run (4 steps in metrics.csv)"
else
    fail "train --resume continues the run" "rc=$rc err=$(tail -n 3 "$TMP/err") $(cat "$TMP/run/metrics.csv")"
fi
run caption --lm "$MODEL" --model "$TMP/run" "$IMG/jpeg_gray.jpg" "$TMP/no-such-image.png"
if [ $rc -eq 1 ] && grep -q "^$IMG/jpeg_gray.jpg	" "$TMP/out" && grep -q "no-such-image.png" "$TMP/err"; then
    ok "caption prints IMAGE<TAB>caption and names an unreadable image (exit 1)"
else
    fail "caption prints IMAGE<TAB>caption and names an unreadable image" "rc=$rc out=$(cat "$TMP/out") err=$(cat "$TMP/err")"
fi
run train --lm "$MODEL" --data "$TMP/no-such.tsv" --out "$TMP/run2" --steps 1
if [ $rc -eq 1 ] && grep -q "no-such.tsv" "$TMP/err"; then
    ok "train with a missing data file exits 1 naming it"
else
    fail "train with a missing data file exits 1 naming it" "rc=$rc err=$(cat "$TMP/err")"
fi

# ---- tokenizer-train ---------------------------------------------------------------------------------------------
# A corpus of 40 samples, each followed by three newlines (GPT-2's pattern makes that "\n\n" + "\n", a word of
# two newlines, unless --tab-segments drops line ends): the files appear, merges.txt has vocab-size - 257
# merges after its version line, and the thread count does not change the files.
i=0
: >"$TMP/corpus.txt"
while [ $i -lt 40 ]; do
    printf 'a small red circle on the left\tQuestion: What colour is the shape? Answer: red %d\n\n\n' $i >>"$TMP/corpus.txt"
    i=$((i + 1))
done
run tokenizer-train --data "$TMP/corpus.txt" --out "$TMP/tok1" --vocab-size 300 --threads 1
if [ $rc -eq 0 ] && grep -q "^vocab 300 tokens, 43 merges" "$TMP/out" && [ "$(head -n 1 "$TMP/tok1/merges.txt")" = "#version: 0.2" ] \
    && [ "$(wc -l <"$TMP/tok1/merges.txt")" -eq 44 ] && grep -q '"<|endoftext|>": 299}$' "$TMP/tok1/vocab.json"; then
    ok "tokenizer-train writes vocab.json (300 ids, <|endoftext|> last) and merges.txt (43 merges)"
else
    fail "tokenizer-train writes vocab.json and merges.txt" "rc=$rc out=$(cat "$TMP/out") err=$(cat "$TMP/err")"
fi
run tokenizer-train --data "$TMP/corpus.txt" --out "$TMP/tok2" --vocab-size 300 --threads 2 --tab-segments
run tokenizer-train --data "$TMP/corpus.txt" --out "$TMP/tok3" --vocab-size 300 --threads 1 --tab-segments
if [ $rc -eq 0 ] && cmp -s "$TMP/tok2/merges.txt" "$TMP/tok3/merges.txt" && cmp -s "$TMP/tok2/vocab.json" "$TMP/tok3/vocab.json" \
    && ! cmp -s "$TMP/tok1/merges.txt" "$TMP/tok3/merges.txt"; then
    ok "tokenizer-train: the same files with 1 or 2 threads; --tab-segments changes them"
else
    fail "tokenizer-train: the same files with 1 or 2 threads" "rc=$rc err=$(cat "$TMP/err")"
fi
printf '\t\n\t\t\n' >"$TMP/seps.txt"
run tokenizer-train --data "$TMP/seps.txt" --out "$TMP/tok4" --vocab-size 300 --tab-segments
if [ $rc -eq 1 ] && grep -q "$TMP/seps.txt: the corpus is empty" "$TMP/err" && [ ! -e "$TMP/tok4" ]; then
    ok "tokenizer-train --tab-segments on separators only exits 1 (empty) and writes nothing"
else
    fail "tokenizer-train --tab-segments on separators only exits 1" "rc=$rc err=$(cat "$TMP/err")"
fi
run tokenizer-train --data "$TMP/seps.txt" --out "$TMP/tok4" --vocab-size 300
if [ $rc -eq 0 ] && [ -f "$TMP/tok4/vocab.json" ]; then
    ok "tokenizer-train without --tab-segments takes TABs and newlines as text"
else
    fail "tokenizer-train without --tab-segments takes TABs and newlines as text" "rc=$rc err=$(cat "$TMP/err")"
fi
run tokenizer-train --data "$TMP/no-such-corpus.txt" --out "$TMP/tok5" --vocab-size 300
if [ $rc -eq 1 ] && grep -q "no-such-corpus.txt" "$TMP/err"; then
    ok "tokenizer-train with a missing corpus exits 1 naming it"
else
    fail "tokenizer-train with a missing corpus exits 1 naming it" "rc=$rc err=$(cat "$TMP/err")"
fi
expect_usage "tokenizer-train without --vocab-size" tokenizer-train --data "$TMP/corpus.txt" --out "$TMP/tok6"
expect_usage "tokenizer-train --vocab-size 256" tokenizer-train --data "$TMP/corpus.txt" --out "$TMP/tok6" --vocab-size 256
expect_usage "tokenizer-train --min-frequency 0" tokenizer-train --data "$TMP/corpus.txt" --out "$TMP/tok6" \
    --vocab-size 300 --min-frequency 0
expect_usage "tokenizer-train without --out" tokenizer-train --data "$TMP/corpus.txt" --vocab-size 300

# ---- pretrain and the LM baselines of train ------------------------------------------------------------------------
i=0
while [ $i -lt 40 ]; do
    printf 'a red circle\tQuestion: What colour is it? Answer: red\na blue star\tQuestion: What colour is it? Answer: blue\n'
    i=$((i + 1))
done > "$TMP/corpus.txt"
run pretrain --data "$TMP/corpus.txt" --tokenizer "$MODEL" --out "$TMP/lm" --layers 1 --width 16 --heads 2 \
    --context 32 --steps 6 --batch 4 --warmup 2 --tab-segments --threads 1 --seed 3
if [ $rc -eq 0 ] && [ -f "$TMP/lm/config.json" ] && [ -f "$TMP/lm/model.safetensors" ] && [ -f "$TMP/lm/vocab.json" ] \
    && [ -f "$TMP/lm/merges.txt" ] && [ -f "$TMP/lm/loss.png" ] \
    && head -n 1 "$TMP/lm/metrics.csv" | grep -q '^step,epoch,loss,val_ppl,tokens_per_s,lr$' \
    && [ "$(grep -c '^[0-9]' "$TMP/lm/metrics.csv")" -eq 6 ] && grep -q '^steps 6, loss' "$TMP/out"; then
    ok "pretrain writes a model folder, metrics.csv (6 steps) and loss.png"
else
    fail "pretrain writes a model folder, metrics.csv and loss.png" "rc=$rc err=$(tail -n 3 "$TMP/err")"
fi
run generate --lm "$TMP/lm" --prompt "a red circle" --greedy --ids --max-tokens 2
if [ $rc -eq 0 ]; then ok "the pretrained folder loads as --lm"; else fail "the pretrained folder loads as --lm" "$(cat "$TMP/err")"; fi
run pretrain --data "$TMP/corpus.txt" --init "$TMP/lm" --out "$TMP/lm2" --steps 2 --batch 4 --threads 1
if [ $rc -eq 0 ] && grep -q '"n_embd": 16' "$TMP/lm2/config.json"; then
    ok "pretrain --init continues an existing model"
else
    fail "pretrain --init continues an existing model" "rc=$rc err=$(tail -n 3 "$TMP/err")"
fi
# --vocab-size: the tokenizer tokenizer-train learns from the same corpus, then a model of that vocabulary
run tokenizer-train --data "$TMP/corpus.txt" --out "$TMP/tok-ref" --vocab-size 280 --tab-segments --threads 1
run pretrain --data "$TMP/corpus.txt" --vocab-size 280 --out "$TMP/lm-v" --layers 1 --width 16 --heads 2 \
    --context 32 --steps 2 --batch 4 --tab-segments --threads 1
if [ $rc -eq 0 ] && cmp -s "$TMP/lm-v/vocab.json" "$TMP/tok-ref/vocab.json" \
    && cmp -s "$TMP/lm-v/merges.txt" "$TMP/tok-ref/merges.txt" && grep -q '"vocab_size": 280' "$TMP/lm-v/config.json" \
    && grep -q "tokenizer of 280 tokens" "$TMP/err"; then
    ok "pretrain --vocab-size learns the corpus's tokenizer (as tokenizer-train) and a model of that vocabulary"
else
    fail "pretrain --vocab-size learns the corpus's tokenizer" "rc=$rc err=$(tail -n 3 "$TMP/err")"
fi
run tokenize --lm "$TMP/lm-v" "a blue star"
if [ $rc -eq 0 ] && [ -s "$TMP/out" ] && tr ' ' '\n' < "$TMP/out" | awk 'NF && ($1 < 0 || $1 >= 280) { bad = 1 } END { exit bad }'; then
    ok "the --vocab-size model loads as --lm and tokenizes within its 280 entries"
else
    fail "the --vocab-size model loads as --lm and tokenizes within its 280 entries" "rc=$rc $(cat "$TMP/out" "$TMP/err")"
fi
expect_usage "pretrain --vocab-size with --tokenizer" pretrain --data "$TMP/corpus.txt" --vocab-size 280 \
    --tokenizer "$MODEL" --out "$TMP/lm3"
expect_usage "pretrain --vocab-size with --init" pretrain --data "$TMP/corpus.txt" --vocab-size 280 --init "$TMP/lm" \
    --out "$TMP/lm3"
expect_usage "pretrain --vocab-size 256" pretrain --data "$TMP/corpus.txt" --vocab-size 256 --out "$TMP/lm3"
expect_usage "pretrain --min-frequency without --vocab-size" pretrain --data "$TMP/corpus.txt" --tokenizer "$MODEL" \
    --min-frequency 3 --out "$TMP/lm3"
expect_usage "pretrain --resume with --init" pretrain --data "$TMP/corpus.txt" --resume --init "$TMP/lm" --out "$TMP/lm"
run pretrain --data "$TMP/corpus.txt" --vocab-size 280 --out "$TMP/lm-u" --layers 1 --width 16 --heads 2 \
    --context 32 --steps 2 --batch 4 --tab-segments --threads 1 --untied-head
if [ $rc -eq 0 ] && grep -q '"tie_word_embeddings": false' "$TMP/lm-u/config.json" \
    && grep -q 'lm_head.weight' "$TMP/lm-u/model.safetensors" && grep -q '"tie_word_embeddings": true' "$TMP/lm-v/config.json"; then
    ok "pretrain --untied-head gives the new model a head of its own (lm_head.weight, tie_word_embeddings false)"
else
    fail "pretrain --untied-head gives the new model a head of its own" "rc=$rc err=$(tail -n 3 "$TMP/err")"
fi
expect_usage "pretrain --untied-head with --init" pretrain --data "$TMP/corpus.txt" --untied-head --init "$TMP/lm" \
    --out "$TMP/lm3"
# a finished run keeps no checkpoint: --resume names the missing file (the library tests resume an interrupted run)
run pretrain --data "$TMP/corpus.txt" --resume --out "$TMP/lm" --context 32 --steps 6 --batch 4 --warmup 2 \
    --tab-segments --threads 1 --seed 3
if [ $rc -eq 1 ] && [ ! -f "$TMP/lm/pretrain-checkpoint.safetensors" ] \
    && grep -q "lm/pretrain-checkpoint.safetensors: no pretraining checkpoint" "$TMP/err"; then
    ok "pretrain --resume after a finished run names the missing checkpoint (exit 1)"
else
    fail "pretrain --resume after a finished run names the missing checkpoint" "rc=$rc err=$(cat "$TMP/err")"
fi
printf 'fine\n\nbad \377 byte\n' > "$TMP/bad-corpus.txt"
run pretrain --data "$TMP/bad-corpus.txt" --tokenizer "$MODEL" --out "$TMP/lm3" --steps 1 --width 16 --heads 2 --layers 1
if [ $rc -eq 1 ] && grep -q "bad-corpus.txt:3: invalid UTF-8" "$TMP/err"; then
    ok "pretrain names the corpus line that is not UTF-8 (exit 1)"
else
    fail "pretrain names the corpus line that is not UTF-8" "rc=$rc err=$(cat "$TMP/err")"
fi
printf '\n   \n' > "$TMP/empty-corpus.txt"
run pretrain --data "$TMP/empty-corpus.txt" --tokenizer "$MODEL" --out "$TMP/lm3" --steps 1 --width 16 --heads 2 --layers 1
if [ $rc -eq 1 ] && grep -q "empty-corpus.txt: no samples" "$TMP/err"; then
    ok "pretrain refuses an empty corpus, naming it (exit 1)"
else
    fail "pretrain refuses an empty corpus" "rc=$rc err=$(cat "$TMP/err")"
fi
run pretrain --data "$TMP/corpus.txt" --tokenizer "$MODEL" --out "$TMP/corpus.txt/sub" --steps 1 --width 16 --heads 2 --layers 1
if [ $rc -eq 1 ] && grep -q "corpus.txt/sub" "$TMP/err"; then
    ok "pretrain names an output folder it cannot create (exit 1)"
else
    fail "pretrain names an output folder it cannot create" "rc=$rc err=$(cat "$TMP/err")"
fi
run pretrain --data "$TMP/corpus.txt" --init "$TMP/lm" --tokenizer "$MODEL" --out "$TMP/lm3"
if [ $rc -eq 2 ] && grep -q "init" "$TMP/err"; then ok "pretrain --init with --tokenizer is a usage error"; else fail "pretrain --init with --tokenizer is a usage error" "rc=$rc"; fi
# shellcheck disable=SC2086
run train --lm "$MODEL" --data "$TMP/captions.tsv" --out "$TMP/run-ft" $TRAIN_OPTS --steps 2 --finetune-lm --lm-lr 1e-3
if [ $rc -eq 0 ] && [ -f "$TMP/run-ft/lm/model.safetensors" ] && [ -f "$TMP/run-ft/lm/config.json" ] \
    && ! cmp -s "$TMP/run-ft/lm/model.safetensors" "$MODEL/model.safetensors"; then
    ok "train --finetune-lm saves the trained LM as RUNDIR/lm/"
else
    fail "train --finetune-lm saves the trained LM as RUNDIR/lm/" "rc=$rc err=$(tail -n 3 "$TMP/err")"
fi
# shellcheck disable=SC2086
run train --lm "$MODEL" --data "$TMP/captions.tsv" --out "$TMP/run-x" $TRAIN_OPTS --steps 1 --finetune-lm --scratch-lm
if [ $rc -eq 2 ]; then ok "train --finetune-lm with --scratch-lm is a usage error"; else fail "train --finetune-lm --scratch-lm" "rc=$rc"; fi

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
