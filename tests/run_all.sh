#!/bin/sh
# Runs each test program given, from the repository root, and ends with one summary line that counts the
# Check tests ("N passed, N failed"). Exits non-zero if any program failed.
# Check kills a test after 4 s by default; on a loaded 2-core machine (or under ASan) that is too tight.
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-300}"
# Tests with their own limit (tcase_set_timeout) get three times it.
export CK_TIMEOUT_MULTIPLIER="${CK_TIMEOUT_MULTIPLIER:-3}"
passed=0; failed=0; bad_programs=""
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    # Check's summary line: "100%: Checks: 12, Failures: 0, Errors: 0"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
    # A shell test's summary line: "cli: 12 passed, 0 failed"
    plain=$(printf '%s\n' "$out" | grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ] && [ -n "$plain" ]; then
        passed=$((passed + $(printf '%s' "$plain" | sed 's/.*: \([0-9]*\) passed.*/\1/')))
        failed=$((failed + $(printf '%s' "$plain" | sed 's/.*passed, \([0-9]*\) failed/\1/')))
        line=$plain
    elif [ -n "$line" ]; then
        n=$(printf '%s' "$line" | sed 's/.*Checks: \([0-9]*\).*/\1/')
        f=$(printf '%s' "$line" | sed 's/.*Failures: \([0-9]*\).*/\1/')
        e=$(printf '%s' "$line" | sed 's/.*Errors: \([0-9]*\).*/\1/')
        passed=$((passed + n - f - e)); failed=$((failed + f + e))
    elif [ $rc -eq 0 ]; then
        passed=$((passed + 1))
    fi
    if [ $rc -ne 0 ]; then
        [ -z "$line" ] && failed=$((failed + 1))
        bad_programs="$bad_programs $t"
    fi
done
[ -n "$bad_programs" ] && echo "failing programs:$bad_programs"
echo "tests: $passed passed, $failed failed"
[ -z "$bad_programs" ]
