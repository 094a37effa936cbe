#!/usr/bin/env python3
"""Same-run A/B timing of two `superglue` binaries (e.g. before and after a refactor).

Runs `BINARY benchmark --random-weights --json` alternately for each binary (A B A B ...), so
both see the same machine load, and prints per-stage medians and the B/A ratio.

Usage:
  python3 Tools/bench/ab_benchmark.py --a /tmp/before/superglue --b .build/release/superglue \
      --image0 IMG0 --image1 IMG1 [--rounds 5] [--runs 5]
"""
import argparse
import json
import statistics
import subprocess


def run(binary, args):
    cmd = [binary, "benchmark", "--random-weights", "--json", "--image0", args.image0, "--image1", args.image1,
           "--runs", str(args.runs), "--warmup", "1"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="baseline superglue binary")
    parser.add_argument("--b", required=True, help="candidate superglue binary")
    parser.add_argument("--image0", required=True)
    parser.add_argument("--image1", required=True)
    parser.add_argument("--rounds", type=int, default=5, help="A/B alternations")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per stage per invocation")
    args = parser.parse_args()

    samples = {"a": {}, "b": {}}
    for round_index in range(args.rounds):
        for side in ("a", "b"):
            result = run(getattr(args, side), args)
            for stage, value in result.items():
                values = value if isinstance(value, list) else [value]
                samples[side].setdefault(stage, []).extend(v for v in values if isinstance(v, (int, float)))
        print(f"round {round_index + 1}/{args.rounds} done", flush=True)

    print(f"{'stage':<24} {'A median':>10} {'B median':>10} {'B/A':>7}   (n per side)")
    for stage in sorted(samples["a"]):
        a, b = samples["a"][stage], samples["b"].get(stage, [])
        if not a or not b:
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = mb / ma if ma else float("nan")
        print(f"{stage:<24} {ma:>10.2f} {mb:>10.2f} {ratio:>7.3f}   ({len(a)}, {len(b)})")


if __name__ == "__main__":
    main()
