#!/bin/sh
# Installs the Debian packages a target needs (as root, through apt) or prints the exact apt line.
#   sh tools/deps.sh build      compiler, OpenBLAS, PCRE2, Jansson, Check
#   sh tools/deps.sh fixtures   + PyTorch (Debian's python3-torch) and Node.js/npm for the reference scripts
#   sh tools/deps.sh bench      + PyTorch for the peer side of the benchmark
#   sh tools/deps.sh demo       + Fashion-MNIST (the demo world's clothes, /usr/share/datasets/fashion-mnist)
#   sh tools/deps.sh abi        + abigail-tools (abidw, abidiff) for make abi-dump / abi-check
#   sh tools/deps.sh docs       + Doxygen for make docs, man-db for checking the man page
#   sh tools/deps.sh ci         everything .ci/run uses: build + abi + docs
set -e
build="gcc make pkg-config libopenblas-dev libpcre2-dev libjansson-dev libpng-dev libjpeg-dev zlib1g-dev check libsubunit-dev"
case "${1:-build}" in
    build) want="$build" ;;
    fixtures) want="$build python3-torch python3-numpy python3-pil python3-regex nodejs npm" ;;
    bench) want="$build python3-torch python3-numpy" ;;
    demo) want="$build dataset-fashion-mnist" ;;
    abi) want="$build abigail-tools" ;;
    docs) want="$build doxygen man-db" ;;
    ci) want="$build abigail-tools doxygen man-db clang" ;;
    *) echo "usage: sh tools/deps.sh [build|fixtures|bench|demo|abi|docs|ci]" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
else
    echo "missing Debian packages; install them with:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
