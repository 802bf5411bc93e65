#!/usr/bin/env bash
# run.sh: `make bench` — postern against Postfix, side by side (bench/bench.py does the
# work; docs/BENCH.md explains it). Root is needed: Postfix's instance starts as root,
# and 10,000 idle sessions need the descriptor limit raised to the hard limit.
# Pass BENCH_QUICK=1 for a short run while developing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "make bench: run it as root (Postfix's instance needs it)" >&2
  exit 1
fi
: "${POSTERN_BUILD_DIR:=$PWD/build}"
export POSTERN_BUILD_DIR
ulimit -n "$(ulimit -Hn)"
exec "${PYTHON:-/usr/bin/python3}" bench/bench.py "$@"
