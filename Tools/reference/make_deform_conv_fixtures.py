#!/usr/bin/env python3
"""Goldens for the deformable 3x3 convolution kernel (torchvision.ops.deform_conv2d), Tests/Fixtures/deform_conv.

Usage (needs a torchvision whose compiled ops load, e.g. PyPI torch 2.13 + torchvision 0.28):
  python3 Tools/reference/make_deform_conv_fixtures.py --out Tests/Fixtures/deform_conv

Writes deform_conv_golden.safetensors. For each case NAME (batch 1, stride 1, dilation 1,
one offset group, kernel 3 x 3 unless the metadata says otherwise):
  NAME/input   float32 [Cin, H, W]
  NAME/offset  float32 [2*kh*kw, Hout, Wout]   channel 2k is the y (row) offset of tap k = i*kw + j,
                                               channel 2k+1 its x (column) offset
  NAME/weight  float32 [Cout, Cin, kh, kw]
  NAME/bias    float32 [Cout]                  (only when the case has a bias)
  NAME/mask    float32 [kh*kw, Hout, Wout]     (only for the modulated case; ALIKED uses none)
  NAME/output  float32 [Cout, Hout, Wout]      torchvision.ops.deform_conv2d
The metadata holds each case's padding and the max difference of the independent float64 numpy
loop below, which implements the semantics written in the spec.

Values are drawn from a seeded generator and rounded to multiples of 2^-10 (inputs, weights)
and 2^-8 (offsets), so sample positions are exact in float32; the "edges" case puts every
sample on a listed position: the -1 / H (-1 / W) borders, just inside them, integers, halves.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_io  # noqa: E402

SEED = 20260915
REPO = Path(__file__).resolve().parents[2]


def q(x, bits):
    return (np.round(np.asarray(x) * 2.0 ** bits) / 2.0 ** bits).astype(np.float32)


def bilinear_zero(img, y, x):
    """Sample one channel at (y, x): 0 outside (-1, H) x (-1, W), missing corners count as 0."""
    h, w = img.shape
    if y <= -1 or y >= h or x <= -1 or x >= w:
        return 0.0
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    ly, lx = y - y0, x - x0
    total = 0.0
    for yy, wy in ((y0, 1 - ly), (y0 + 1, ly)):
        for xx, wx in ((x0, 1 - lx), (x0 + 1, lx)):
            if 0 <= yy < h and 0 <= xx < w:
                total += wy * wx * float(img[yy, xx])
    return total


def naive(inp, offset, weight, bias, mask, pad):
    cin, h, w = inp.shape
    cout, _, kh, kw = weight.shape
    ho, wo = h + 2 * pad - kh + 1, w + 2 * pad - kw + 1
    cols = np.zeros((cin, kh, kw, ho, wo))
    for oy in range(ho):
        for ox in range(wo):
            for i in range(kh):
                for j in range(kw):
                    k = i * kw + j
                    y = oy - pad + i + float(offset[2 * k, oy, ox])
                    x = ox - pad + j + float(offset[2 * k + 1, oy, ox])
                    m = 1.0 if mask is None else float(mask[k, oy, ox])
                    for c in range(cin):
                        cols[c, i, j, oy, ox] = m * bilinear_zero(inp[c], y, x)
    out = np.einsum("oc ij,cijyx->oyx".replace(" ", ""), weight.astype(np.float64), cols)
    if bias is not None:
        out += bias[:, None, None]
    return out


def make_cases(rng):
    cases = {}

    # 1. small, bias, offsets N(0, 1.5): a mix of inside, partly outside and fully outside samples
    cin, cout, h, w = 5, 7, 6, 9
    cases["small_bias"] = dict(
        input=q(rng.normal(size=(cin, h, w)), 10), weight=q(rng.normal(size=(cout, cin, 3, 3)) * 0.3, 10),
        bias=q(rng.normal(size=cout), 10), offset=q(rng.normal(size=(18, h, w)) * 1.5, 8), pad=1)

    # 2. exact edge positions: every tap of every output lands on a listed position
    cin, cout, h, w = 3, 4, 5, 6
    def specials(n):
        return np.array([-1.0, -255 / 256, -0.5, -0.25, 0.0, 0.5, 1.0, 2.75, n - 1.0, n - 0.5, n - 1 / 256, n, n + 0.5,
                         -1.5, 3.0, 1.25], np.float64)
    oy, ox = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    offset = np.zeros((18, h, w))
    for k in range(9):
        i, j = divmod(k, 3)
        ty = specials(h)[rng.integers(0, 16, size=(h, w))]
        tx = specials(w)[rng.integers(0, 16, size=(h, w))]
        offset[2 * k] = ty - (oy - 1 + i)
        offset[2 * k + 1] = tx - (ox - 1 + j)
    cases["edges"] = dict(
        input=q(rng.normal(size=(cin, h, w)), 10), weight=q(rng.normal(size=(cout, cin, 3, 3)) * 0.3, 10),
        bias=None, offset=q(offset, 8), pad=1)

    # 3. ALIKED block3.conv1 shape at a 160x128 input: 32 -> 64 channels on 16 x 20,
    #    offsets clamped to +-max(h, w) / 4 as ALIKED does
    cin, cout, h, w = 32, 64, 16, 20
    lim = max(h, w) / 4.0
    cases["aliked_block3"] = dict(
        input=q(np.maximum(rng.normal(size=(cin, h, w)), -1.7), 10),
        weight=q(rng.normal(size=(cout, cin, 3, 3)) * 0.08, 10), bias=None,
        offset=q(np.clip(rng.normal(size=(18, h, w)) * 3.0, -lim, lim), 8), pad=1)

    # 4. tiny map with large offsets (block4 of a small image): most samples fall outside
    cin, cout, h, w = 8, 6, 2, 3
    cases["tiny_far"] = dict(
        input=q(rng.normal(size=(cin, h, w)), 10), weight=q(rng.normal(size=(cout, cin, 3, 3)) * 0.3, 10),
        bias=q(rng.normal(size=cout), 10), offset=q(rng.uniform(-4, 4, size=(18, h, w)), 8), pad=1)

    # 5. zero offsets: must equal an ordinary 3x3 convolution with zero padding
    cin, cout, h, w = 4, 5, 7, 8
    cases["zero_offsets"] = dict(
        input=q(rng.normal(size=(cin, h, w)), 10), weight=q(rng.normal(size=(cout, cin, 3, 3)) * 0.3, 10),
        bias=None, offset=np.zeros((18, h, w), np.float32), pad=1)

    # 6. modulated (DCNv2 mask), for completeness only: ALIKED's released models use no mask
    cin, cout, h, w = 4, 3, 5, 7
    cases["masked"] = dict(
        input=q(rng.normal(size=(cin, h, w)), 10), weight=q(rng.normal(size=(cout, cin, 3, 3)) * 0.3, 10),
        bias=None, offset=q(rng.normal(size=(18, h, w)), 8), mask=q(rng.uniform(0, 1, size=(9, h, w)), 8), pad=1)
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "Tests/Fixtures/deform_conv"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    from torchvision.ops import deform_conv2d
    import torchvision

    rng = np.random.default_rng(SEED)
    tensors = {}
    meta = {"generator": "Tools/reference/make_deform_conv_fixtures.py", "torch": torch.__version__,
            "torchvision": torchvision.__version__}
    for name, c in make_cases(rng).items():
        t = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a, np.float32))[None]  # noqa: E731
        bias = None if c["bias"] is None else torch.from_numpy(c["bias"])
        with torch.no_grad():
            out = deform_conv2d(t(c["input"]), t(c["offset"]), torch.from_numpy(c["weight"]), bias=bias,
                                padding=c["pad"], mask=t(c.get("mask")))[0].numpy()
        ref = naive(c["input"], c["offset"], c["weight"], c["bias"], c.get("mask"), c["pad"])
        diff = float(np.abs(ref - out).max())
        assert diff < 1e-4, (name, diff)
        if name == "zero_offsets":
            conv = torch.nn.functional.conv2d(t(c["input"]), torch.from_numpy(c["weight"]), padding=1)[0].numpy()
            assert np.abs(conv - out).max() < 1e-5
        for key in ("input", "offset", "weight", "bias", "mask"):
            if c.get(key) is not None:
                tensors[f"{name}/{key}"] = np.ascontiguousarray(c[key], np.float32)
        tensors[f"{name}/output"] = out.astype(np.float32)
        meta[f"case/{name}"] = json.dumps({"padding": c["pad"], "stride": 1, "dilation": 1,
                                           "naive_float64_max_abs_diff": diff})
        print(name, out.shape, "naive vs torchvision", diff)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    fixture_io.write_safetensors(out_dir / "deform_conv_golden.safetensors", tensors, meta)


if __name__ == "__main__":
    main()
