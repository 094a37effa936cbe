#!/usr/bin/env python3
"""Soak run of `superglue rank`: memory stays flat after warm-up and no file descriptor leaks.

Builds a folder of N database images (hard links to the JPEG/PNG files of --seed-images, cycled,
each under its own name), runs one `superglue rank` over it without the feature cache, and samples
the process every --interval seconds: resident set size (VmRSS, /proc/PID/status) and open file
descriptors (/proc/PID/fd), with the number of images done (journal lines). It reports the RSS
after warm-up (the first --warmup fraction of the images) and at the end, the least-squares slope
of RSS per 1,000 images after warm-up, the peak, and the descriptor counts; it exits 1 when
the slope exceeds --max-slope-mb or the descriptors at the end exceed those after warm-up.

    python3 Tools/bench/soak.py --binary .build/release/superglue --seed-images /work/shared/images/phototourism_sample_images \
        --count 2000 -- --features aliked-n16 --resize 512

Arguments after `--` go to `superglue rank` (detector, resize, weights, lanes). The trace is
written to --trace (CSV: seconds, images_done, rss_mb, fds).
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXTENSIONS = {".jpg", ".jpeg", ".png"}


def rss_and_fds(pid):
    rss = None
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024.0
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None, None
    return rss, fds


def journal_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def slope(points):
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if sxx == 0 else sum((x - mx) * (y - my) for x, y in points) / sxx


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/superglue")
    parser.add_argument("--seed-images", required=True, help="folder whose images are cycled to make the database")
    parser.add_argument("--query", help="query image (default: the first seed image)")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of the images treated as warm-up")
    parser.add_argument("--max-slope-mb", type=float, default=5.0, help="allowed RSS growth per 1,000 images after warm-up")
    parser.add_argument("--trace", default="soak-trace.csv")
    parser.add_argument("--work", help="work folder (default: a temporary one, removed)")
    parser.add_argument("rank_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    extra = [a for a in args.rank_args if a != "--"]

    seeds = sorted(p for p in Path(args.seed_images).rglob("*") if p.suffix.lower() in EXTENSIONS)
    if not seeds:
        raise SystemExit(f"no images in {args.seed_images}")
    query = Path(args.query) if args.query else seeds[0]
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="superglue-soak-"))
    database = work / "images"
    database.mkdir(parents=True, exist_ok=True)
    for i in range(args.count):
        seed = seeds[i % len(seeds)]
        target = database / f"{i:06d}{seed.suffix.lower()}"
        if not target.exists():
            try:
                os.link(seed, target)
            except OSError:
                target.write_bytes(seed.read_bytes())
    output = work / "results.csv"
    journal = Path(str(output) + ".journal")
    command = [args.binary, "rank", "--query", str(query), "--images", str(database), "--output", str(output),
               "--no-cache", "--overwrite", "--quiet"] + extra
    print("+", " ".join(command), file=sys.stderr)
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []
    while process.poll() is None:
        rss, fds = rss_and_fds(process.pid)
        if rss is not None:
            samples.append((time.monotonic() - start, journal_lines(journal), rss, fds))
        time.sleep(args.interval)
    stdout, stderr = process.communicate()
    elapsed = time.monotonic() - start
    if process.returncode != 0:
        raise SystemExit(f"rank failed ({process.returncode}): {stderr.strip()[-2000:]}")
    with open(args.trace, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["seconds", "images_done", "rss_mb", "fds"])
        writer.writerows((f"{t:.2f}", n, f"{r:.1f}", d) for t, n, r, d in samples)

    warm = int(args.warmup * args.count)
    after = [(n, r) for _, n, r, _ in samples if n >= warm]
    if len(after) < 2:
        raise SystemExit("too few samples after warm-up; lower --interval or raise --count")
    growth = slope(after) * 1000
    fds_warm = next(d for _, n, _, d in samples if n >= warm)
    fds_end = samples[-1][3]
    peak = max(r for _, _, r, _ in samples)
    print(f"images: {args.count} in {elapsed:.0f} s ({args.count / elapsed:.2f} img/s), {len(samples)} samples")
    print(f"RSS: {after[0][1]:.0f} MB after warm-up ({warm} images), {after[-1][1]:.0f} MB at the end, "
          f"peak {peak:.0f} MB, slope {growth:+.2f} MB per 1,000 images after warm-up")
    print(f"file descriptors: {fds_warm} after warm-up, {fds_end} at the end")
    print(f"trace: {args.trace}")
    failed = growth > args.max_slope_mb or fds_end > fds_warm
    if not args.work:
        for p in database.iterdir():
            p.unlink()
        database.rmdir()
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
