#!/usr/bin/env bash
# run.sh: runs every libFuzzer target BUILD_DIR/fuzz/fuzz_* for FUZZ_SECONDS seconds
# (default 60) on a scratch copy of its seed corpus tests/fuzz/corpus/<target>/ (none is
# fine), with tests/fuzz/<target>.dict when there is one. Fails when any target crashes,
# leaks, times out or breaks a property; the inputs that did are kept in
# BUILD_DIR/fuzz-artifacts/<target>/ (turn each into a unit test). Ends with the line
# "fuzz: N passed, N failed". Generic: a new fuzz_*.cpp needs nothing here.
#   FUZZ_SECONDS=10 tests/fuzz/run.sh build-fuzz
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: FUZZ_SECONDS=N $0 BUILD_DIR" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd) || exit 2
seconds=${FUZZ_SECONDS:-60}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

passed=0
failed=0
shopt -s nullglob
for binary in "$build"/fuzz/fuzz_*; do
  [[ -f $binary && -x $binary ]] || continue
  name=$(basename "$binary")
  corpus=$scratch/$name/corpus
  artifacts=$build/fuzz-artifacts/$name
  mkdir -p "$corpus" "$artifacts"
  seeds=$root/tests/fuzz/corpus/$name
  [[ -d $seeds ]] && cp -R "$seeds/." "$corpus/"
  options=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
           -artifact_prefix="$artifacts/")
  [[ -f $root/tests/fuzz/$name.dict ]] && options+=(-dict="$root/tests/fuzz/$name.dict")
  echo "== $name: ${seconds}s, $(ls "$corpus" | wc -l) seeds"
  log=$scratch/$name/log
  if "$binary" "${options[@]}" "$corpus" >"$log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|Done )' "$log" | tr '\n' ' '
    echo
    passed=$((passed + 1))
  else
    echo "!! $name failed; the input is in $artifacts/"
    tail -40 "$log"
    failed=$((failed + 1))
  fi
done

if [[ $((passed + failed)) -eq 0 ]]; then
  echo "no fuzz target under $build/fuzz/ (build them with make fuzz)" >&2
  exit 1
fi
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
