#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer and then UndefinedBehaviorSanitizer (debug builds in
# separate build folders, so the normal .build stays untouched). Slow: expect several minutes each.
#   Tools/sanitizers.sh [FILTER]     e.g. Tools/sanitizers.sh 'Checkpoints|ImageIO'
set -euo pipefail
cd "$(dirname "$0")/.."
# Leaks reported inside the toolchain libraries are suppressed (see the file); ours are not.
export LSAN_OPTIONS="suppressions=$PWD/Tools/lsan-suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
filter=()
[ $# -gt 0 ] && filter=(--filter "$1")
status=0
for sanitizer in ${SANITIZERS:-address undefined}; do
  echo "== swift test --sanitize=$sanitizer"
  swift test --scratch-path ".build-$sanitizer" --sanitize="$sanitizer" "${filter[@]}" 2>&1 \
    | grep -E "ERROR|runtime error|Sanitizer|SUMMARY|✘|Test run|Executed" || status=1
done
exit $status
