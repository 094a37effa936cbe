#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of the weight readers and the image decoders.
# Complements Tools/fuzz.sh (a bounded mutation loop inside the test suite that needs no libFuzzer).
# Not part of Package.swift: the reader sources are compiled here directly with
# `swiftc -sanitize=fuzzer,address`, together with the small harnesses beside this script.
#
#   Tools/fuzz/libfuzzer.sh [SECONDS] [TARGETS...]     default: 300 s each, all targets
#   targets: torch (TorchCheckpoint, legacy + zip), pickle (PickleReader), safetensors, image
#
# Seeds come from the committed fixtures (small files only, see MAX_LEN); the growing corpus and any
# crash/timeout/oom input stay in .build-fuzz/ (git-ignored). Limits, per input:
#   -timeout=1             no input may take more than a second
#   -max_len               64 KiB for the weight readers, 128 KiB for images
#   -malloc_limit_mb       16 MiB for the weight readers (256x the largest input), 64 MiB for images
#                          (the harness lowers the pixel limit to 4 Mpx); a larger single allocation
#                          is reported as a finding
#   -rss_limit_mb=2048     whole process, ASan shadow included
# The C codec shims are also built with -fsanitize=undefined (no recovery) for the image target.
# A finding makes the script exit non-zero and prints the artifact's path; minimise it with
#   FUZZ_TARGET=torch .build-fuzz/fuzz-checkpoints -minimize_crash=1 -runs=10000 ARTIFACT
# and add it as a regression test (Tests/CheckpointsTests/HostileInputTests.swift or
# Tests/ImageIOTests/BrokenInputTests.swift) and to Tools/fuzz/regressions/TARGET/, which every run
# replays first under the same limits.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
seconds="${1:-300}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(torch pickle safetensors image)
out="$root/.build-fuzz"
mkdir -p "$out"

# gold warns about every ASan helper symbol it cannot export; nothing else is hidden.
quiet() { grep -v "Cannot export local symbol" || true; }

build_checkpoints() {
  [ -x "$out/fuzz-checkpoints" ] && [ -z "$(find Sources/Checkpoints Tools/fuzz/CheckpointHarness.swift -newer "$out/fuzz-checkpoints")" ] && return
  echo "== building fuzz-checkpoints"
  swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FuzzCheckpoints \
    Sources/Checkpoints/*.swift Tools/fuzz/CheckpointHarness.swift -o "$out/fuzz-checkpoints" 2>&1 | quiet
}

build_image() {
  [ -x "$out/fuzz-image" ] && [ -z "$(find Sources/ImageIO Sources/CImageCodecs Tools/fuzz/ImageHarness.swift -newer "$out/fuzz-image")" ] && return
  echo "== building fuzz-image"
  mkdir -p "$out/cimagecodecs"
  printf 'module CImageCodecs {\n  header "%s"\n  export *\n}\n' "$root/Sources/CImageCodecs/include/CImageCodecs.h" \
    > "$out/cimagecodecs/module.modulemap"
  # UBSan on the C shims as well (its handlers live in the ASan runtime); any UB aborts as a crash.
  clang -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -O1 -g -I Sources/CImageCodecs/include \
    -c Sources/CImageCodecs/codecs.c -o "$out/cimagecodecs/codecs.o"
  swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FuzzImageIO -I "$out/cimagecodecs" \
    Sources/ImageIO/*.swift Tools/fuzz/ImageHarness.swift "$out/cimagecodecs/codecs.o" -ljpeg -lpng -o "$out/fuzz-image" 2>&1 | quiet
}

# Fills $out/seeds-TARGET from the fixtures (files no longer than the target's max_len).
seed() {
  local target=$1 max=$2 dir="$out/seeds-$1"
  rm -rf "$dir"; mkdir -p "$dir"
  case $target in
    torch) find Tests/Fixtures/checkpoints -name '*.pth' -size -$((max / 1024 + 1))k -exec cp {} "$dir" \; ;;
    pickle)
      # The pickles inside the zip checkpoints (data.pkl) and the legacy files (a pickle sequence).
      for f in Tests/Fixtures/checkpoints/*_zip*.pth; do
        unzip -p "$f" '*/data.pkl' > "$dir/$(basename "$f" .pth).pkl"
      done
      find Tests/Fixtures/checkpoints -name '*_legacy*.pth' -size -$((max / 1024 + 1))k -exec cp {} "$dir" \; ;;
    safetensors) find Tests/Fixtures -name '*.safetensors' -size -$((max / 1024 + 1))k -exec cp {} "$dir" \; ;;
    image) find Tests/Fixtures/images -type f \( -name '*.jpg' -o -name '*.png' \) -size -$((max / 1024 + 1))k -exec cp {} "$dir" \; ;;
  esac
  find "$dir" -size 0 -delete
}

# Runs one input alone and prints the CPU time it took in ms; fails if the run failed.
cpu_ms() {
  local t
  t=$( (FUZZ_TARGET=$2 ASAN_OPTIONS=detect_leaks=0 "$1" -timeout=30 "$3" > "$4" 2>&1 || echo FAILED; times) | tail -n 2)
  case $t in *FAILED*) return 1 ;; esac
  # `times` prints the children's user and system time as "0m0.144s 0m0.064s".
  echo "$t" | tail -n 1 | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d\n", ((u[1] + s[1]) * 60 + u[2] + s[2]) * 1000 }'
}

status=0
for target in "${targets[@]}"; do
  case $target in
    torch|pickle|safetensors) build_checkpoints; binary="$out/fuzz-checkpoints"; max_len=65536; malloc_mb=16 ;;
    image) build_image; binary="$out/fuzz-image"; max_len=131072; malloc_mb=64 ;;
    *) echo "unknown target '$target'" >&2; exit 2 ;;
  esac
  seed "$target" "$max_len"
  # Earlier findings (committed, minimised) must pass under the same limits before fuzzing.
  if compgen -G "Tools/fuzz/regressions/$target/*" > /dev/null; then
    if ! FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0 "$binary" -timeout=5 -malloc_limit_mb="$malloc_mb" \
        -rss_limit_mb=2048 Tools/fuzz/regressions/"$target"/* > "$out/$target-regressions.log" 2>&1; then
      echo "!! $target: a committed regression input fails again (log $out/$target-regressions.log)"
      status=1; continue
    fi
    echo "   $(ls Tools/fuzz/regressions/"$target" | wc -l) regression input(s) pass"
  fi
  corpus="$out/corpus-$target"; artifacts="$out/artifacts-$target"
  mkdir -p "$corpus" "$artifacts"
  echo "== $target: ${seconds}s, $(ls "$out/seeds-$target" | wc -l) seeds, corpus $(ls "$corpus" | wc -l) files"
  log="$out/$target.log"
  # A timeout on a loaded machine (this box is shared and the fuzzer runs at nice 19, so a busy
  # neighbour can stall it for many seconds) need not be a slow input: each timeout input is re-run
  # alone, and only counts as a finding if it fails again or needs more than a second of CPU time
  # (user + system, which load does not inflate); otherwise it is set aside in artifacts-TARGET/
  # unreproduced and fuzzing goes on for the rest of the budget.
  deadline=$(( $(date +%s) + seconds )); total=0; found=0
  while left=$(( deadline - $(date +%s) )); [ "$left" -gt 0 ]; do
    if FUZZ_TARGET=$target ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        "$binary" -max_total_time="$left" -timeout=1 -max_len="$max_len" -malloc_limit_mb="$malloc_mb" \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$out/seeds-$target" > "$log" 2>&1; then
      grep -E "^(#[0-9]+[[:space:]]+DONE|Done|stat::)" "$log" || true
      total=$(( total + $(grep -E "^stat::number_of_executed_units" "$log" | awk '{print $2}') ))
      break
    fi
    timeout_unit=$(grep -oE "Test unit written to .*timeout-[0-9a-f]+" "$log" | sed 's/Test unit written to //' || true)
    if [ -n "$timeout_unit" ]; then
      if cpu=$(cpu_ms "$binary" "$target" "$timeout_unit" "$log.recheck") && [ "$cpu" -le 1000 ]; then
        mkdir -p "$artifacts/unreproduced"; mv "$timeout_unit" "$artifacts/unreproduced/"
        echo "   timeout did not reproduce alone (${cpu} ms CPU), set aside; going on"
        total=$(( total + $(grep -oE "^#[0-9]+" "$log" | tail -n 1 | tr -d '#' || true) + 0 ))
        cp "$log" "$log.$(date +%s)"
        continue
      fi
    fi
    found=1; status=1
    echo "!! $target: finding (log $log)"
    grep -E "ERROR|==[0-9]+==|Fatal error|Test unit written|SUMMARY" "$log" | head -n 20
    break
  done
  [ $found = 1 ] || echo "   $target: $total inputs executed, no finding"
  echo "   corpus now $(ls "$corpus" | wc -l) files"
done
exit $status
