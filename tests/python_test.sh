#!/bin/sh
# python_test.sh -- the ctypes binding's tests (examples/python/test_frozen.py, standard library unittest) with
# python3 from PATH (PYTHON3 overrides; any python3 works, numpy tests skip without numpy).
# Run from the repository root after `make`. Ends with "python: N passed, M failed" (tests/run_all.sh reads it);
# without a python3 it says so and counts nothing.
PY=${PYTHON3:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "python_test: $PY not found: the Python binding tests are skipped"
    echo "python: 0 passed, 0 failed"
    exit 0
fi
out=$("$PY" examples/python/test_frozen.py 2>&1); rc=$?
printf '%s\n' "$out"
# A crash (no summary line of its own) still counts as a failure.
if ! printf '%s\n' "$out" | grep -Eq '^python: [0-9]+ passed, [0-9]+ failed$'; then
    echo "python: 0 passed, 1 failed"
    exit 1
fi
exit $rc
