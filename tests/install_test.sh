#!/bin/sh
# install_test.sh -- the installed package, as a user sees it. From the repository root after `make`:
#   sh tests/install_test.sh
# `make install PREFIX=/usr DESTDIR=<tmp>`, then: the installed tree (header, the .so with its soname and
# links, the archive, frozen.pc, the CLI, the man page); the C examples of examples/c built with nothing but
# `pkg-config --cflags --libs frozen` pointed at the staged tree and run against the fixture models with
# LD_LIBRARY_PATH at the installed library, their outputs compared with the installed `frozen` tool's; a static
# link from `pkg-config --static`; and the run-time header/library version check. Ends with
# "install: N passed, M failed" and exits non-zero on any failure.
MAKE=${MAKE:-make}
CC=${CC:-cc}
LM=tests/fixtures/models/gpt2-f32
IMG=$PWD/tests/fixtures/images
TMP=$(mktemp -d "${TMPDIR:-/tmp}/frozen-install.XXXXXX") || exit 1
trap '[ -n "$KEEP" ] || rm -rf "$TMP"' EXIT INT TERM
ROOT=$TMP/root
LIB=$ROOT/usr/lib
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "$2" ] && printf '     %s\n' "$2"; }
finish() { echo "install: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

if ! $MAKE --no-print-directory install PREFIX=/usr DESTDIR="$ROOT" >"$TMP/make.log" 2>&1; then
    fail "make install PREFIX=/usr DESTDIR=..." "$(tail -n 5 "$TMP/make.log")"
    finish
fi
ok "make install PREFIX=/usr DESTDIR=..."
major=$(sed -n 's/^#define FRZ_VERSION_MAJOR \([0-9]*\).*/\1/p' include/frozen.h)
version=$(sed -n 's/^#define FRZ_VERSION_STRING "\(.*\)"/\1/p' include/frozen.h)

# ---- the installed tree ------------------------------------------------------------------------------------
if cmp -s include/frozen.h "$ROOT/usr/include/frozen.h"; then ok "header installed"; else fail "header installed"; fi
real=$LIB/libfrozen.so.$version
soname=$(readelf -d "$real" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ -f "$real" ] && [ ! -L "$real" ] && [ "$soname" = "libfrozen.so.$major" ] &&
    [ "$(readlink "$LIB/libfrozen.so.$major")" = "libfrozen.so.$version" ] &&
    [ "$(readlink "$LIB/libfrozen.so")" = "libfrozen.so.$major" ]; then
    ok "libfrozen.so.$version (soname $soname) with the links libfrozen.so.$major and libfrozen.so"
else
    fail "shared library, soname and links" "soname='$soname' $(ls -l "$LIB" | tr '\n' ' ')"
fi
if nm "$LIB/libfrozen.a" 2>/dev/null | grep -q ' T frz_lm_load$'; then ok "libfrozen.a holds the API"; else
    fail "libfrozen.a holds the API"; fi
if "$ROOT/usr/bin/frozen" --version 2>/dev/null | grep -qx "frozen $version"; then ok "frozen CLI installed"; else
    fail "frozen CLI installed"; fi

# pkg-config: the staged tree through the sysroot; frozen.pc must name the install prefix (/usr), not the
# build's default.
export PKG_CONFIG_SYSROOT_DIR="$ROOT" PKG_CONFIG_PATH="$LIB/pkgconfig"
pc_prefix=$(pkg-config --variable=prefix frozen 2>&1)
pc_version=$(pkg-config --modversion frozen 2>&1)
cflags=$(pkg-config --cflags frozen 2>&1)
libs=$(pkg-config --libs frozen 2>&1)
case "$pc_prefix $cflags $libs" in
"$ROOT/usr -I$ROOT/usr/include"*"-L$ROOT/usr/lib -lfrozen"*)
    if [ "$pc_version" = "$version" ]; then ok "frozen.pc: version $pc_version, prefix /usr, flags reach the staged tree"
    else fail "frozen.pc version" "'$pc_version' vs '$version'"; fi ;;
*) fail "frozen.pc names the install prefix" "prefix='$pc_prefix' cflags='$cflags' libs='$libs'" ;;
esac

# The man page: installed and rendered by man(1) without warnings.
page=$ROOT/usr/share/man/man1/frozen.1
if [ ! -f "$page" ]; then
    fail "man page installed in share/man/man1"
elif command -v man >/dev/null 2>&1; then
    MANWIDTH=100 LC_ALL=C.UTF-8 man --warnings -l "$page" >"$TMP/man.txt" 2>"$TMP/man.err"
    if [ -s "$TMP/man.err" ]; then
        fail "man -l frozen.1 renders without warnings" "$(head -n 3 "$TMP/man.err")"
    else
        missing=""
        for c in tokenize detokenize generate score info train tokenizer-train pretrain caption ask eval; do
            grep -q "frozen $c" "$TMP/man.txt" || missing="$missing $c"
        done
        if [ -z "$missing" ]; then ok "man -l frozen.1 renders every command"; else
            fail "man page lacks commands" "$missing"; fi
    fi
else
    ok "man page installed (man(1) not installed: rendering not checked)"
fi
# Every option each command's --help lists is in the man page (its source, '\-' read as '-').
sed 's/\\-/-/g' "$page" >"$TMP/man.src"
missing=""
for c in tokenize detokenize generate score info train tokenizer-train pretrain caption ask "eval vqa" "eval binding"; do
    # shellcheck disable=SC2086 # "eval vqa" is two words
    for o in $("$ROOT/usr/bin/frozen" $c --help 2>/dev/null | grep -o -e '--[a-z][a-z0-9-]*' | sort -u); do
        grep -q -e "$o\([^a-z0-9-]\|\$\)" "$TMP/man.src" || missing="$missing $c:$o"
    done
done
if [ -z "$missing" ]; then ok "the man page has every option of every command's --help"; else
    fail "the man page lacks options" "$missing"; fi

# ---- the examples, built against the staged package only -----------------------------------------------------
# The compiler sees examples/c and the installed header, never include/ of the source tree.
build() { # name [extra compiler words]
    name=$1
    shift
    # shellcheck disable=SC2046,SC2086 # pkg-config's output is words
    $CC -std=c11 -pedantic -Wall -Wextra -Werror -o "$TMP/$name" "examples/c/$name.c" "$@" \
        $(pkg-config --cflags --libs frozen) >"$TMP/cc.log" 2>&1
}
for ex in generate train caption fewshot; do
    if build $ex && readelf -d "$TMP/$ex" | grep -q "NEEDED.*\[libfrozen.so.$major\]"; then
        ok "example $ex builds from pkg-config and needs libfrozen.so.$major"
    else
        fail "example $ex builds from pkg-config" "$(head -n 5 "$TMP/cc.log")"
    fi
done
export LD_LIBRARY_PATH="$LIB"
FROZEN=$ROOT/usr/bin/frozen
if ldd "$TMP/generate" 2>/dev/null | grep -q "libfrozen.so.$major => $LIB/libfrozen.so.$major"; then
    ok "the examples load the installed library"
else
    fail "the examples load the installed library" "$(ldd "$TMP/generate" 2>&1 | grep frozen)"
fi

# generate: the greedy ids and text equal the CLI's.
"$TMP/generate" "$LM" "Hello, my dog" 8 >"$TMP/gen.out" 2>"$TMP/gen.err"
rc=$?
cli_ids=$("$FROZEN" generate --lm "$LM" --prompt "Hello, my dog" --max-tokens 8 --ids --threads 1 2>/dev/null)
cli_text=$("$FROZEN" generate --lm "$LM" --prompt "Hello, my dog" --max-tokens 8 --threads 1 2>/dev/null)
ex_ids=$(sed -n 's/^ids: //p' "$TMP/gen.out")
ex_text=$(sed -n 's/^text: //p' "$TMP/gen.out")
if [ $rc -eq 0 ] && [ -n "$ex_ids" ] && [ "$ex_ids" = "$cli_ids" ] && [ "$ex_text" = "$cli_text" ]; then
    ok "generate: ids ($ex_ids) and text equal frozen generate's"
else
    fail "generate: ids and text equal frozen generate's" "rc=$rc ex='$ex_ids' cli='$cli_ids' $(cat "$TMP/gen.err")"
fi

# train: three steps of a tiny encoder; metrics.csv equals the CLI's for the same settings (all but images/s).
printf '%s\tthe red one\n%s\tthe gray one\n%s\tthe blue one\n%s\ta photo\n' "$IMG/jpeg_baseline420.jpg" \
    "$IMG/jpeg_gray.jpg" "$IMG/png_adam7_rgb8.png" "$IMG/photo_640x480.jpg" >"$TMP/captions.tsv"
OPTS="--steps 3 --vision tiny --width 0.0625 --image-size 32 --batch 2 --seed 3 --threads 1"
# shellcheck disable=SC2086
"$TMP/train" "$LM" "$TMP/captions.tsv" "$TMP/run_ex" $OPTS >"$TMP/train.out" 2>"$TMP/train.err"
rc=$?
# shellcheck disable=SC2086
"$FROZEN" train --lm "$LM" --data "$TMP/captions.tsv" --out "$TMP/run_cli" $OPTS --val-fraction 0 \
    >/dev/null 2>"$TMP/train_cli.err"
cut -d, -f1-4,6 "$TMP/run_ex/metrics.csv" >"$TMP/m_ex" 2>/dev/null
cut -d, -f1-4,6 "$TMP/run_cli/metrics.csv" >"$TMP/m_cli" 2>/dev/null
if [ $rc -eq 0 ] && [ "$(grep -c '^step [1-3]/3 ' "$TMP/train.out")" -eq 3 ] &&
    [ "$(grep -c '^[0-9]' "$TMP/m_ex")" -eq 3 ] && cmp -s "$TMP/m_ex" "$TMP/m_cli" &&
    [ -f "$TMP/run_ex/vision.safetensors" ] && [ -f "$TMP/run_ex/projector.safetensors" ]; then
    ok "train: 3 steps, metrics.csv equal to frozen train's"
else
    fail "train: 3 steps, metrics.csv equal to frozen train's" \
        "rc=$rc $(tail -n 2 "$TMP/train.err") | $(tr '\n' ' ' <"$TMP/m_ex") | $(tr '\n' ' ' <"$TMP/m_cli")"
fi
# The printed losses are metrics.csv's (to the 6 digits printed).
if awk -F, 'NR == FNR { if (FNR > 1) loss[$1] = $3; next }
            /^step / { split($2, s, "/"); d = $6 - loss[s[1]]; if (d < 0) d = -d; if (d > 1e-5) bad = 1; n++ }
            END { exit !(n == 3 && !bad) }' "$TMP/run_ex/metrics.csv" "$TMP/train.out"; then
    ok "train: printed losses equal metrics.csv"
else
    fail "train: printed losses equal metrics.csv" "$(cat "$TMP/train.out")"
fi

# caption: the example's lines equal frozen caption's with the run it trained.
"$TMP/caption" "$LM" "$TMP/run_ex" "$IMG/jpeg_gray.jpg" "$IMG/png_rgb8.png" >"$TMP/cap.out" 2>"$TMP/cap.err"
rc=$?
"$FROZEN" caption --lm "$LM" --model "$TMP/run_ex" --threads 1 "$IMG/jpeg_gray.jpg" "$IMG/png_rgb8.png" \
    >"$TMP/cap_cli.out" 2>/dev/null
if [ $rc -eq 0 ] && [ "$(wc -l <"$TMP/cap.out")" -eq 2 ] && cmp -s "$TMP/cap.out" "$TMP/cap_cli.out"; then
    ok "caption: two lines equal frozen caption's"
else
    fail "caption: two lines equal frozen caption's" "rc=$rc '$(cat "$TMP/cap.out")' vs '$(cat "$TMP/cap_cli.out")' $(cat "$TMP/cap.err")"
fi

# fewshot: images and text interleaved; equal to frozen ask with the same prompt in markers.
"$TMP/fewshot" "$LM" "$TMP/run_ex" "img:$IMG/jpeg_gray.jpg" "This is a dax." "img:$IMG/png_rgb8.png" \
    "This is a blicket." "img:$IMG/jpeg_gray.jpg" "Question: What is this? Answer:" >"$TMP/fs.out" 2>"$TMP/fs.err"
rc=$?
"$FROZEN" ask --lm "$LM" --model "$TMP/run_ex" --newline --max-tokens 8 --threads 1 --prompt \
    "<img:$IMG/jpeg_gray.jpg>This is a dax.<img:$IMG/png_rgb8.png>This is a blicket.<img:$IMG/jpeg_gray.jpg>Question: What is this? Answer:" \
    >"$TMP/ask.out" 2>/dev/null
# prompt positions: 3 images x n_prefix (2) + the text tokens, counted by the CLI's tokenizer
n_text=0
for t in "This is a dax." "This is a blicket." "Question: What is this? Answer:"; do
    n_text=$((n_text + $("$FROZEN" tokenize --lm "$LM" "$t" | wc -w)))
done
if [ $rc -eq 0 ] && [ -s "$TMP/ask.out" ] && [ "$(cat "$TMP/fs.out")" = "$(cat "$TMP/ask.out")" ] &&
    grep -q "^prompt: 6 segments, $((n_text + 6)) positions$" "$TMP/fs.err"; then
    ok "fewshot: 6 segments, $((n_text + 6)) positions; the answer equals frozen ask's"
else
    fail "fewshot equals frozen ask" "rc=$rc '$(cat "$TMP/fs.out")' vs '$(cat "$TMP/ask.out")' $(cat "$TMP/fs.err")"
fi
# An error reaches the user with the library's message.
"$TMP/caption" "$LM" "$TMP/run_ex" "$TMP/no-such.png" >/dev/null 2>"$TMP/err"
if [ $? -eq 1 ] && grep -q "no-such.png" "$TMP/err"; then ok "caption: a missing image exits 1 naming it"; else
    fail "caption: a missing image exits 1 naming it" "$(cat "$TMP/err")"; fi

# ---- static link: pkg-config --static lists every library libfrozen.a needs -----------------------------------
# shellcheck disable=SC2046
static_libs=$(pkg-config --static --libs frozen | sed 's/-lfrozen/-Wl,-Bstatic -lfrozen -Wl,-Bdynamic/')
# caption pulls in the image decoders (libpng, libjpeg) as well as OpenBLAS, PCRE2 and Jansson.
# shellcheck disable=SC2086
if $CC -std=c11 -o "$TMP/caption_static" examples/c/caption.c $(pkg-config --cflags frozen) $static_libs \
    >"$TMP/cc.log" 2>&1 && ! readelf -d "$TMP/caption_static" | grep -q 'NEEDED.*libfrozen'; then
    LD_LIBRARY_PATH= "$TMP/caption_static" "$LM" "$TMP/run_ex" "$IMG/jpeg_gray.jpg" "$IMG/png_rgb8.png" \
        >"$TMP/cap_static.out" 2>&1
    if cmp -s "$TMP/cap_static.out" "$TMP/cap.out"; then ok "static link (pkg-config --static): same captions"
    else fail "static link: same captions" "$(cat "$TMP/cap_static.out")"; fi
else
    fail "static link with pkg-config --static --libs frozen" "$(grep -m 3 -e error -e undefined "$TMP/cc.log")"
fi

# ---- header/library version check ----------------------------------------------------------------------------
# A program compiled with a newer header (minor + 1) than the installed library refuses to run, naming both.
mkdir -p "$TMP/newer"
minor=$(sed -n 's/^#define FRZ_VERSION_MINOR \([0-9]*\).*/\1/p' include/frozen.h)
sed "s/^#define FRZ_VERSION_MINOR [0-9]*/#define FRZ_VERSION_MINOR $((minor + 1))/" "$ROOT/usr/include/frozen.h" \
    >"$TMP/newer/frozen.h"
if build generate -I"$TMP/newer" && cp "$TMP/generate" "$TMP/generate_newer"; then
    "$TMP/generate_newer" "$LM" "Hello" 2 >/dev/null 2>"$TMP/err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "libfrozen $version loaded, but the program was compiled with frozen.h $major.$((minor + 1))" "$TMP/err"; then
        ok "a program built with a newer header stops at FRZ_CHECK_VERSION, naming both versions"
    else
        fail "newer header refused at run time" "rc=$rc $(cat "$TMP/err")"
    fi
else
    fail "build against a newer header" "$(head -n 3 "$TMP/cc.log")"
fi
# FRZ_DEPRECATED warns where a deprecated call is used (an error under -Werror).
printf '#include <frozen.h>\nFRZ_API FRZ_DEPRECATED int frz_old_call(void);\nint main(void) { return frz_old_call(); }\n' \
    >"$TMP/dep.c"
# shellcheck disable=SC2046
if ! $CC -std=c11 -Werror -c -o "$TMP/dep.o" "$TMP/dep.c" $(pkg-config --cflags frozen) 2>"$TMP/err" &&
    grep -q "deprecated" "$TMP/err"; then
    ok "FRZ_DEPRECATED makes the compiler warn at the call"
else
    fail "FRZ_DEPRECATED makes the compiler warn at the call" "$(head -n 3 "$TMP/err")"
fi

finish
