#!/bin/sh
# The exported symbols, three ways, must agree exactly:
#   LIST    the committed list (src/libfrozen.symbols: one name per line, sorted, unique) -- the reviewed record
#   HEADER  the functions include/frozen.h declares FRZ_API (tools/api_symbols.sh)
#   LIB     what the shared library exports (nm -D), each under the version node FROZEN_<major>
# Usage: sh tests/check_exports.sh LIB HEADER LIST
# Prints one line per difference, saying which side has the name, and exits 1 on any; else one summary line.
lib=$1; header=$2; list=$3
if [ ! -r "$lib" ] || [ ! -r "$header" ] || [ ! -r "$list" ]; then
    echo "usage: sh tests/check_exports.sh LIB HEADER LIST (a file is missing)" >&2
    exit 2
fi
here=$(dirname "$0")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/frz-exports.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
bad=0
problem() { echo "symbols: $*"; bad=1; }

# The list itself: sorted (C locale), unique, one valid name per line, no blank lines.
LC_ALL=C sort -u "$list" >"$tmp/list"
cmp -s "$tmp/list" "$list" || problem "$list is not sorted and unique (LC_ALL=C sort -u)"
grep -vn '^frz_[a-z0-9_]*$' "$list" | while IFS= read -r l; do echo "symbols: $list:$l: not a frz_ name"; done
grep -vq '^frz_[a-z0-9_]*$' "$list" && bad=1

sh "$here/../tools/api_symbols.sh" "$header" >"$tmp/header" || exit 2
# Defined dynamic symbols of any kind (functions, data); "name@@NODE" or "name@NODE" keeps its version node.
nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Za-z]$/ && $2 != "A" {print $3}' >"$tmp/raw"
sed 's/@.*//' "$tmp/raw" | LC_ALL=C sort -u >"$tmp/lib"

# comm: names only in the first file / only in the second.
report() { # file_a label_a file_b label_b
    LC_ALL=C comm -23 "$1" "$3" | while IFS= read -r n; do echo "symbols: $n: $2, but $4"; done
}
report "$tmp/list" "in $list" "$tmp/header" "not declared FRZ_API in $header"
report "$tmp/header" "declared FRZ_API in $header" "$tmp/list" "not in $list (add it there)"
report "$tmp/list" "in $list" "$tmp/lib" "not exported by $lib"
report "$tmp/lib" "exported by $lib" "$tmp/list" "not in $list (hide it, or list and declare it)"
cmp -s "$tmp/list" "$tmp/header" || bad=1
cmp -s "$tmp/list" "$tmp/lib" || bad=1

# Every export carries the version node of the ABI major (the linker script made from the list sets it).
major=$(sed -n 's/^#define FRZ_VERSION_MAJOR \([0-9]*\).*/\1/p' "$header")
grep -v "@@FROZEN_$major\$" "$tmp/raw" | while IFS= read -r n; do
    echo "symbols: $n: exported without the version node FROZEN_$major"
done
grep -vq "@@FROZEN_$major\$" "$tmp/raw" && bad=1

if [ $bad -ne 0 ]; then
    echo "symbols: $lib, $header and $list disagree (see above)"
    exit 1
fi
echo "exports: $(wc -l <"$tmp/list") symbols; $lib, $header and $list agree (version node FROZEN_$major)"
