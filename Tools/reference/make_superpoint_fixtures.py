#!/usr/bin/env python3
"""Random-weight SuperPoint checkpoint and golden outputs from the PyTorch reference.

Usage:
  pip download --no-deps scikit-image==0.26.0 -d /tmp/skimage-wheel
  python3 Tools/reference/make_superpoint_fixtures.py --reference /work/reference \
      --skimage-wheel /tmp/skimage-wheel/scikit_image-0.26.0-*.whl --out Tests/Fixtures/superpoint

Writes into --out:
  superpoint_random.safetensors  SuperPoint weights with the official state_dict names and shapes,
                                 int8-quantized (fixture_io.quantize_state_dict) so that the
                                 float32 values the reference runs on are stored exactly.
  golden_<case>.safetensors      one per case: the uint8 input image, the reference's keypoints,
                                 scores and a deterministic subset of descriptor rows, and the
                                 config it ran with (metadata). A case whose input image is that
                                 of an earlier case stores no image; metadata "image_from" names
                                 the case that holds it.

Reproducible across CPUs: before importing torch the script caps ATen's vectorised kernels and
oneDNN at AVX2 (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2, unless already set), the code
path of the machine that made the committed files; an AVX-512 machine otherwise gets scores about
1e-5 away.

Why the weights are "shaped": plainly drawn N(0, 2/fan_in) weights make SuperPoint degenerate
(every NMS survivor passes the threshold, one cell position wins everywhere, descriptors all
point the same way), and parity on such outputs proves little. The shaping below makes the random
network behave like a trained one, and the script asserts it does, on the exact stored weights:
  * conv1a filters sum to zero, so flat image regions produce no response;
  * every encoder layer is rescaled and re-biased (on calibration photos) so that its
    pre-activations have zero mean and unit variance per channel: ReLUs stay about half active
    instead of dying or saturating through eight layers;
  * the mean feature direction (over the calibration photos) is projected out of the inputs of
    convPa, convDa, convPb and convDb, and the output biases centre the logits/descriptors: no
    cell position or descriptor direction is favoured by the image-independent part of the signal;
  * the dustbin bias of convPb is chosen so a 640x480 photo yields 500..3000 keypoints.
"""
import argparse
import io
import json
import os
import sys
import zipfile
from pathlib import Path
from unittest import mock

# Set before torch is imported (module docstring).
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_io  # noqa: E402

SEED = 20260307
DESCRIPTOR_ROWS = 64   # descriptor rows stored per golden case (evenly spaced over the keypoints)
THRESHOLD = 0.005      # reference default keypoint_threshold
TARGET_KEYPOINTS = 1500

ENCODER = [("conv1a", 1, 64), ("conv1b", 64, 64), "pool",
           ("conv2a", 64, 64), ("conv2b", 64, 64), "pool",
           ("conv3a", 64, 128), ("conv3b", 128, 128), "pool",
           ("conv4a", 128, 128), ("conv4b", 128, 128)]

# Photos from scikit-image's wheel (licences in Tests/Fixtures/superpoint/README.md).
PHOTOS = {"astronaut": "skimage/data/astronaut.png",   # NASA, public domain
          "coffee": "skimage/data/coffee.png",         # CC0, Rachel Michetti
          "rocket": "skimage/data/rocket.jpg",         # SpaceX, public domain
          "chelsea": "skimage/data/chelsea.png"}       # CC0, Stefan van der Walt
# Calibration and the 500..3000 keypoint check use these at 640x480. Chelsea is left out of them:
# upscaled from 451x300 it is too blurred to be a typical 640x480 photo (a few hundred keypoints).
CALIBRATION_PHOTOS = ("astronaut", "coffee", "rocket")


def load_photos(wheel):
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for name, member in PHOTOS.items():
            data = np.frombuffer(z.read(member), np.uint8)
            gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
            assert gray is not None, member
            out[name] = gray
    return out


def synthetic_image(width=640, height=480):
    """Shapes with corners, curves and texture on a gradient, plus mild noise (seeded)."""
    rng = np.random.default_rng(SEED + 1)
    yy, xx = np.mgrid[0:height, 0:width]
    img = (60 + 80 * xx / width + 40 * yy / height).astype(np.float64)
    img = img.astype(np.uint8)
    for _ in range(14):
        x0, y0 = int(rng.integers(0, width - 80)), int(rng.integers(0, height - 80))
        w, h = int(rng.integers(20, 140)), int(rng.integers(20, 120))
        cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), int(rng.integers(0, 256)), -1)
    for _ in range(10):
        c = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(img, c, int(rng.integers(8, 60)), int(rng.integers(0, 256)), int(rng.choice([-1, 3])))
    for _ in range(6):
        pts = rng.integers(0, [width, height], size=(int(rng.integers(3, 7)), 2)).astype(np.int32)
        cv2.fillPoly(img, [pts], int(rng.integers(0, 256)))
    for _ in range(12):
        p, q = rng.integers(0, [width, height], size=(2, 2))
        cv2.line(img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), int(rng.integers(0, 256)), 2)
    # A checkerboard patch: many exact corners.
    sq = 12
    board = ((np.add.outer(np.arange(8 * sq) // sq, np.arange(10 * sq) // sq) % 2) * 200 + 25).astype(np.uint8)
    img[300:300 + 8 * sq, 420:420 + 10 * sq] = board
    noise = rng.normal(0, 3.0, img.shape)
    return np.clip(img.astype(np.float64) + noise, 0, 255).round().astype(np.uint8)


def resize(gray, width, height):
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_LINEAR)


def to_input(u8):
    # Same arithmetic as the reference's frame2tensor on the float32 image of read_image.
    return torch.from_numpy(u8.astype(np.float32) / 255.).float()[None, None]


def conv(x, w, b=None):
    pad = w.shape[-1] // 2
    return F.conv2d(x, torch.from_numpy(w), None if b is None else torch.from_numpy(b), padding=pad)


def quantized(w):
    """The float32 values a weight will have once stored (quantize_state_dict semantics)."""
    exact, _ = fixture_io.quantize_state_dict({"w": w.astype(np.float32)})
    return exact["w"]


def channel_stats(y):
    v = y.transpose(0, 1).reshape(y.shape[1], -1).double()
    return v.mean(1).numpy(), v.std(1).numpy()


def normalized_layer(rng, x, c_in, c_out, k, zero_sum=False, remove_dir=None, center=True):
    """Draw a conv layer, shape it as described in the module docstring, return (w, b) float32."""
    w = rng.normal(0, np.sqrt(2.0 / (c_in * k * k)), (c_out, c_in, k, k))
    if zero_sum:
        w -= w.mean(axis=(1, 2, 3), keepdims=True)
    if remove_dir is not None:
        # Remove the input mean direction from every tap: w[o, :, i, j] -= (w[o, :, i, j] . d) d.
        d = remove_dir / np.linalg.norm(remove_dir)
        w -= np.einsum("ocij,c->oij", w, d)[:, None] * d[None, :, None, None]
    w = w.astype(np.float32)
    _, sd = channel_stats(conv(x, w))
    w = (w / np.maximum(sd, 1e-6)[:, None, None, None]).astype(np.float32)
    if zero_sum:
        w -= w.mean(axis=(1, 2, 3), keepdims=True)
    w = quantized(w)
    mu, _ = channel_stats(conv(x, w))
    b = (-mu if center else np.zeros_like(mu)).astype(np.float32)
    return w, b


def mean_direction(x):
    return x.double().mean(dim=(0, 2, 3)).numpy()


def make_weights(calibration):
    rng = np.random.default_rng(SEED)
    state = {}
    x = calibration
    for layer in ENCODER:
        if layer == "pool":
            x = F.max_pool2d(x, 2, 2)
            continue
        name, c_in, c_out = layer
        # conv1a keeps bias 0 so that flat regions stay exactly 0 after the first ReLU.
        w, b = normalized_layer(rng, x, c_in, c_out, 3, zero_sum=(name == "conv1a"), center=(name != "conv1a"))
        state[name + ".weight"], state[name + ".bias"] = w, b
        x = F.relu(conv(x, w, b))
    features = x
    d_enc = mean_direction(features)

    # Score head.
    w, b = normalized_layer(rng, features, 128, 256, 3, remove_dir=d_enc)
    state["convPa.weight"], state["convPa.bias"] = w, b
    cpa = F.relu(conv(features, w, b))
    w, b = normalized_layer(rng, cpa, 256, 65, 1, remove_dir=mean_direction(cpa))
    # Logit spread: with unit-variance logits the best of 64 positions barely beats the others;
    # a trained detector is far more peaked. A common factor keeps the argmax and sharpens it.
    w = quantized(w * 3.0)
    mu, _ = channel_stats(conv(cpa, w))
    b = (-mu).astype(np.float32)
    state["convPb.weight"], state["convPb.bias"] = w, b
    logits = conv(cpa, w, b)

    # Descriptor head.
    w, b = normalized_layer(rng, features, 128, 256, 3, remove_dir=d_enc)
    state["convDa.weight"], state["convDa.bias"] = w, b
    cda = F.relu(conv(features, w, b))
    w, b = normalized_layer(rng, cda, 256, 256, 1, remove_dir=mean_direction(cda))
    state["convDb.weight"], state["convDb.bias"] = w, b
    return state, logits


def keypoint_count(logits, dustbin, nms_radius, simple_nms):
    l = logits.clone()
    l[:, 64] += dustbin
    s = F.softmax(l, 1)[:, :-1]
    b, _, h, w = s.shape
    s = s.permute(0, 2, 3, 1).reshape(b, h, w, 8, 8).permute(0, 1, 3, 2, 4).reshape(b, h * 8, w * 8)
    s = simple_nms(s, nms_radius)
    return [(si > THRESHOLD).sum().item() for si in s]


def tune_dustbin(state, logits, n_photos, simple_nms):
    lo, hi = -20.0, 40.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        counts = keypoint_count(logits, mid, 4, simple_nms)[:n_photos]
        if np.median(counts) > TARGET_KEYPOINTS:
            lo = mid
        else:
            hi = mid
    state["convPb.bias"] = state["convPb.bias"].copy()
    state["convPb.bias"][64] += np.float32(0.5 * (lo + hi))
    print("dustbin offset", 0.5 * (lo + hi), "counts", keypoint_count(logits, 0.5 * (lo + hi), 4, simple_nms), flush=True)


def build_reference(ref_module, exact_state, config):
    tensors = {k: torch.from_numpy(v.copy()) for k, v in exact_state.items()}
    # The reference loads weights/superpoint_v1.pth in its constructor; hand it ours instead.
    with mock.patch.object(ref_module.torch, "load", return_value=tensors):
        net = ref_module.SuperPoint(config)
    return net.eval()


def run_reference(net, u8):
    with torch.no_grad():
        out = net({"image": to_input(u8)})
    return (out["keypoints"][0].numpy().astype(np.float32), out["scores"][0].numpy().astype(np.float32),
            out["descriptors"][0].numpy().T.astype(np.float32).copy())


def check_shaping(exact_state, net, photos_640, synthetic):
    w1 = exact_state["conv1a.weight"]
    assert np.abs(w1.sum(axis=(1, 2, 3))).max() < 1e-5 * np.abs(w1).sum(axis=(1, 2, 3)).max(), "conv1a not zero-sum"
    assert (exact_state["conv1a.bias"] == 0).all()
    report = {}
    all_positions = np.zeros(64, np.int64)
    for name, u8 in list(photos_640.items()) + [("synthetic", synthetic)]:
        kpts, scores, desc = run_reference(net, u8)
        n = len(scores)
        pos = (kpts[:, 1].astype(int) % 8) * 8 + (kpts[:, 0].astype(int) % 8)
        hist = np.bincount(pos, minlength=64)
        sub = desc[np.linspace(0, n - 1, min(n, 1000)).astype(int)]
        cos = sub @ sub.T
        mean_cos = (cos.sum() - np.trace(cos)) / (len(sub) * (len(sub) - 1))
        unique_scores = len(np.unique(scores)) / max(n, 1)
        report[name] = dict(keypoints=n, positions_used=int((hist > 0).sum()),
                            max_position_share=float(hist.max() / max(n, 1)),
                            mean_descriptor_cosine=float(mean_cos), unique_score_fraction=unique_scores)
        print(name, report[name], flush=True)
        if name != "synthetic":
            all_positions += hist
            assert 500 <= n <= 3000, f"{name}: {n} keypoints"
            assert (hist > 0).sum() >= 60, f"{name}: keypoints use only {(hist > 0).sum()} of 64 cell positions"
        assert n >= 200, f"{name}: {n} keypoints"
        assert mean_cos < 0.5, f"{name}: mean descriptor cosine {mean_cos}"
        assert unique_scores > 0.98, f"{name}: many tied scores ({unique_scores})"
    assert (all_positions > 0).all(), "some cell position never wins"
    assert all_positions.max() / all_positions.sum() < 4 / 64, "one cell position dominates"
    # A flat image must give no keypoints (a trained detector finds nothing there; ties would
    # otherwise put keypoints on a regular grid with identical scores).
    for level in (0, 128, 255):
        kpts, _, _ = run_reference(net, np.full((480, 640), level, np.uint8))
        # The zero padding is an edge the detector may fire on; its influence reaches about half
        # the receptive field (~80 px) into the image.
        m = 48
        interior = kpts[(kpts[:, 0] > m) & (kpts[:, 0] < 640 - m) & (kpts[:, 1] > m) & (kpts[:, 1] < 480 - m)]
        print(f"flat image {level}: {len(kpts)} keypoints, {len(interior)} interior", flush=True)
        assert len(interior) == 0, f"flat image {level}: {len(interior)} interior keypoints"
    return report


def golden(net, u8, config, name, out_dir, image_from=None):
    kpts, scores, desc = run_reference(net, u8)
    n = len(scores)
    rows = np.unique((np.arange(min(n, DESCRIPTOR_ROWS)) * n) // max(min(n, DESCRIPTOR_ROWS), 1)).astype(np.int64)
    tensors = {"keypoints": kpts.reshape(-1, 2), "scores": scores,
               "descriptor_rows": rows, "descriptors": desc[rows].reshape(len(rows), 256)}
    meta = {"config": json.dumps(config, sort_keys=True), "width": str(u8.shape[1]), "height": str(u8.shape[0]),
            "torch": torch.__version__}
    if image_from is None:
        tensors["image"] = u8
    else:
        meta["image_from"] = image_from
    fixture_io.write_safetensors(out_dir / f"golden_{name}.safetensors", tensors, meta)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="checkout of magicleap/SuperGluePretrainedNetwork")
    ap.add_argument("--skimage-wheel", required=True, help="scikit-image wheel (photos are read from it)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    sys.path.insert(0, str(Path(args.reference).resolve()))
    from models import superpoint as ref  # noqa: E402

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = load_photos(args.skimage_wheel)
    photos_640 = {k: resize(photos[k], 640, 480) for k in CALIBRATION_PHOTOS}
    synthetic = synthetic_image()

    calibration = torch.cat([to_input(u8) for u8 in list(photos_640.values()) + [synthetic]])
    state, logits = make_weights(calibration)
    tune_dustbin(state, logits, len(photos_640), ref.simple_nms)

    exact, stored = fixture_io.quantize_state_dict(state)
    fixture_io.write_safetensors(out_dir / "superpoint_random.safetensors", stored,
                                 {"format": "pt", "model": "superpoint", "seed": str(SEED),
                                  "generator": "Tools/reference/make_superpoint_fixtures.py"})
    # Everything below runs on what was stored, read back from disk.
    reread, _ = fixture_io.read_safetensors(out_dir / "superpoint_random.safetensors")
    exact = fixture_io.dequantize_fixture(reread)
    for k, v in state.items():
        assert np.array_equal(exact[k], v), f"{k}: stored weights differ from the shaped ones"

    default = dict(ref.SuperPoint.default_config)
    net = build_reference(ref, exact, {})
    report = check_shaping(exact, net, photos_640, synthetic)
    print(json.dumps(report, indent=1))

    cases = [("astronaut_640x480", photos_640["astronaut"], {}),
             ("coffee_640x480", photos_640["coffee"], {}),
             ("rocket_640x480", photos_640["rocket"], {}),
             ("synthetic_640x480", synthetic, {}),
             ("coffee_1024x768", resize(photos["coffee"], 1024, 768), {}),
             ("chelsea_637x479", resize(photos["chelsea"], 637, 479), {}),
             ("astronaut_64x48", resize(photos["astronaut"], 64, 48), {}),
             ("astronaut_640x480_max1024", photos_640["astronaut"], {"max_keypoints": 1024})]
    nets = {}
    stored_images = []
    for name, u8, overrides in cases:
        key = json.dumps(overrides, sort_keys=True)
        if key not in nets:
            nets[key] = build_reference(ref, exact, overrides)
        config = {**default, **overrides}
        if config["max_keypoints"] > 0:
            # torch.topk orders equal scores arbitrarily: make sure the top-k cut and order are
            # unambiguous, so a parity test on this case tests top-k and not tie breaking.
            _, all_scores, _ = run_reference(nets[json.dumps({})], u8)
            top = np.sort(all_scores)[::-1][:config["max_keypoints"] + 1]
            assert len(np.unique(top)) == len(top), "tied scores around the top-k cut"
        # An input already stored by an earlier case is referenced, not stored again.
        image_from = next((other for other, image in stored_images if np.array_equal(image, u8)), None)
        if image_from is None:
            stored_images.append((name, u8))
        n = golden(nets[key], u8, config, name, out_dir, image_from)
        print(f"golden_{name}: {u8.shape[1]}x{u8.shape[0]}, {n} keypoints")


if __name__ == "__main__":
    main()
