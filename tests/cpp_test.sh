#!/bin/sh
# cpp_test.sh -- builds and runs the C++ wrapper's tests (examples/cpp) against the library built by `make`.
# Run from the repository root:  sh tests/cpp_test.sh
# CXX (default g++) may be overridden; FRZ_TEST_BUILD (default build) is where the programs go.
# Ends with "cpp: N passed, M failed" and exits non-zero on any failure.

CXX=${CXX:-g++}
OUT=${FRZ_TEST_BUILD:-build}/cpp
CXXFLAGS="-std=c++17 -Wall -Wextra -Werror -Wshadow -pedantic -g -Iinclude -Iexamples/cpp"
LINK="-Llib -lfrozen -Wl,-rpath,$(pwd)/lib"

if ! command -v "$CXX" >/dev/null 2>&1; then
    echo "cpp_test: no C++ compiler ($CXX); skipped"
    echo "cpp: 0 passed, 0 failed"
    exit 0
fi
if [ ! -e lib/libfrozen.so ] || [ ! -x bin/frozen ]; then
    echo "cpp_test: need lib/libfrozen.so and bin/frozen (run make)"
    echo "cpp: 0 passed, 1 failed"
    exit 1
fi
mkdir -p "$OUT" || exit 1

# The example must build warning-free as well, though only the tests run.
for prog in test_frozen example; do
    # shellcheck disable=SC2086 # flag lists are words
    if ! $CXX $CXXFLAGS -o "$OUT/$prog" "examples/cpp/$prog.cpp" $LINK; then
        echo "cpp_test: $prog does not compile"
        echo "cpp: 0 passed, 1 failed"
        exit 1
    fi
done

"$OUT/test_frozen"
rc=$?
# A crash prints no summary line: count it as one failure.
[ $rc -gt 1 ] && echo "cpp: 0 passed, 1 failed"
exit $rc
