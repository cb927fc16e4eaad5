#!/bin/sh
# The shared library must export exactly the functions declared FRZ_API in the public header.
lib=$1; header=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TtWwDdBbRr]$/ {print $3}' | sed 's/@.*//' | sort -u)
declared=$(grep -o '^FRZ_API[^(]*(' "$header" | sed 's/($//; s/.*[ *]\([a-z_0-9]*\)$/\1/' | sort -u)
if [ "$exported" != "$declared" ]; then
    echo "exported symbols differ from the FRZ_API declarations in $header:"
    printf '%s\n' "$exported" > /tmp/frz_exported.$$; printf '%s\n' "$declared" > /tmp/frz_declared.$$
    diff /tmp/frz_declared.$$ /tmp/frz_exported.$$ | sed 's/^</  declared, not exported:/; s/^>/  exported, not declared:/' | grep -v '^[0-9]'
    rm -f /tmp/frz_exported.$$ /tmp/frz_declared.$$
    exit 1
fi
echo "exports: $(printf '%s\n' "$exported" | wc -l) symbols match $header"
