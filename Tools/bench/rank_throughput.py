#!/usr/bin/env python3
"""Ranking-job throughput: images per second with the query's features computed once.

The target: our `superglue rank` at least 3x the images per second of the PyTorch original
(2.5x before), with a peak resident set under 400 MB, doing the same work per database image
(cv2 grayscale decode, resize to 640x480, SuperPoint with --max-keypoints, SuperGlue against the
cached query features, 20 Sinkhorn iterations). Ours additionally fits a RANSAC homography per image and writes a journal.

Both sides use the same random weights in the official layout: the reference modules are built
with PyTorch's default initialisation under --seed (as compare.py does) and saved as
superpoint_v1.pth / superglue_indoor.pth, which `superglue rank --weights` then loads (it
converts .pth on first use, outside the timed part). The two sides alternate --repeats times on
the same machine; medians of images/s are reported.

    python3 Tools/bench/rank_throughput.py --reference /work/reference \
        --ours .build/release/superglue --images /work/shared/images/phototourism_sample_images
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the reference loader and image helpers shared with compare.py)


def python_images_per_second(torch, cv2, matching, query, images, size_wh):
    with torch.inference_mode():
        q = compare.load_gray(cv2, torch, query, size_wh)
        cached = {k + "0": v for k, v in matching.superpoint({"image": q}).items()}
        start = time.perf_counter()
        for path in images:
            image = compare.load_gray(cv2, torch, path, size_wh)
            pred = matching({"image0": q, "image1": image, **cached})
            float(pred["matching_scores0"][0][pred["matches0"][0] > -1].sum())
        return len(images) / (time.perf_counter() - start)


def ours_images_per_second(binary, weights, query, folder, size_wh, max_keypoints, work):
    output = Path(work) / "ranking.csv"
    command = [binary, "rank", "--query", str(query), "--images", str(folder), "--output", str(output),
               "--weights", str(weights), "--no-cache", "--overwrite",
               "--resize", str(size_wh[0]), str(size_wh[1]), "--max-keypoints", str(max_keypoints)]
    return rank_images_per_second(command)


def rank_images_per_second(command, env=None):
    """Runs a `superglue rank` command; returns the images per second its summary reports and its
    peak resident set in MB (GNU time's %M; None without /usr/bin/time). The peak is not taken from
    RUSAGE_CHILDREN: a child forked from this Python process counts the parent's pages (torch's
    gigabytes) as its own until it execs."""
    with tempfile.NamedTemporaryFile(prefix="rank-rss-", suffix=".txt") as rss_file:
        timed = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name] + command if os.path.exists("/usr/bin/time") else command
        result = subprocess.run(timed, capture_output=True, text=True, env=env)
        peak_mb = None
        if timed is not command:
            text = Path(rss_file.name).read_text().strip().splitlines()
            peak_mb = int(text[-1]) / 1024.0 if text and text[-1].isdigit() else None
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    match = re.search(r"\(([0-9.]+) img/s\)", result.stderr + result.stdout)
    if not match:
        raise SystemExit(f"no 'img/s' summary in the output of {' '.join(command)}:\n{result.stderr}")
    return float(match.group(1)), peak_mb


def query_and_database(images, query=None, limit=None):
    """The query (given, else the first image of the folder by name) and up to `limit` other images."""
    files = sorted(p for p in Path(images).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    query = Path(query) if query else files[0]
    database = [p for p in files if p != query][:limit]
    if not database:
        raise SystemExit(f"no database images in {images}")
    return query, database


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", required=True, help="checkout of magicleap/SuperGluePretrainedNetwork")
    parser.add_argument("--ours", required=True, help="path of the release `superglue` binary")
    parser.add_argument("--images", default="/work/shared/images/phototourism_sample_images")
    parser.add_argument("--query", help="query image (default: the first image of --images)")
    parser.add_argument("--limit", type=int, default=12, help="database images used (after the query)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-keypoints", type=int, default=1024)
    parser.add_argument("--resize", type=int, nargs=2, default=[640, 480], metavar=("W", "H"))
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    query, database = query_and_database(args.images, args.query, args.limit)

    import cv2
    cv2.setNumThreads(1)
    compare_args = argparse.Namespace(reference=args.reference, threads=args.threads, seed=args.seed,
                                      max_keypoints=args.max_keypoints, superpoint_weights=None, superglue_weights=None)
    torch, ref = compare.setup_torch(compare_args)
    superpoint, superglue, matching = compare.build_models(torch, ref, compare_args)

    with tempfile.TemporaryDirectory(prefix="rank-throughput-") as work:
        work = Path(work)
        weights, folder = work / "weights", work / "images"
        weights.mkdir()
        folder.mkdir()
        torch.save(superpoint.state_dict(), weights / "superpoint_v1.pth")
        torch.save(superglue.state_dict(), weights / "superglue_indoor.pth")
        for path in database:
            (folder / path.name).symlink_to(path.resolve())
        # Untimed: converts the .pth files and warms the page cache.
        ours_images_per_second(args.ours, weights, query, folder, args.resize, args.max_keypoints, work)
        python_images_per_second(torch, cv2, matching, query, database[:2], args.resize)
        theirs, ours, peaks = [], [], []
        for _ in range(args.repeats):
            theirs.append(python_images_per_second(torch, cv2, matching, query, database, args.resize))
            rate, peak = ours_images_per_second(args.ours, weights, query, folder, args.resize, args.max_keypoints, work)
            ours.append(rate)
            if peak:
                peaks.append(peak)
            print(f"  PyTorch {theirs[-1]:.3f} img/s   ours {ours[-1]:.3f} img/s", flush=True)

    result = {"images": len(database), "query": str(query), "threads": args.threads,
              "pytorch_images_per_second": theirs, "ours_images_per_second": ours,
              "pytorch_median": statistics.median(theirs), "ours_median": statistics.median(ours),
              "ours_peak_rss_mb": max(peaks) if peaks else None}
    result["ratio"] = result["ours_median"] / result["pytorch_median"]
    print(f"ranking job, {len(database)} images, cached query, {args.threads} threads: "
          f"PyTorch {result['pytorch_median']:.3f} img/s, ours {result['ours_median']:.3f} img/s, "
          f"ratio {result['ratio']:.2f}x (target >= 3x: {'met' if result['ratio'] >= 3 else 'NOT met'}); "
          f"our peak RSS {result['ours_peak_rss_mb'] or 0:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
