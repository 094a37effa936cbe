#!/usr/bin/env bash
# Bounded mutation fuzzing of the checkpoint readers (pickle, legacy and zip torch files), seeded
# from the committed fixtures (Tests/Fixtures/checkpoints). Every mutated input must parse or be
# refused with a one-line error, within a second, without crashing. Usage:
#   Tools/fuzz.sh [SECONDS] [SEED]      (default 300 s, seed 1)
# A finding (crash, hang or assertion) is printed by the test runner with the seed; add the input
# as a regression case in Tests/CheckpointsTests/HostileInputTests.swift.
set -euo pipefail
cd "$(dirname "$0")/.."
export SUPERGLUE_FUZZ_SECONDS="${1:-300}"
export SUPERGLUE_FUZZ_SEED="${2:-1}"
swift test -c release -Xswiftc -enable-testing --filter 'mutatedFilesOnlyThrow' 2>&1 | grep -E "mutation test|✘|passed|failed"
