#!/bin/sh
# abi_test.sh -- tools/abi.sh check tells compatible from incompatible changes (docs/abi.md), on a small
# library with frozen.h's conventions built here in versions that each make one change to a baseline.
# Needs abigail-tools and a C compiler. Ends with "abi: N passed, M failed".
CC=${CC:-cc}
ABI="sh $PWD/tools/abi.sh"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/frozen-abitest.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
passed=0
failed=0
cd "$TMP" || exit 1

cat >base.h <<'H'
#include <stddef.h>
#define FRZ_API __attribute__((visibility("default")))
typedef enum frz_mode {
    FRZ_MODE_A = 0,
    FRZ_MODE_B = 1
} frz_mode;
typedef struct frz_params {
    size_t struct_size;
    int a;
    float b;
} frz_params;
typedef struct frz_input {
    int seq;
    size_t n;
} frz_input;
typedef struct frz_h frz_h;
FRZ_API int frz_run(frz_h *h, const frz_input *in, frz_mode m, const frz_params *p);
FRZ_API void frz_params_init(frz_params *p);
FRZ_API int frz_old(void);
H
cat >impl.c <<'C'
#include "frozen.h"
struct frz_h { int x; };
RET frz_run(frz_h *h, const frz_input *in, frz_mode m, const frz_params *p) { return h->x + in->seq + (int)m + p->a; }
void frz_params_init(frz_params *p) { p->struct_size = sizeof *p; p->a = 1; }
#ifndef NO_OLD
int frz_old(void) { return 1; }
#endif
#ifdef NEW
int frz_new(void) { return 2; }
#endif
C

# variant NAME SED_SCRIPT [CFLAGS...]: the baseline header edited by the sed script, built as a .so
variant() {
    name=$1; script=$2; shift 2
    mkdir -p "$name"
    sed "$script" base.h >"$name/frozen.h"
    $CC -g -O2 -shared -fPIC -fvisibility=hidden -I"$name" -DRET=int "$@" -Wl,-soname,libfrozen.so.0 \
        -o "$name/libfrozen.so" impl.c 2>"$name/cc.log" || echo "abi_test: building $name failed: $(cat "$name/cc.log")"
}
# expect NAME STATUS WHAT: tools/abi.sh check of variant NAME against the baseline exits STATUS
expect() {
    $ABI check base.abi "$1/libfrozen.so" "$1" >"$1/out" 2>&1
    rc=$?
    if [ "$rc" -eq "$2" ]; then passed=$((passed + 1)); echo "ok   $3 (status $rc)"
    else failed=$((failed + 1)); echo "FAIL $3: status $rc, want $2"; sed 's/^/     /' "$1/out" | head -n 20; fi
}

variant base 's/^$//'
if ! $ABI dump base/libfrozen.so base base.abi >base.out 2>&1; then
    cat base.out
    echo "abi: 0 passed, 1 failed"
    exit 1
fi
variant same 's/^$//'
expect same 0 "unchanged: compatible"
command -v clang >/dev/null 2>&1 && CC=clang variant clang 's/^$//' && expect clang 0 "the same source built by clang: compatible"
variant added 's/^FRZ_API int frz_old(void);/&\nFRZ_API int frz_new(void);/' -DNEW
expect added 0 "a function added: compatible"
grep -q "compatible: additions only" added/out || { failed=$((failed + 1)); echo "FAIL additions are not reported as such"; }
variant enum_added 's/FRZ_MODE_B = 1$/FRZ_MODE_B = 1,\n    FRZ_MODE_C = 2/'
expect enum_added 0 "an enumerator appended: compatible"
variant appended 's/^    float b;$/&\n    int c;/'
expect appended 0 "a member appended to a struct_size struct: compatible"
variant removed 's/^FRZ_API int frz_old(void);//' -DNO_OLD
expect removed 1 "a function removed: incompatible"
variant renumbered 's/FRZ_MODE_B = 1/FRZ_MODE_B = 2/'
expect renumbered 1 "an enumerator renumbered: incompatible"
variant inserted 's/^    int a;$/&\n    int z;/'
expect inserted 1 "a member inserted inside a struct_size struct: incompatible"
variant plain_grown 's/^    size_t n;$/&\n    int extra;/'
expect plain_grown 1 "a plain struct (no struct_size) grown: incompatible"
variant retyped 's/^FRZ_API int frz_run/FRZ_API long frz_run/' -URET -DRET=long
expect retyped 1 "a return type changed: incompatible"
mkdir -p soname && cp base/frozen.h soname/ &&
    $CC -g -shared -fPIC -fvisibility=hidden -Isoname -DRET=int -Wl,-soname,libfrozen.so.1 -o soname/libfrozen.so impl.c &&
    expect soname 1 "another soname: incompatible"

echo "abi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
