#!/usr/bin/env python3
"""Goldens for LightGlue's image preprocessing (kornia's antialiased resize), Tests/Fixtures/preprocess.

Usage (LIGHTGLUE = a cvg/LightGlue checkout, the folder holding lightglue/; kornia 0.9.0, torch 2.13):
  pip download --no-deps scikit-image==0.26.0 -d /tmp/skimage-wheel
  python3 Tools/reference/make_preprocess_fixtures.py --lightglue LIGHTGLUE \
      --skimage-wheel /tmp/skimage-wheel/scikit_image-0.26.0-*.whl --out Tests/Fixtures/preprocess

The reference path is LightGlue's `Extractor.extract`: `numpy_image_to_torch` (uint8 / 255.0 in
float64, then float32), then `ImagePreprocessor(resize=S)` (kornia.geometry.transform.resize with
side='long', antialias=True, align_corners=None), which also gives the `scale` that maps
keypoints back: (k + 0.5) / scale - 0.5.

Writes preprocess_golden.safetensors. For each case NAME:
  input/NAME     uint8  H x W x 3 (RGB) or H x W (grey, one channel); for the two large cases the
                 input is `base/NAME` repeated `repeat` times along both axes (np.repeat, nearest)
  scale/NAME     float32 [2]  (w'/w, h'/h) as ImagePreprocessor returns it
  output/NAME    float32 C x H' x W' when small; large outputs are summarised instead:
                 output/NAME:rows (every 128th row: rows 0, 128, ...), output/NAME:tl, output/NAME:br
                 (C x 16 x 16 corners), output/NAME:sum, output/NAME:sumsq (float64 per channel)
  blur/NAME      float32 C x H x W  the Gaussian-blurred input (only for some antialiased cases)
  kernel_y/NAME, kernel_x/NAME  float32 [k]  kornia's 1-D Gaussian taps (antialiased cases)
Also writes decode_rgb_golden.safetensors: `rgb/<file>` uint8 H x W x 3, LightGlue's read_image
(cv2.imread(file, IMREAD_COLOR), BGR -> RGB) for the committed Tests/Fixtures/images files in
DECODE_FILES: chroma subsampling, progressive, CMYK, grey JPEG and PNG, alpha, palette with
tRNS, 16-bit, EXIF orientations.

The metadata holds, per case, JSON with the output size, sigmas, kernel sizes and whether
antialiasing ran, plus the independent numpy float32 re-implementation's max difference.
"""
import argparse
import json
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import detector_ref  # noqa: E402
import fixture_io  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ROW_STRIDE = 128
LARGE = 200_000  # outputs with more values than this are summarised


def side_long_size(h, w, size):
    """kornia's _side_to_image_size(size, w / h, 'long'): int() truncation of a float64 quotient."""
    aspect = w / h
    if aspect < 1.0:
        return size, int(size * aspect)
    return int(size / aspect), size


def antialias_params(h, w, oh, ow):
    """kornia resize's antialias rule: sigma = max((factor - 1) / 2, 0.001), k = odd(int(max(4 sigma, 3)))."""
    fy, fx = h / oh, w / ow
    if not max(fy, fx) > 1:
        return None
    sig = (max((fy - 1.0) / 2.0, 0.001), max((fx - 1.0) / 2.0, 0.001))
    ks = [int(max(2.0 * 2 * s, 3)) for s in sig]
    ks = [k if k % 2 else k + 1 for k in ks]
    ks = (1 if h == 1 else ks[0], 1 if w == 1 else ks[1])
    return sig, ks


# ---- independent numpy re-implementation (float32), used only to check the written spec ----

def np_gauss(k, sigma):
    s = np.float32(sigma)
    x = np.arange(k, dtype=np.float32) - np.float32(k // 2)
    d = x * x
    d = d - d.min()
    g = np.exp(-d / (np.float32(2) * s * s)).astype(np.float32)
    return (g / g.sum(dtype=np.float32)).astype(np.float32)


def np_blur_axis(a, taps, axis):
    r = len(taps) // 2
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r, r)
    p = np.pad(a, pad, mode="reflect")  # mirror without repeating the edge sample
    out = np.zeros_like(a)
    n = a.shape[axis]
    for t, wt in enumerate(taps):
        out += np.take(p, np.arange(t, t + n), axis=axis) * np.float32(wt)
    return out


def np_bilinear_axis(a, out_n, axis):
    n = a.shape[axis]
    scale = np.float32(n) / np.float32(out_n)
    src = (np.arange(out_n, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    src = np.maximum(src, np.float32(0))
    i0 = src.astype(np.int64)
    lam = (src - i0.astype(np.float32)).astype(np.float32)
    i1 = np.minimum(i0 + 1, n - 1)
    shape = [1] * a.ndim
    shape[axis] = out_n
    lam = lam.reshape(shape)
    return np.take(a, i0, axis=axis) * (np.float32(1) - lam) + np.take(a, i1, axis=axis) * lam


def np_preprocess(x, size):
    c, h, w = x.shape
    oh, ow = side_long_size(h, w, size)
    aa = antialias_params(h, w, oh, ow)
    if aa:
        (sy, sx), (ky, kx) = aa
        x = np_blur_axis(x, np_gauss(kx, sx), 2)
        x = np_blur_axis(x, np_gauss(ky, sy), 1)
    x = np_bilinear_axis(x, oh, 1)
    return np_bilinear_axis(x, ow, 2)


# ---- cases ----

def chelsea_rgb():
    bgr = cv2.imread(str(REPO / "Tests/Fixtures/images/chelsea_rgb.png"), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(bgr[..., ::-1])


def cases(wheel):
    chelsea = chelsea_rgb()                                   # 200 x 133
    grey = cv2.imread(str(REPO / "Tests/Fixtures/images/coffee_gray.png"), cv2.IMREAD_GRAYSCALE)
    tiny = np.ascontiguousarray(cv2.imread(str(REPO / "Tests/Fixtures/images/tiny_7x7.png"))[..., ::-1])
    with zipfile.ZipFile(wheel) as z:
        rocket = cv2.imdecode(np.frombuffer(z.read("skimage/data/rocket.jpg"), np.uint8), cv2.IMREAD_COLOR)
    rocket = np.ascontiguousarray(cv2.resize(rocket, (160, 107), interpolation=cv2.INTER_AREA)[..., ::-1])
    rocket128 = np.ascontiguousarray(cv2.resize(chelsea, (128, 93), interpolation=cv2.INTER_AREA))
    # name: (input, target size, repeat factor for the large inputs, store the blurred image)
    return {
        "rgb_200x133_to_64": (chelsea, 64, 1, False),          # factor 3.1: sigma 1.06, k 5
        "rgb_120x80_to_15": (np.ascontiguousarray(chelsea[30:110, 40:160]), 15, 1, False),  # factor 8: sigma 3.5, k 15
        "grey_200x133_to_90": (grey, 90, 1, False),            # one channel
        "rgb_160x107_to_250": (rocket, 250, 1, False),         # upscaling: no blur
        "rgb_125x55_to_100": (chelsea[40:95, 30:155], 100, 1, False),   # height 43, not 44: int(100 / (125/55))
        "rgb_61x97_to_40": (np.ascontiguousarray(chelsea[10:107, 60:121]), 40, 1, False),  # portrait
        "rgb_64x64_to_48": (np.ascontiguousarray(chelsea[20:84, 50:114]), 48, 1, True),    # square
        "tiny_7x7_to_32": (tiny, 32, 1, False),                # tiny, upscaling
        "tiny_9x2_to_6": (np.ascontiguousarray(chelsea[60:62, 70:79]), 6, 1, True),  # 1 x 6 output, reflect pad on 2 rows
        "rgb_128x93_to_1024": (rocket128, 1024, 1, False),     # realistic upscale; height 743, not 744
        "rgb_3600x2394_to_1024": (chelsea, 1024, 18, False),   # realistic downscale: factor 3.5, k 5
    }


DECODE_FILES = [
    "chelsea_baseline.jpg", "chelsea_progressive.jpg", "coffee_444.jpg", "chelsea_cmyk.jpg", "synthetic_97x61.jpg",
    "chelsea_rgba.png", "chelsea_palette_trns.png", "chelsea_rgb16.png", "coffee_gray.png", "coffee_gray_alpha16.png",
    "tiny_1x1.jpg", "tiny_7x7.png", "exif_orientation_6.png",
] + [f"exif_orientation_{i}.jpg" for i in range(1, 9)]


def decode_goldens(lg):
    tensors = {}
    for name in DECODE_FILES:
        rgb = lg.utils.read_image(REPO / "Tests/Fixtures/images" / name)
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8, name
        tensors[f"rgb/{name}"] = np.ascontiguousarray(rgb)
    return tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lightglue", required=True, help="cvg/LightGlue checkout (folder holding lightglue/)")
    ap.add_argument("--skimage-wheel", required=True)
    ap.add_argument("--out", default=str(REPO / "Tests/Fixtures/preprocess"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    lg = detector_ref.import_lightglue(args.lightglue)
    import kornia

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    tensors, meta = {}, {"generator": "Tools/reference/make_preprocess_fixtures.py", **detector_ref.versions()}
    worst = 0.0
    for name, (image, size, repeat, keep_blur) in cases(args.skimage_wheel).items():
        full = image if repeat == 1 else np.repeat(np.repeat(image, repeat, axis=0), repeat, axis=1)
        x = lg.utils.numpy_image_to_torch(full)          # C x H x W float32
        pre = lg.utils.ImagePreprocessor(resize=size)
        with torch.no_grad():
            y, scale = pre(x[None])
        y = y[0]
        c, h, w = x.shape
        oh, ow = side_long_size(h, w, size)
        assert tuple(y.shape) == (c, oh, ow), (name, y.shape, (oh, ow))
        info = {"size": size, "in_hw": [h, w], "out_hw": [oh, ow], "repeat": repeat, "antialias": False}
        aa = antialias_params(h, w, oh, ow)
        if aa:
            (sy, sx), (ky, kx) = aa
            info.update(antialias=True, sigma=[sy, sx], kernel=[ky, kx])
            kern_y = kornia.filters.get_gaussian_kernel1d(ky, sy)[0]
            kern_x = kornia.filters.get_gaussian_kernel1d(kx, sx)[0]
            tensors[f"kernel_y/{name}"] = kern_y.numpy().astype(np.float32)
            tensors[f"kernel_x/{name}"] = kern_x.numpy().astype(np.float32)
            with torch.no_grad():
                blurred = kornia.filters.gaussian_blur2d(x[None], (ky, kx), (sy, sx))
                again = torch.nn.functional.interpolate(blurred, size=(oh, ow), mode="bilinear", align_corners=False)
            # The parameters above are the ones kornia used: blur + interpolate reproduces it bit for bit.
            assert torch.equal(again[0], y), name
            if keep_blur:
                tensors[f"blur/{name}"] = blurred[0].numpy()
        mine = np_preprocess(x.numpy(), size)
        diff = float(np.abs(mine - y.numpy()).max())
        info["numpy_reimplementation_max_abs_diff"] = diff
        worst = max(worst, diff)
        if repeat == 1:
            tensors[f"input/{name}"] = image
        else:
            tensors[f"base/{name}"] = image
        tensors[f"scale/{name}"] = scale.numpy().astype(np.float32)
        yn = y.numpy()
        if yn.size <= LARGE:
            tensors[f"output/{name}"] = yn
        else:
            tensors[f"output/{name}:rows"] = np.ascontiguousarray(yn[:, ::ROW_STRIDE, :])
            tensors[f"output/{name}:tl"] = np.ascontiguousarray(yn[:, :16, :16])
            tensors[f"output/{name}:br"] = np.ascontiguousarray(yn[:, -16:, -16:])
            tensors[f"output/{name}:sum"] = yn.astype(np.float64).sum(axis=(1, 2))
            tensors[f"output/{name}:sumsq"] = (yn.astype(np.float64) ** 2).sum(axis=(1, 2))
            info["row_stride"] = ROW_STRIDE
        meta[f"case/{name}"] = json.dumps(info, sort_keys=True)
        print(name, info)
    meta["numpy_reimplementation_worst_max_abs_diff"] = repr(worst)
    fixture_io.write_safetensors(out_dir / "preprocess_golden.safetensors", tensors, meta)
    fixture_io.write_safetensors(out_dir / "decode_rgb_golden.safetensors", decode_goldens(lg),
                                 {"generator": "Tools/reference/make_preprocess_fixtures.py", "cv2": cv2.__version__})
    print("worst numpy re-implementation difference", worst)


if __name__ == "__main__":
    main()
