#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer and ThreadSanitizer (debug builds in separate build
# folders, so the normal .build stays untouched). Slow: expect several minutes each.
# swiftc rejects -sanitize=undefined on Linux ("unsupported option"), so UBSan can only cover the C
# shims: SANITIZERS=c-undefined builds them with -fsanitize=undefined through -Xcc.
#   Tools/sanitizers.sh [FILTER]     e.g. Tools/sanitizers.sh 'Checkpoints|ImageIO'
set -euo pipefail
cd "$(dirname "$0")/.."
# Leaks reported inside the toolchain libraries are suppressed (see the file); ours are not.
export LSAN_OPTIONS="suppressions=$PWD/Tools/lsan-suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
filter=()
[ $# -gt 0 ] && filter=(--filter "$1")
status=0
for sanitizer in ${SANITIZERS:-address thread c-undefined}; do
  echo "== $sanitizer"
  if [ "$sanitizer" = c-undefined ]; then
    # clang's UBSan runtime ships with the Swift toolchain; -fno-sanitize-recover makes any UB abort.
    runtime=$(ls "$(dirname "$(dirname "$(command -v swift)")")"/lib/clang/*/lib/linux/libclang_rt.ubsan_standalone-x86_64.so | head -n 1)
    flags=(-Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined -Xlinker "$runtime" -Xlinker -rpath -Xlinker "$(dirname "$runtime")")
  else
    flags=(--sanitize="$sanitizer")
  fi
  swift test --scratch-path ".build-$sanitizer" "${flags[@]}" "${filter[@]}" 2>&1 \
    | grep -E "ERROR|runtime error|Sanitizer|SUMMARY|✘|Test run|Executed" || status=1
done
exit $status
