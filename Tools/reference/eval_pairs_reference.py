#!/usr/bin/env python3
"""The reference's pose evaluation (match_pairs.py --eval, cv2-based) on OUR matches, compared
with our `superglue pairs --eval` results.

Usage:
  .build/release/superglue pairs --eval --pairs PAIRS --input-dir IMAGES --output-dir DUMP [options]
  PY=/work/venv-tv/bin/python   # any Python with numpy, cv2 and torch (the reference's utils import torch)
  $PY Tools/reference/eval_pairs_reference.py --reference PATH/TO/SuperGluePretrainedNetwork \
      --pairs PAIRS --input-dir IMAGES --dump-dir DUMP --features superpoint --resize 640 480
  (--features color --resize 640 for ALIKED and DISK: their keypoints are in original pixels and
   the network input is kornia's antialiased resize to that longer side; --json FILE also writes
   the per-pair comparison; --shuffles N reruns the reference's pose estimation on N random
   orders of the matches and reports the spread of its AUC.)

For each pair it reads our {stem0}_{stem1}_matches.npz, moves the ground truth to the network
input exactly as match_pairs.py does (scale_intrinsics, rotate_intrinsics, rotate_pose_inplane of
the reference's models/utils.py, imported from --reference), and runs the reference's
compute_epipolar_error, estimate_pose (cv2.findEssentialMat + cv2.recoverPose) and
compute_pose_error on the same matches; pose_auc gives the summary. It then compares with our
{stem0}_{stem1}_evaluation.npz: num_correct, precision and matching score must be equal (they are
deterministic functions of the matches), epipolar errors equal to float64 rounding; the pose
errors differ where the RANSAC samples differ (ours come from a seeded SplitMix64, cv2's from its
own generator), so the AUCs are reported side by side. With few matches per pair the AUC of one
RANSAC run is noisy; cv2's generator always starts from the same state, so --shuffles permutes
the matches to draw other samples and shows the reference's spread (compare with ours over
several --seed values: delete the *_evaluation.npz files and rerun `superglue pairs --eval`,
which evaluates the existing matches).

Compatibility shims, which do not change any computation: matplotlib (imported by the
reference's utils for plotting only) is replaced by an empty module when missing, and numpy >= 2.4
lacks np.trapz, which pose_auc calls: np.trapezoid is the same function under its new name.
"""
import argparse
import json
import sys
import types
from pathlib import Path

import cv2
import numpy as np


def import_reference_utils(reference):
    """models.utils of a SuperGluePretrainedNetwork checkout."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        stub = types.ModuleType("matplotlib")
        stub.use = lambda *args, **kwargs: None
        stub.cm = types.ModuleType("matplotlib.cm")
        stub.pyplot = types.ModuleType("matplotlib.pyplot")
        sys.modules.update({"matplotlib": stub, "matplotlib.cm": stub.cm, "matplotlib.pyplot": stub.pyplot})
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid
    sys.path.insert(0, str(Path(reference).resolve()))
    from models import utils  # noqa: E402
    return utils


def kornia_long_side_size(w, h, side):
    """kornia.geometry.transform.resize(side="long") output size (LightGlue's ImagePreprocessor)."""
    aspect = w / h
    return (int(side * aspect), side) if aspect < 1 else (side, int(side / aspect))


def input_frame(path, features, resize, rotation, utils):
    """(scales, keypoint divisor, image shape after rotation) of one image, as our CLI sees it."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    h, w = image.shape
    if features == "superpoint":
        w_new, h_new = utils.process_resize(w, h, resize)
        scales = (float(w) / float(w_new), float(h) / float(h_new))
        shape = (h_new, w_new)
        if rotation % 2:
            scales = scales[::-1]
            shape = shape[::-1]
        return scales, (1.0, 1.0), shape
    if rotation != 0:
        raise SystemExit("ALIKED and DISK pairs cannot be rotated")
    w_new, h_new = kornia_long_side_size(w, h, resize[0]) if resize[0] > 0 else (w, h)
    scales = (float(w) / float(w_new), float(h) / float(h_new))
    return scales, scales, (h_new, w_new)


def pose_error(utils, mkpts0, mkpts1, K0, K1, T_0to1):
    """max(error_t, error_R) of the reference's estimate_pose, inf when it finds no pose."""
    ret = utils.estimate_pose(mkpts0, mkpts1, K0, K1, 1.0)
    if ret is None:
        return np.inf, np.inf, 0
    R, t, mask = ret
    err_t, err_R = utils.compute_pose_error(T_0to1, R, t)
    return err_t, err_R, int(mask.sum())


def reference_evaluation(pair, args, utils):
    name0, name1 = pair[:2]
    rot0, rot1 = int(pair[2]), int(pair[3])
    stem0, stem1 = Path(name0).stem, Path(name1).stem
    ours = np.load(Path(args.dump_dir) / f"{stem0}_{stem1}_matches.npz")
    kpts0, kpts1, matches = ours["keypoints0"], ours["keypoints1"], ours["matches"]
    scales0, divisor0, shape0 = input_frame(Path(args.input_dir) / name0, args.features, args.resize, rot0, utils)
    scales1, divisor1, shape1 = input_frame(Path(args.input_dir) / name1, args.features, args.resize, rot1, utils)
    valid = matches > -1
    mkpts0 = kpts0[valid] / np.array(divisor0)
    mkpts1 = kpts1[matches[valid]] / np.array(divisor1)

    K0 = np.array(pair[4:13]).astype(float).reshape(3, 3)
    K1 = np.array(pair[13:22]).astype(float).reshape(3, 3)
    T_0to1 = np.array(pair[22:]).astype(float).reshape(4, 4)
    K0 = utils.scale_intrinsics(K0, scales0)
    K1 = utils.scale_intrinsics(K1, scales1)
    if rot0 != 0 or rot1 != 0:
        # match_pairs.py: turn the intrinsics with the image, fold the turns into T_0to1.
        cam0_T_w, cam1_T_w = np.eye(4), T_0to1
        if rot0 != 0:
            K0 = utils.rotate_intrinsics(K0, shape0, rot0)
            cam0_T_w = utils.rotate_pose_inplane(cam0_T_w, rot0)
        if rot1 != 0:
            K1 = utils.rotate_intrinsics(K1, shape1, rot1)
            cam1_T_w = utils.rotate_pose_inplane(cam1_T_w, rot1)
        T_0to1 = cam1_T_w @ np.linalg.inv(cam0_T_w)

    epi_errs = utils.compute_epipolar_error(mkpts0, mkpts1, T_0to1, K0, K1)
    correct = epi_errs < 5e-4
    num_correct = int(np.sum(correct))
    precision = float(np.mean(correct)) if len(correct) > 0 else 0.0
    matching_score = num_correct / len(kpts0) if len(kpts0) > 0 else 0.0
    err_t, err_R, inliers = pose_error(utils, mkpts0, mkpts1, K0, K1, T_0to1)
    shuffled = []
    for k in range(args.shuffles):
        order = np.random.default_rng(k).permutation(len(mkpts0))
        shuffled.append(float(max(pose_error(utils, mkpts0[order], mkpts1[order], K0, K1, T_0to1)[:2])))
    ev = np.load(Path(args.dump_dir) / f"{stem0}_{stem1}_evaluation.npz")
    our_errs = ev["epipolar_errors"]
    diff = np.abs(our_errs - epi_errs) if len(epi_errs) == len(our_errs) else np.array([np.inf])
    return {
        "pair": f"{stem0} {stem1}",
        "matches": int(valid.sum()),
        "num_correct": [int(ev["num_correct"]), num_correct],
        "precision": [float(ev["precision"]), precision],
        "matching_score": [float(ev["matching_score"]), matching_score],
        "epipolar_max_abs_diff": float(diff.max()) if len(diff) else 0.0,
        "epipolar_max_rel_diff": float((diff / np.maximum(np.abs(epi_errs), 1e-300)).max()) if len(diff) and len(epi_errs) else 0.0,
        "error_t": [float(ev["error_t"]), float(err_t)],
        "error_R": [float(ev["error_R"]), float(err_R)],
        "reference_ransac_inliers": inliers,
        "reference_shuffled_pose_errors": shuffled,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", required=True, help="SuperGluePretrainedNetwork checkout (models/utils.py)")
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--input-dir", required=True)
    parser.add_argument("--dump-dir", required=True, help="--output-dir of `superglue pairs --eval`")
    parser.add_argument("--features", choices=["superpoint", "color"], default="superpoint")
    parser.add_argument("--resize", type=int, nargs="+", default=[640, 480])
    parser.add_argument("--json", help="also write the per-pair comparison here")
    parser.add_argument("--shuffles", type=int, default=0, help="reference runs on shuffled matches, for the AUC's spread")
    args = parser.parse_args()
    if len(args.resize) == 2 and args.resize[1] == -1:
        args.resize = args.resize[:1]
    utils = import_reference_utils(args.reference)
    with open(args.pairs) as f:
        pairs = [line.split() for line in f if line.strip()]
    rows = [reference_evaluation(p, args, utils) for p in pairs]

    exact = all(r["num_correct"][0] == r["num_correct"][1] and r["precision"][0] == r["precision"][1]
                and r["matching_score"][0] == r["matching_score"][1] for r in rows)
    print(f"{'pair':58s} {'matches':>7s} {'correct o/r':>11s} {'err_t ours/ref':>16s} {'err_R ours/ref':>16s} {'epi rel diff':>12s}")
    for r in rows:
        print(f"{r['pair']:58s} {r['matches']:7d} {r['num_correct'][0]:5d}/{r['num_correct'][1]:<5d} "
              f"{r['error_t'][0]:7.2f}/{r['error_t'][1]:<8.2f} {r['error_R'][0]:7.2f}/{r['error_R'][1]:<8.2f} "
              f"{r['epipolar_max_rel_diff']:12.2e}")
    summary = {}
    for side, k in (("ours", 0), ("reference", 1)):
        errors = [max(r["error_t"][k], r["error_R"][k]) for r in rows]
        aucs = [100 * a for a in utils.pose_auc(errors, [5, 10, 20])]
        prec = 100 * np.mean([r["precision"][k] for r in rows])
        ms = 100 * np.mean([r["matching_score"][k] for r in rows])
        summary[side] = {"auc5": aucs[0], "auc10": aucs[1], "auc20": aucs[2], "precision": prec, "matching_score": ms}
    print("\n           AUC@5   AUC@10  AUC@20  Prec    MScore")
    for side in ("ours", "reference"):
        s = summary[side]
        print(f"{side:10s} {s['auc5']:6.2f}  {s['auc10']:6.2f}  {s['auc20']:6.2f}  {s['precision']:6.2f}  {s['matching_score']:6.2f}")
    if args.shuffles:
        runs = np.array([[100 * a for a in utils.pose_auc([r["reference_shuffled_pose_errors"][k] for r in rows], [5, 10, 20])]
                         for k in range(args.shuffles)])
        summary["reference_shuffled"] = {"runs": runs.tolist(), "mean": runs.mean(0).tolist(), "std": runs.std(0).tolist()}
        print(f"reference over {args.shuffles} match orders: AUC@5/10/20 mean "
              + " / ".join(f"{m:.2f}" for m in runs.mean(0)) + ", std " + " / ".join(f"{s:.2f}" for s in runs.std(0))
              + ", min " + " / ".join(f"{v:.2f}" for v in runs.min(0)) + ", max " + " / ".join(f"{v:.2f}" for v in runs.max(0)))
    print(f"\nnum_correct, precision and matching score identical on every pair: {exact}")
    print(f"epipolar errors: max absolute difference {max(r['epipolar_max_abs_diff'] for r in rows):.2e}, "
          f"max relative difference {max(r['epipolar_max_rel_diff'] for r in rows):.2e}")
    if args.json:
        Path(args.json).write_text(json.dumps({"pairs": rows, "summary": summary, "exact": exact}, indent=1))
    sys.exit(0 if exact else 1)


if __name__ == "__main__":
    main()
