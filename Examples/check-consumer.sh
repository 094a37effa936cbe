#!/usr/bin/env bash
# Builds Examples/Consumer the way a user's package would use SuperGlueKit: by URL and version
# (`.package(url:from:)`), against a clean clone of this repository's committed HEAD tagged with
# the version the consumer asks for. Uncommitted changes are not seen: commit first.
#
#   Examples/check-consumer.sh            # swift build (debug) of the consumer
#   Examples/check-consumer.sh -c release # extra arguments go to `swift build`
#
# Everything (the clone, SwiftPM's build folder, caches and fingerprints) lives in one temporary
# folder that is removed on exit; nothing is written to the repository or to ~/.swiftpm.
# Offline: swift-argument-parser, which SuperGlueKit's manifest names, resolves through git's
# url.insteadOf settings like any other github.com package on this machine.
# Exit status: 0 when the consumer builds, non-zero otherwise (with the build's output).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
fail() { echo "check-consumer: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/superglue-consumer.XXXXXX")
clone="$work/SuperGlueKit"
trap 'rm -rf "$work"' EXIT

# 1. A clean clone of the committed HEAD. Its only tag will be the version the consumer asks for.
head=$(git -C "$repo" rev-parse HEAD)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
    echo "check-consumer: note: uncommitted changes in $repo are not part of this check (HEAD $head)" >&2
fi
git clone --quiet --no-checkout "$repo" "$clone"
git -C "$clone" checkout --quiet --detach "$head"

# 2. The version in the consumer's `from:`, as the clone's only tag, so that `from:` resolves to HEAD.
version=$(sed -n 's/.*\.package(url: *superGlueKitURL, *from: *"\([0-9][0-9.]*\)").*/\1/p' "$clone/Examples/Consumer/Package.swift")
[ -n "$version" ] || fail "no '.package(url: superGlueKitURL, from: \"X.Y.Z\")' in Examples/Consumer/Package.swift"
git -C "$clone" tag -l | xargs -r git -C "$clone" tag -d >/dev/null
git -C "$clone" tag "$version"

# 3. The consumer, from the same committed state, outside the clone.
cp -R "$clone/Examples/Consumer" "$work/Consumer"
rm -rf "$work/Consumer/.build" "$work/Consumer/Package.resolved"

# 4. The committed main.swift must be the committed README's "Library" example, verbatim.
# awk reads to the end (no early exit): with pipefail, sed would otherwise die of SIGPIPE.
readme_example=$(sed -n '/^## Library/,/^## /p' "$clone/README.md" | awk '/^```swift/ && !done {f=1; next} /^```/ && f {f=0; done=1} f')
[ -n "$readme_example" ] || fail "README.md has no swift code block under '## Library'"
if ! diff -u <(printf '%s\n' "$readme_example") "$clone/Examples/Consumer/Sources/Consumer/main.swift" >&2; then
    fail "Examples/Consumer/Sources/Consumer/main.swift differs from README.md's Library example (diff above); copy the README's block into it"
fi

echo "check-consumer: building Examples/Consumer against file://$clone from: \"$version\" (HEAD $head)"
start=$SECONDS
if ! (cd "$work/Consumer" && SUPERGLUEKIT_URL="file://$clone" swift build \
        --scratch-path "$work/build" --cache-path "$work/cache" --config-path "$work/config" \
        --security-path "$work/security" --disable-dependency-cache "$@" >"$work/build.log" 2>&1); then
    cat "$work/build.log" >&2
    fail "the consumer does not build against SuperGlueKit $version by version (log above)"
fi
grep -E 'warning:|Build complete' "$work/build.log" || true
echo "check-consumer: OK: the Library example builds against SuperGlueKit $version by version ($((SECONDS - start)) s)"
