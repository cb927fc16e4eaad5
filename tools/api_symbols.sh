#!/bin/sh
# Prints the functions a header declares FRZ_API, one name per line, sorted: the names the shared library must
# export. A declaration starts a line with FRZ_API (optionally FRZ_DEPRECATED) and names the function before
# its first '('; tools/api_symbols.sh include/frozen.h > src/libfrozen.symbols rewrites the committed list.
header=${1:-include/frozen.h}
[ -r "$header" ] || { echo "api_symbols.sh: cannot read $header" >&2; exit 1; }
sed -n 's/^FRZ_API[[:space:]]//p' "$header" |
    sed 's/^FRZ_DEPRECATED\(([^)]*)\)\{0,1\}[[:space:]]//' |
    sed -n 's/^[^(]*[[:space:]*]\([A-Za-z_][A-Za-z_0-9]*\)[[:space:]]*(.*/\1/p' |
    LC_ALL=C sort -u
