#!/bin/sh
# ABI baseline and check with libabigail (Debian: abigail-tools). docs/abi.md gives the policy.
#   sh tools/abi.sh dump  LIB HEADERS_DIR OUT.abi          the ABI of LIB as the public headers show it
#   sh tools/abi.sh check BASELINE.abi LIB HEADERS_DIR     compare LIB with the baseline
# check exits 0 when nothing changed or the changes are additions only (new functions, enumerators appended,
# members appended to a parameter struct that begins with `size_t struct_size`), 1 on any other change
# (a removed or changed function, a renumbered enumerator, a changed or grown plain struct, a new soname), 2
# when the tools fail. Both sides are abidw dumps made with the same options, so the comparison is XML
# against XML and does not depend on how the baseline's DWARF was read.
set -u
ABIDW_OPTS="--drop-private-types --exported-interfaces-only --no-corpus-path --no-comp-dir-path --no-show-locs
            --no-elf-needed --no-parameter-names --type-id-style hash"

die() { echo "abi: $*" >&2; exit 2; }
command -v abidw >/dev/null 2>&1 && command -v abidiff >/dev/null 2>&1 ||
    die "abidw/abidiff not found: install abigail-tools (sh tools/deps.sh abi)"

dump() { # LIB HEADERS_DIR OUT
    [ -r "$1" ] || die "cannot read $1"
    readelf -S "$1" | grep -q '\.debug_info' || die "$1 has no debug information (build it with -g)"
    # shellcheck disable=SC2086 # the options are words
    abidw --headers-dir "$2" $ABIDW_OPTS --out-file "$3" "$1" || die "abidw failed on $1"
}

# Suppressions for the changes the policy allows that libabigail cannot know are compatible: members appended
# to a struct whose first member is `size_t struct_size` (the library reads only the caller's struct_size
# bytes). Made from the headers, so new parameter structs are covered without editing anything.
suppressions() { # HEADERS_DIR
    cat "$1"/*.h | awk '
        /^typedef struct [A-Za-z_0-9]+ *\{/ { name = $3; sub(/\{.*/, "", name); want = 1; next }
        want && NF == 0 { next }
        want { if ($0 ~ /^[ \t]*size_t[ \t]+struct_size;/)
                   printf "[suppress_type]\n  type_kind = struct\n  name = %s\n  has_data_member_inserted_at = end\n\n", name
               want = 0 }'
}

case "${1:-}" in
dump)
    [ $# -eq 4 ] || die "usage: sh tools/abi.sh dump LIB HEADERS_DIR OUT.abi"
    dump "$2" "$3" "$4"
    echo "abi: wrote $4 ($(grep -c '<elf-symbol ' "$4") symbols)"
    ;;
check)
    [ $# -eq 4 ] || die "usage: sh tools/abi.sh check BASELINE.abi LIB HEADERS_DIR"
    base=$2; lib=$3; hdrs=$4
    [ -r "$base" ] || die "no baseline $base (make abi-dump writes it)"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/frz-abi.XXXXXX") || exit 2
    trap 'rm -rf "$tmp"' EXIT
    dump "$lib" "$hdrs" "$tmp/current.abi"
    suppressions "$hdrs" >"$tmp/suppr"
    abidiff --suppressions "$tmp/suppr" "$base" "$tmp/current.abi" >"$tmp/report" 2>&1
    rc=$?
    # abidiff's status bits: 1 error, 2 usage error, 4 ABI change, 8 incompatible change (removed symbol).
    if [ $((rc & 3)) -ne 0 ]; then cat "$tmp/report"; die "abidiff failed (status $rc)"; fi
    # Bit 4 alone may still hide an incompatible change (a changed type, a renumbered enumerator): only
    # additions are accepted, read from the summary lines ("0 Removed, 0 Changed (2 filtered out), 3 Added").
    if [ $((rc & 8)) -ne 0 ] || grep -Eq '(^|[^0-9])[1-9][0-9]* (Removed|Changed)|SONAME changed|architecture changed' \
        "$tmp/report"; then
        cat "$tmp/report"
        echo "abi: INCOMPATIBLE change against $base (see above). Either undo it, or, for an intended new"
        echo "abi: major version (docs/abi.md), bump FRZ_VERSION_MAJOR and run make abi-dump."
        exit 1
    fi
    if [ $((rc & 4)) -ne 0 ]; then
        sed -n '/Added/,$p' "$tmp/report" | sed '/^$/d'
        echo "abi: compatible: additions only against $base; make abi-dump records them in the baseline"
    else
        echo "abi: no change against $base"
    fi
    ;;
*) die "usage: sh tools/abi.sh dump LIB HEADERS_DIR OUT.abi | check BASELINE.abi LIB HEADERS_DIR" ;;
esac
