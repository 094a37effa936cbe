#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer (+ LeakSanitizer) and ThreadSanitizer, and with
# UndefinedBehaviorSanitizer on the C codec shims. Release builds with -enable-testing, like the
# normal test command (a debug build makes the full-size parity tests take hours under ASan), each in
# its own build folder (.build-SANITIZER-release), so the normal .build stays untouched.
# swiftc rejects -sanitize=undefined on Linux ("unsupported option"), so UBSan can only cover the C
# shims: the c-undefined mode builds them with -fsanitize=undefined through -Xcc.
# `swift test --sanitize=X` builds every product with X, so the superglue and RankTestWorker binaries
# that some tests start are instrumented too; they inherit LSAN_OPTIONS/TSAN_OPTIONS from here.
#   Tools/sanitizers.sh [FILTER]                      e.g. Tools/sanitizers.sh 'Checkpoints|ImageIO'
#   SANITIZERS='address thread' Tools/sanitizers.sh   (default: address thread c-undefined)
# Timings on the shared 2-core dev box (build + run): address ~6 + 7.5 min for the whole suite;
# thread ~9.5 + 10 min for the concurrent suites alone (FILTER below), more for everything:
#   'MatcherConcurrency|SuperPointTests|SuperGlueModelTests|Ranking|RankProcess|RankCommand|BrokenInputTests|HostileCheckpoint'

set -euo pipefail
cd "$(dirname "$0")/.."
# Leaks reported inside the toolchain libraries are suppressed (see the file); ours are not.
# print_suppressions shows what was suppressed, so a suppression hiding too much is visible.
export LSAN_OPTIONS="suppressions=$PWD/Tools/lsan-suppressions.txt:print_suppressions=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
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
  if [ "$sanitizer" = thread ]; then
    # Any TSan-instrumented Swift binary dies of SIGBUS inside the TSan runtime under a file-size
    # limit (`ulimit -f 2; superglue --help` does), and that test runs the worker under one; the
    # tmpfs full-disk test still runs.
    flags+=(--skip fullDiskStopsWithAClearErrorAndResumeCompletes)
  fi
  log=".build-$sanitizer-release/sanitizer.log"
  mkdir -p ".build-$sanitizer-release"
  swift test -c release -Xswiftc -enable-testing --scratch-path ".build-$sanitizer-release" "${flags[@]}" "${filter[@]}" > "$log" 2>&1 || status=1
  grep -E "ERROR|WARNING: ThreadSanitizer|runtime error|SUMMARY|Suppressions used|^ +[0-9]+ +[0-9]+ |✘|Test run with|Executed" "$log" || true
  echo "(full log: $log)"
done
exit $status
