#!/usr/bin/env bash
# run.sh: the whole test suite. Runs the CppUTest unit tests, then the integration tests
# (tests/integration/run.py, real daemons against real peers), prints "unit: ..." and
# "integration: ..." lines with the passed, failed and skipped counts, and ends with the one
# line "N passed, N failed" over both. Exits non-zero when anything failed.
#   POSTERN_BUILD_DIR=build tests/run.sh [--soak] [integration test filters...]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${POSTERN_BUILD_DIR:-$PWD/build}
PYTHON=${PYTHON:-/usr/bin/python3}
export POSTERN_BUILD_DIR=$BUILD

unit_passed=0
unit_failed=0
unit_skipped=0
unit_log=$(mktemp)
trap 'rm -f "$unit_log" "$counts"' EXIT

if [[ ${1:-} != --soak ]]; then
  echo "== unit tests"
  "$BUILD/tests/unit_tests" -v >"$unit_log" 2>&1
  unit_rc=$?
  grep -E '^(TEST|IGNORE_TEST)\(' "$unit_log" | grep -v ' - [0-9]* ms$' || true
  failures=$(grep -cE '^[^ ].*:[0-9]+: error:' "$unit_log" || true)
  summary=$(grep -E '^(OK|Errors) \(' "$unit_log" | tail -1)
  ran=$(sed -nE 's/.* ([0-9]+) ran.*/\1/p' <<<"$summary")
  failed=$(sed -nE 's/^Errors \(([0-9]+) failures?.*/\1/p' <<<"$summary")
  if [[ -z $summary ]]; then
    # The unit test binary died before its summary (a crash): say so, count it failed.
    tail -30 "$unit_log"
    unit_failed=1
  else
    [[ $unit_rc -ne 0 || -n $failed ]] && grep -B2 -A6 'error:' "$unit_log" | head -100
    unit_failed=${failed:-0}
    unit_passed=$(( ${ran:-0} - unit_failed ))
    unit_skipped=$(sed -nE 's/.* ([0-9]+) ignored.*/\1/p' <<<"$summary")
  fi
  echo "unit: $unit_passed passed, $unit_failed failed, ${unit_skipped:-0} skipped ($summary)"
fi

echo "== integration tests"
counts=$(mktemp)
"$PYTHON" tests/integration/run.py --counts "$counts" "$@"
int_rc=$?
read -r int_passed int_failed _ <"$counts" || { int_passed=0; int_failed=1; }
[[ $int_rc -ne 0 && ${int_failed:-0} -eq 0 ]] && int_failed=1

passed=$(( unit_passed + int_passed ))
failed=$(( unit_failed + int_failed ))
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
