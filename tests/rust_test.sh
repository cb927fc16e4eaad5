#!/bin/sh
# rust_test.sh -- builds and tests the Rust crate (examples/rust) against the library built by `make`, offline.
# Run from the repository root:  sh tests/rust_test.sh
# Cargo is looked for as $CARGO, on PATH, then in /root/.cargo/bin and ~/.cargo/bin; without it the tests are
# skipped with a message. Cargo's build goes to ${FRZ_TEST_BUILD:-build}/rust-target, not the source tree.
# Ends with "rust: N passed, M failed" (the sums of cargo's "test result:" lines) and exits non-zero on failure.

cargo=""
for c in "${CARGO:-}" "$(command -v cargo 2>/dev/null)" /root/.cargo/bin/cargo "$HOME/.cargo/bin/cargo"; do
    if [ -n "$c" ] && [ -x "$c" ]; then cargo=$c; break; fi
done
if [ -z "$cargo" ]; then
    echo "rust_test: skipped: cargo not found (set CARGO, or install Rust: cargo on PATH or in ~/.cargo/bin)"
    echo "rust: 0 passed, 0 failed"
    exit 0
fi
# A rustup proxy found by its path (under another HOME) needs its toolchains: the .rustup beside its .cargo.
home=${cargo%/.cargo/bin/cargo}
if [ "$home" != "$cargo" ] && [ -z "${RUSTUP_HOME:-}" ] && [ -d "$home/.rustup" ]; then
    export RUSTUP_HOME="$home/.rustup"
fi
# Cargo runs rustc by name: the one beside it.
PATH="$(dirname "$cargo"):$PATH"
export PATH
if ! version=$("$cargo" --version 2>&1); then
    echo "rust_test: skipped: $cargo does not run: $(printf '%s\n' "$version" | head -n 1)"
    echo "rust: 0 passed, 0 failed"
    exit 0
fi
echo "rust_test: $version"
if [ ! -e lib/libfrozen.so ] || [ ! -x bin/frozen ]; then
    echo "rust_test: need lib/libfrozen.so and bin/frozen (run make)"
    echo "rust: 0 passed, 1 failed"
    exit 1
fi

root=$(pwd)
build=${FRZ_TEST_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
export CARGO_TARGET_DIR="$build/rust-target"
export FROZEN_LIB_DIR="$root/lib"
export FROZEN="$root/bin/frozen"
export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The plain-C layout program the layout test compiles: the project's compiler.
export CC="${CC:-cc}"
log=$(mktemp "${TMPDIR:-/tmp}/frozen-rust.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT INT TERM

# The example must build too; then every test (unit, integration, doc) runs.
(cd examples/rust && "$cargo" build --offline --quiet --examples && "$cargo" test --offline) >"$log" 2>&1
rc=$?
cat "$log"

passed=0; failed=0
for n in $(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1:\2/p' "$log"); do
    passed=$((passed + ${n%%:*})); failed=$((failed + ${n##*:}))
done
# A build failure (or a crash) reports no failed test: count it as one.
[ $rc -ne 0 ] && [ $failed -eq 0 ] && failed=1
echo "rust: $passed passed, $failed failed"
[ $rc -eq 0 ]
