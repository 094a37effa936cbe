#!/usr/bin/env python3
"""Random-weight SuperGlue checkpoints and golden matches from the PyTorch reference.

Usage (regenerates everything in Tests/Fixtures/superglue; see the README there):
  pip download --no-deps scikit-image==0.26.0 -d /tmp/skimage-wheel
  python3 Tools/reference/make_superglue_fixtures.py --reference /work/reference \
      --skimage-wheel /tmp/skimage-wheel/scikit_image-0.26.0-*.whl \
      --superpoint-weights Tests/Fixtures/superpoint/superpoint_random.safetensors \
      --out Tests/Fixtures/superglue

Reproducible across CPUs: before importing torch the script caps ATen's vectorised kernels and
oneDNN at AVX2 (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2, unless already set), the code
path of the machine that made the committed files. With them, torch 2.13 on an AVX-512 machine
reproduces the committed checkpoints, features and goldens exactly; without them it gets
SuperPoint scores about 1e-5 away, other keypoints at the top-k cut, last-bit differences in the
BatchNorm statistics, and so different fixtures.

Writes into --out:
  superglue_indoor.safetensors, superglue_outdoor.safetensors
      SuperGlue checkpoints with the official state_dict names and shapes, drawn with two seeds,
      int8-quantized by fixture_io.quantize_state_dict so that the float32 values the reference
      ran on are stored exactly. Metadata "weights" names the set. Indoor has the
      official 18 GNN layers, outdoor 2 (one 'self' and one 'cross' layer; the outdoor
      path differs from the indoor one only in the weights it is given, so depth is covered once).
  features.safetensors
      Keypoints (F32, x y in pixels of a 640x480 image), scores (F32) and descriptors (F16, rows)
      from the reference SuperPoint with the SuperPoint fixture weights, on scikit-image photos
      and perspective-warped copies. Descriptors are rounded to float16 before SuperGlue sees
      them, so the stored F16 values are exactly the reference's input.
  goldens.safetensors
      For every case (weights x keypoint counts x Sinkhorn iterations): matches0/1 (I32),
      matching_scores0/1 (F32), and for some cases rows of the (M+1)x(N+1) log assignment:
      log_assignment (F32, R x (N+1)) holds the rows listed in log_assignment_rows (I32, R):
      every row for the 1 x 1 cases, otherwise about 32 rows at an odd stride (so they fall on
      every residue of SIMD and tile widths) plus the last keypoint's row and the dustbin row.
      Metadata "cases" is a JSON list describing them.

Why the weights are "shaped": with plainly random weights SuperGlue is degenerate. Uniform
attention turns every message into the same average, the residual updates then add one shared
vector to every descriptor, and the final score matrix is dominated by that shared component, so
nothing (or everything) matches. The draw below stays random but is conditioned on real data
(a calibration pair of photos), layer by layer:
  * BatchNorm running statistics are the observed per-channel statistics perturbed at random,
    with random affine parameters, so the folded layers are non-trivial yet well scaled;
  * the key projection of every head is correlated with its query projection and both are scaled
    so the attention logits have a standard deviation of about ATTENTION_LOGIT_STD: attention
    then prefers similar tokens, like a trained network, instead of averaging everything;
  * the layers that write into the descriptors (the keypoint encoder's last layer, every GNN
    layer's last MLP layer) and the final projection have the mean direction of their inputs
    projected out, and their biases are small: no image-independent vector is added to all
    descriptors;
  * the residual updates are scaled to RESIDUAL_RATIO of the descriptor norm, the encoder output
    to ENCODER_RATIO, and the final projection's gain is bisected so that the calibration pair
    (1024 x 1024 keypoints) gets about TARGET_MATCHES matches.
After quantization the script asserts on the stored weights that the 1024 x 1024 pair gets a
few hundred matches with confidences spread between 0.2 and 0.95 (5th percentile < 0.3, 95th
> 0.65, maximum > 0.85), at least 30 % of them consistent with the known homography (the random
SuperPoint's raw mutual nearest neighbours reach about 50 %).
"""
import argparse
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

SEEDS = {"indoor": 20261124, "outdoor": 20261125}
GNN_LAYERS = {"indoor": 18, "outdoor": 2}
BIN_SCORES = {"indoor": 1.0, "outdoor": 1.5}
ATTENTION_LOGIT_STD = 2.0
RESIDUAL_RATIO = 0.15
ENCODER_RATIO = 0.15
TARGET_MATCHES = 420
WIDTH, HEIGHT = 640, 480

PHOTOS = {"astronaut": "skimage/data/astronaut.png",  # NASA, public domain
          "coffee": "skimage/data/coffee.png",        # CC0, Rachel Michetti
          "chelsea": "skimage/data/chelsea.png"}      # CC0, Stefan van der Walt

# Homographies (pixels of the 640x480 image -> pixels of its warped copy): rotation, zoom,
# shift and a little perspective, mild enough that most of the image stays in view.
def homography(angle_deg, scale, shift, perspective):
    a = np.deg2rad(angle_deg)
    c = np.array([[1, 0, -WIDTH / 2], [0, 1, -HEIGHT / 2], [0, 0, 1]])
    r = np.array([[scale * np.cos(a), -scale * np.sin(a), 0], [scale * np.sin(a), scale * np.cos(a), 0],
                  [perspective[0], perspective[1], 1]])
    back = np.array([[1, 0, WIDTH / 2 + shift[0]], [0, 1, HEIGHT / 2 + shift[1]], [0, 0, 1]])
    h = back @ r @ c
    return h / h[2, 2]


# Mild: the random SuperPoint's descriptors are far less invariant than trained ones (on the
# astronaut pair only about half of the raw mutual nearest neighbours are correct at 2 degrees).
WARPS = {"astronaut": homography(2, 1.0, (8, 4), (3e-5, 2e-5)),
         "coffee": homography(-2, 1.02, (-8, 5), (-2e-5, 3e-5)),
         "chelsea": homography(2, 0.98, (6, 6), (2e-5, 2e-5))}

# Feature sets: (name, photo, warped?, max_keypoints).
FEATURE_SETS = [("astronaut", "astronaut", False, 1024), ("astronaut_warped", "astronaut", True, 1024),
                ("coffee_512", "coffee", False, 512), ("coffee_warped", "coffee", True, 1024),
                ("chelsea_1", "chelsea", False, 1), ("chelsea_warped_1", "chelsea", True, 1),
                ("chelsea_warped_100", "chelsea", True, 100)]
CASES = [("0v100", None, "chelsea_warped_100"), ("1v1", "chelsea_1", "chelsea_warped_1"),
         ("512v1024", "coffee_512", "coffee_warped"), ("1024v1024", "astronaut", "astronaut_warped")]
CALIBRATION = ("astronaut", "astronaut_warped")
ITERATIONS = (20, 100)
# Cases with log assignment rows stored (the 1 x 1 cases always): enough to cover both iteration
# counts, both weight sets and both large shapes while keeping the fixture folder small.
LOG_ASSIGNMENT_CASES = {("indoor", "1024v1024", 20), ("indoor", "512v1024", 100), ("outdoor", "512v1024", 20)}
LOG_ASSIGNMENT_ROWS = 32


def log_assignment_rows(m):
    """Rows of an (m+1) x (n+1) log assignment to store: all for small m, else every stride-th
    (stride odd, about LOG_ASSIGNMENT_ROWS rows) plus the last keypoint's row and the dustbin row."""
    if m + 1 <= 2 * LOG_ASSIGNMENT_ROWS:
        return np.arange(m + 1, dtype=np.int32)
    stride = (m // LOG_ASSIGNMENT_ROWS) | 1
    return np.unique(np.r_[np.arange(0, m, stride), m - 1, m]).astype(np.int32)


def load_photos(wheel):
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for name, member in PHOTOS.items():
            gray = cv2.imdecode(np.frombuffer(z.read(member), np.uint8), cv2.IMREAD_GRAYSCALE)
            assert gray is not None, member
            out[name] = cv2.resize(gray, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    return out


def warp(u8, h):
    return cv2.warpPerspective(u8, h, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def build_superpoint(ref_sp, exact, config):
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in exact.items()}
    # The reference constructor loads weights/superpoint_v1.pth; hand it the fixture weights.
    with mock.patch.object(ref_sp.torch, "load", return_value=tensors):
        return ref_sp.SuperPoint(config).eval()


def build_superglue(ref_sg, state, config):
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    with mock.patch.object(ref_sg.torch, "load", return_value=tensors):
        return ref_sg.SuperGlue(config).eval()


def extract_features(ref_sp, sp_weights, photos):
    features = {}
    for name, photo, warped, k in FEATURE_SETS:
        u8 = warp(photos[photo], WARPS[photo]) if warped else photos[photo]
        net = build_superpoint(ref_sp, sp_weights, {"max_keypoints": k})
        with torch.no_grad():
            out = net({"image": torch.from_numpy(u8.astype(np.float32) / 255.)[None, None]})
        kpts = out["keypoints"][0].numpy().astype(np.float32)
        assert len(kpts) == k, f"{name}: SuperPoint found {len(kpts)} keypoints, need {k}"
        features[name] = {"keypoints": kpts, "scores": out["scores"][0].numpy().astype(np.float32),
                          # Rounded to float16 here so the fixture stores the exact SuperGlue input.
                          "descriptors": out["descriptors"][0].numpy().T.astype(np.float16)}
    return features


def reference_inputs(f0, f1):
    def side(f):
        if f is None:
            return (torch.zeros(1, 0, 2), torch.zeros(1, 0), torch.zeros(1, 256, 0))
        return (torch.from_numpy(f["keypoints"])[None], torch.from_numpy(f["scores"])[None],
                torch.from_numpy(f["descriptors"].astype(np.float32).T.copy())[None])
    (k0, s0, d0), (k1, s1, d1) = side(f0), side(f1)
    image = torch.zeros(1, 1, HEIGHT, WIDTH)
    return {"keypoints0": k0, "scores0": s0, "descriptors0": d0, "image0": image,
            "keypoints1": k1, "scores1": s1, "descriptors1": d1, "image1": image}


class Shaper:
    """Draws and conditions one SuperGlue checkpoint on the calibration pair (module docstring)."""

    def __init__(self, ref_sg, model, rng):
        self.ref, self.model, self.rng = ref_sg, model, rng

    def normal(self, shape, std):
        return torch.from_numpy(self.rng.normal(0, std, shape).astype(np.float32))

    def set_conv(self, conv, weight, bias):
        conv.weight.copy_(weight.reshape(conv.weight.shape))
        conv.bias.copy_(bias)

    def random_conv(self, conv, gain=1.0, bias_std=0.02):
        out_c, in_c, _ = conv.weight.shape
        self.set_conv(conv, self.normal((out_c, in_c), gain / np.sqrt(in_c)), self.normal((out_c,), bias_std))

    def batchnorm(self, bn, h):
        """Random affine, running statistics = observed ones perturbed. h: [1, C, T] input."""
        mean = h[0].double().mean(1)
        std = h[0].double().std(1)
        c = mean.numel()
        bn.running_mean.copy_((mean + std * torch.from_numpy(self.rng.normal(0, 0.1, c))).float())
        bn.running_var.copy_((std ** 2 * torch.from_numpy(self.rng.uniform(0.8, 1.25, c))).float())
        bn.weight.copy_(torch.from_numpy(self.rng.uniform(0.6, 1.4, c).astype(np.float32)))
        bn.bias.copy_(torch.from_numpy(self.rng.normal(0, 0.2, c).astype(np.float32)))
        bn.num_batches_tracked.fill_(int(self.rng.integers(1000, 100000)))

    def writer_conv(self, conv, h, target_rms, bias_std=0.005):
        """A layer that writes into the descriptors: mean input direction removed, output scaled."""
        out_c, in_c, _ = conv.weight.shape
        w = self.normal((out_c, in_c), 1 / np.sqrt(in_c)).double()
        m = h[0].double().mean(1)
        m = m / m.norm()
        w = w - (w @ m)[:, None] * m[None, :]
        y = w @ h[0].double()
        w = w * (target_rms / y.pow(2).sum(0).mean().sqrt())
        self.set_conv(conv, w.float(), self.normal((out_c,), bias_std))

    def shape(self, kpts, scores, descs, image_shape):
        """kpts/scores/descs: per image tensors [1,N,2], [1,N], [1,256,N]. Returns final descs."""
        ref, model = self.ref, self.model
        # Keypoint encoder on both images' tokens at once.
        h = torch.cat([torch.cat([ref.normalize_keypoints(k, image_shape).transpose(1, 2), s.unsqueeze(1)], 1)
                       for k, s in zip(kpts, scores)], 2)
        counts = [k.shape[1] for k in kpts]
        encoder = list(model.kenc.encoder)
        desc_rms = torch.cat(descs, 2)[0].pow(2).sum(0).mean().sqrt().item()
        for index, module in enumerate(encoder):
            if isinstance(module, torch.nn.Conv1d):
                if index == len(encoder) - 1:
                    self.writer_conv(module, h, ENCODER_RATIO * desc_rms)
                else:
                    self.random_conv(module, gain=np.sqrt(2), bias_std=0.1)
            elif isinstance(module, torch.nn.BatchNorm1d):
                self.batchnorm(module, h)
            h = module(h)
        encoded = torch.split(h, counts, 2)
        x = [d + e for d, e in zip(descs, encoded)]

        for layer, name in zip(model.gnn.layers, model.gnn.names):
            attn = layer.attn
            dim = attn.dim * attn.num_heads
            q_w = self.normal((dim, dim), 1 / np.sqrt(dim))
            k_w = 0.8 * q_w + 0.6 * self.normal((dim, dim), 1 / np.sqrt(dim))
            self.set_conv(attn.proj[0], q_w, self.normal((dim,), 0.02))
            self.set_conv(attn.proj[1], k_w, self.normal((dim,), 0.02))
            self.random_conv(attn.proj[2])
            self.random_conv(attn.merge)
            # Scale query and key so the attention logits have the target spread.
            sources = [x[1], x[0]] if name == "cross" else [x[0], x[1]]
            q = attn.proj[0](x[0]).view(1, attn.dim, attn.num_heads, -1)
            k = attn.proj[1](sources[0]).view(1, attn.dim, attn.num_heads, -1)
            logits = torch.einsum("bdhn,bdhm->bhnm", q, k) / attn.dim ** .5
            factor = np.sqrt(ATTENTION_LOGIT_STD / logits.std().item())
            for proj in attn.proj[:2]:
                proj.weight.mul_(factor)
                proj.bias.mul_(factor)
            messages = [attn(xi, si, si) for xi, si in zip(x, sources)]
            mlp = list(layer.mlp)
            inputs = torch.cat([torch.cat([xi, mi], 1) for xi, mi in zip(x, messages)], 2)
            self.random_conv(mlp[0], gain=np.sqrt(2), bias_std=0.1)
            pre = mlp[0](inputs)
            self.batchnorm(mlp[1], pre)
            hidden = mlp[2](mlp[1](pre))
            x_rms = torch.cat(x, 2)[0].pow(2).sum(0).mean().sqrt().item()
            self.writer_conv(mlp[3], hidden, RESIDUAL_RATIO * x_rms)
            # The reference's own layer, both images from the same old values.
            deltas = [layer(xi, si) for xi, si in zip(x, sources)]
            x = [xi + di for xi, di in zip(x, deltas)]

        final = torch.cat(x, 2)
        self.writer_conv(model.final_proj, final, 1.0, bias_std=0.002)
        return x


def match_stats(out, inputs, h_true=None):
    """Match count, confidence percentiles and homography consistency of a reference output."""
    m0 = out["matches0"][0].numpy()
    conf = out["matching_scores0"][0].numpy()[m0 >= 0]
    stats = {"matches": int((m0 >= 0).sum())}
    if len(conf):
        stats.update({f"p{q}": round(float(np.percentile(conf, q)), 3) for q in (5, 25, 50, 75, 95)})
        stats["above_0.95"] = round(float((conf > 0.95).mean()), 3)
        stats["max"] = round(float(conf.max()), 3)
    if h_true is not None and len(conf):
        k0 = inputs["keypoints0"][0].numpy()[m0 >= 0].astype(np.float64)
        k1 = inputs["keypoints1"][0].numpy()[m0[m0 >= 0]].astype(np.float64)
        p = np.c_[k0, np.ones(len(k0))] @ h_true.T
        err = np.linalg.norm(p[:, :2] / p[:, 2:] - k1, axis=1)
        stats["homography_consistent"] = round(float((err < 4).mean()), 3)
    return stats


def mutual_matches_above(ref_sg, scores, bin_score, iterations, threshold=0.2):
    """Matches the reference would keep for a given score matrix (its transport, our counting)."""
    z = ref_sg.log_optimal_transport(scores, bin_score, iters=iterations)[0, :-1, :-1]
    best0, best1 = z.argmax(1), z.argmax(0)
    mutual = best1[best0] == torch.arange(len(best0))
    return int((mutual & (z.max(1).values.exp() > threshold)).sum())


def calibrate_gain(ref_sg, model, inputs):
    """Bisects the final projection gain (log scale) for TARGET_MATCHES on the calibration pair.

    The projection is linear in its weights and bias together, so the score matrix at gain g is
    g^2 times the one at gain 1 and only the transport is re-run per step.
    """
    captured = []
    original = ref_sg.log_optimal_transport

    def capturing(scores, alpha, iters):
        captured.append(scores.clone())
        return original(scores, alpha, iters)

    with mock.patch.object(ref_sg, "log_optimal_transport", capturing):
        model(inputs)
    scores = captured[0]
    lo, hi = np.log(0.5), np.log(50.0)
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if mutual_matches_above(ref_sg, scores * float(np.exp(mid)) ** 2, model.bin_score, 100) < TARGET_MATCHES:
            lo = mid
        else:
            hi = mid
    gain = float(np.exp(0.5 * (lo + hi)))
    model.final_proj.weight.mul_(gain)
    model.final_proj.bias.mul_(gain)
    return gain


def gnn_config(kind):
    # The published alternation; 18 layers is the reference's default configuration.
    return ["self", "cross"] * (GNN_LAYERS[kind] // 2)


def make_checkpoint(ref_sg, kind, features):
    rng = np.random.default_rng(SEEDS[kind])
    torch.manual_seed(SEEDS[kind])
    model = build_superglue_for_shaping(ref_sg, gnn_config(kind))
    inputs = reference_inputs(features[CALIBRATION[0]], features[CALIBRATION[1]])
    with torch.no_grad():
        shaper = Shaper(ref_sg, model, rng)
        shaper.shape([inputs["keypoints0"], inputs["keypoints1"]], [inputs["scores0"], inputs["scores1"]],
                     [inputs["descriptors0"], inputs["descriptors1"]], inputs["image0"].shape)
        model.bin_score.fill_(BIN_SCORES[kind])
        model.config["sinkhorn_iterations"] = 100
        gain = calibrate_gain(ref_sg, model, inputs)
    print(f"{kind}: final projection gain {gain:.3f}", flush=True)
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def build_superglue_for_shaping(ref_sg, layers):
    # Constructed with its checkpoint loading bypassed; every tensor is then drawn by Shaper.
    with mock.patch.object(ref_sg.torch, "load", return_value={}), \
            mock.patch.object(ref_sg.SuperGlue, "load_state_dict", lambda self, state: None):
        model = ref_sg.SuperGlue({"GNN_layers": layers})
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="checkout of magicleap/SuperGluePretrainedNetwork")
    ap.add_argument("--skimage-wheel", required=True, help="scikit-image wheel (photos are read from it)")
    ap.add_argument("--superpoint-weights", required=True, help="SuperPoint fixture checkpoint (fixture_io format)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    sys.path.insert(0, str(Path(args.reference).resolve()))
    from models import superglue as ref_sg  # noqa: E402
    from models import superpoint as ref_sp  # noqa: E402

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = load_photos(args.skimage_wheel)
    sp_stored, _ = fixture_io.read_safetensors(args.superpoint_weights)
    features = extract_features(ref_sp, fixture_io.dequantize_fixture(sp_stored), photos)

    feature_tensors = {}
    for name, f in features.items():
        feature_tensors[f"{name}.keypoints"] = f["keypoints"].reshape(-1, 2)
        feature_tensors[f"{name}.scores"] = f["scores"]
        feature_tensors[f"{name}.descriptors"] = f["descriptors"].reshape(-1, 256)
    fixture_io.write_safetensors(out_dir / "features.safetensors", feature_tensors,
                                 {"image_width": str(WIDTH), "image_height": str(HEIGHT),
                                  "superpoint_weights": Path(args.superpoint_weights).name,
                                  "generator": "Tools/reference/make_superglue_fixtures.py"})

    goldens, case_list, report = {}, [], {}
    for kind in ("indoor", "outdoor"):
        state = make_checkpoint(ref_sg, kind, features)
        exact, stored = fixture_io.quantize_state_dict(state)
        path = out_dir / f"superglue_{kind}.safetensors"
        fixture_io.write_safetensors(path, stored, {"format": "pt", "model": "superglue", "weights": kind,
                                                   "seed": str(SEEDS[kind]),
                                                   "generator": "Tools/reference/make_superglue_fixtures.py"})
        # Everything below runs on the stored weights, read back from disk.
        reread, _ = fixture_io.read_safetensors(path)
        exact = fixture_io.dequantize_fixture(reread)
        layers = len({k.split(".")[2] for k in exact if k.startswith("gnn.layers.")})
        assert layers == GNN_LAYERS[kind], f"{kind}: {layers} GNN layers"
        model = build_superglue(ref_sg, exact, {"weights": kind, "GNN_layers": gnn_config(kind)})

        captured = []
        original = ref_sg.log_optimal_transport

        def capturing(*a, **k):
            z = original(*a, **k)
            captured.append(z)
            return z

        for case, name0, name1 in CASES:
            f0 = features[name0] if name0 else None
            f1 = features[name1]
            inputs = reference_inputs(f0, f1)
            for iterations in ITERATIONS:
                model.config["sinkhorn_iterations"] = iterations
                captured.clear()
                with torch.no_grad(), mock.patch.object(ref_sg, "log_optimal_transport", capturing):
                    out = model(inputs)
                key = f"{kind}.{case}.{iterations}"
                goldens[f"{key}.matches0"] = out["matches0"][0].numpy().astype(np.int32)
                goldens[f"{key}.matches1"] = out["matches1"][0].numpy().astype(np.int32)
                goldens[f"{key}.matching_scores0"] = out["matching_scores0"][0].numpy().astype(np.float32)
                goldens[f"{key}.matching_scores1"] = out["matching_scores1"][0].numpy().astype(np.float32)
                stored_assignment = bool(captured) and (case == "1v1" or (kind, case, iterations) in LOG_ASSIGNMENT_CASES)
                if stored_assignment:
                    z = captured[0][0].numpy().astype(np.float32)
                    rows = log_assignment_rows(z.shape[0] - 1)
                    goldens[f"{key}.log_assignment"] = np.ascontiguousarray(z[rows])
                    goldens[f"{key}.log_assignment_rows"] = rows
                case_list.append({"key": key, "weights": kind, "features0": name0 or "", "features1": name1,
                                  "iterations": iterations, "log_assignment": stored_assignment})
                if case in ("512v1024", "1024v1024"):
                    h = WARPS["astronaut" if case == "1024v1024" else "coffee"]
                    stats = match_stats(out, inputs, h)
                    report[key] = stats
                    print(key, stats, flush=True)
        for iterations in ITERATIONS:
            s = report[f"{kind}.1024v1024.{iterations}"]
            # A few hundred matches, confidences spread over (0.2, 0.95), mostly true correspondences.
            assert 150 <= s["matches"] <= 800, f"{kind}/{iterations}: {s}"
            assert s["p5"] < 0.3 and s["p95"] > 0.65 and s["max"] > 0.85 and s["above_0.95"] < 0.25, f"{kind}/{iterations}: {s}"
            assert s["homography_consistent"] > 0.3, f"{kind}/{iterations}: {s}"

    fixture_io.write_safetensors(out_dir / "goldens.safetensors", goldens,
                                 {"cases": json.dumps(case_list), "torch": torch.__version__,
                                  "report": json.dumps(report, sort_keys=True),
                                  "generator": "Tools/reference/make_superglue_fixtures.py"})
    print(json.dumps(report, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
