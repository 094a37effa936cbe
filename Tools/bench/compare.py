#!/usr/bin/env python3
"""Times the PyTorch reference, an ONNX Runtime export of it and (optionally) our Swift engine
on the same images and options, and checks the targets of issue 7.

Stages (all at 2 threads by default, medians over --runs timed runs after --warmup runs):

  superpoint_dense_ms    SuperPoint's dense part: encoder + detector head (softmax, dustbin dropped,
                         8x8 depth-to-space) + descriptor head (L2-normalised); no NMS.
  superpoint_ms          The reference's whole SuperPoint forward (NMS, threshold, borders,
                         top-k --max-keypoints, descriptor sampling). PyTorch only.
  superglue_20_ms        SuperGlue on exactly 1024 x 1024 features (from the reference SuperPoint on
  superglue_100_ms       the two images, truncated or padded), 20 and 100 Sinkhorn iterations.
  sinkhorn_iteration_ms  One log-space Sinkhorn iteration on the 1025 x 1025 coupling matrix:
                         (time(1 + D iterations) - time(1 iteration)) / D, measured back to back
                         in every run.
  pair_ms                End to end from the two JPEG files: decode (cv2, grayscale), resize to
                         --resize, SuperPoint x 2, SuperGlue with 20 iterations. PyTorch only.

The reference is imported from --reference (never copied). Its constructors load the official
weights, which are not needed here: loading is stubbed while the modules are built, and the
modules keep PyTorch's default random initialisation (seeded), or load --superpoint-weights /
--superglue-weights (.pth or .safetensors).

The Swift engine is timed by running --ours-cmd, which must print one JSON object with lists of
per-run milliseconds under the stage keys above (and optionally peak_rss_mb).
"""
import argparse
import contextlib
import gc
import io
import json
import os
import platform
import resource
import shlex
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path
from unittest import mock

import numpy as np

STAGES = [
    ("superpoint_dense_ms", "SuperPoint dense (encoder+heads, no NMS)"),
    ("superpoint_ms", "SuperPoint whole forward (NMS, top-k, sampling)"),
    ("superglue_20_ms", "SuperGlue 1024x1024, 20 Sinkhorn iterations"),
    ("superglue_100_ms", "SuperGlue 1024x1024, 100 Sinkhorn iterations"),
    ("sinkhorn_iteration_ms", "One log-space Sinkhorn iteration, 1025x1025"),
    ("pair_ms", "End-to-end pair from JPEG (SG 20 iterations)"),
]
STAGE_KEYS = [k for k, _ in STAGES]
SOURCES = ("pytorch", "onnxruntime", "ours")
NUM_KEYPOINTS = 1024  # SuperGlue size fixed by issue 7 (and the ORT graphs are exported at it)
DEFAULT_IMAGE_DIR = "/work/shared/images/phototourism_sample_images"


# ----------------------------------------------------------------------------- weights

_SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


def read_safetensors(path):
    """{name: float32-or-integer ndarray}; I8 tensors with a NAME:scale companion are dequantised."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError(f"{path}: header length {header_len} runs past the end of the file")
    header = json.loads(data[8:8 + header_len])
    header.pop("__metadata__", None)
    base = 8 + header_len
    raw = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = entry["dtype"]
        blob = data[base + begin:base + end]
        if dtype == "BF16":  # numpy has no bfloat16: widen the 16 stored bits to float32
            bits = np.frombuffer(blob, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif dtype in _SAFETENSORS_DTYPES:
            array = np.frombuffer(blob, dtype=np.dtype(_SAFETENSORS_DTYPES[dtype]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {dtype}")
        raw[name] = array.reshape(entry["shape"]).copy()
    out = {}
    for name, array in raw.items():
        if name.endswith(":scale"):
            continue
        scale = raw.get(name + ":scale")
        if scale is not None:
            out[name] = array.astype(np.float32) * np.float32(scale.reshape(()))
        elif array.dtype in (np.float16, np.float64):
            out[name] = array.astype(np.float32)
        else:
            out[name] = array
    return out


def load_state(path, torch):
    """A state dict of torch tensors from a .pth (plain, or under 'model'/'state_dict') or .safetensors."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        return {k: torch.from_numpy(v) for k, v in read_safetensors(path).items()}
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def apply_state(module, state, path):
    """Strict load, except that BatchNorm's num_batches_tracked (unused at inference) may be absent."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise SystemExit(f"{path}: does not match {type(module).__name__}: "
                         f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                         f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise SystemExit(f"{path}: tensor {k} has shape {tuple(v.shape)}, "
                             f"expected {tuple(expected[k].shape)}")
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=False)


def build_reference_module(torch, cls, config):
    """Instantiate a reference module without its hard-coded official weight files."""
    with mock.patch.object(torch.nn.Module, "load_state_dict", lambda self, *a, **k: None), \
            mock.patch.object(torch, "load", lambda *a, **k: {}), \
            contextlib.redirect_stdout(io.StringIO()):
        module = cls(config)
    return module


# ----------------------------------------------------------------------------- helpers

def summarize(values):
    if not values:
        return None
    return {"n": len(values), "median": statistics.median(values), "min": min(values), "max": max(values)}


def measure_interleaved(contenders, runs, warmup):
    """contenders: {source: callable returning elapsed ms}. Runs them round-robin so that both see
    the same machine load; returns {source: [ms, ...]}."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    results = {name: [] for name in contenders}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            for name, fn in contenders.items():
                results[name].append(fn())
    finally:
        if gc_was_enabled:
            gc.enable()
    return results


def wall_ms(fn):
    def timed():
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1e3
    return timed


def rss_now_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def default_images():
    folder = Path(DEFAULT_IMAGE_DIR)
    if folder.is_dir():
        jpegs = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        if len(jpegs) >= 2:
            return str(jpegs[0]), str(jpegs[1])
    return None, None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ----------------------------------------------------------------------------- models

def make_wrappers(torch):
    F = torch.nn.functional

    class DenseSuperPoint(torch.nn.Module):
        """SuperPoint's dense part on the reference module's layers: the score map at full
        resolution (softmax over 65 cells, dustbin dropped, 8x8 cells to pixels) and the
        L2-normalised coarse descriptor map. Everything after (NMS, top-k, sampling) is left out."""

        def __init__(self, superpoint):
            super().__init__()
            self.net = superpoint

        def forward(self, image):
            net = self.net
            x = image
            for first, second, pooled in (("conv1a", "conv1b", True), ("conv2a", "conv2b", True),
                                          ("conv3a", "conv3b", True), ("conv4a", "conv4b", False)):
                x = F.relu(getattr(net, first)(x))
                x = F.relu(getattr(net, second)(x))
                if pooled:
                    x = F.max_pool2d(x, kernel_size=2, stride=2)
            cells = F.softmax(net.convPb(F.relu(net.convPa(x))), dim=1)[:, :-1]
            # pixel_shuffle puts channel i*8+j of cell (y, x) at pixel (8y+i, 8x+j): the same
            # arrangement as the reference's permute/reshape, and one DepthToSpace node in ONNX.
            scores = F.pixel_shuffle(cells, 8)[:, 0]
            descriptors = F.normalize(net.convDb(F.relu(net.convDa(x))), p=2, dim=1)
            return scores, descriptors

    class TensorSuperGlue(torch.nn.Module):
        """The reference SuperGlue with tensors in and out instead of dicts (for export).
        Only the images' shapes are read by SuperGlue, so a stand-in carries them."""

        def __init__(self, superglue, image_hw):
            super().__init__()
            self.net = superglue
            self.image_shape = (1, 1, int(image_hw[0]), int(image_hw[1]))

        def forward(self, keypoints0, scores0, descriptors0, keypoints1, scores1, descriptors1):
            shape = types.SimpleNamespace(shape=self.image_shape)
            out = self.net({"image0": shape, "image1": shape,
                            "keypoints0": keypoints0, "scores0": scores0, "descriptors0": descriptors0,
                            "keypoints1": keypoints1, "scores1": scores1, "descriptors1": descriptors1})
            return out["matches0"], out["matches1"], out["matching_scores0"], out["matching_scores1"]

    return DenseSuperPoint, TensorSuperGlue


def load_gray(cv2, torch, path, size_wh):
    """Decode as 8-bit grayscale, resize the 8-bit image (the reference's default, no float resize),
    then scale to [0, 1] floats in a 1x1xHxW tensor."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise SystemExit(f"cannot decode image: {path}")
    image = cv2.resize(image, tuple(size_wh)).astype(np.float32)
    return torch.from_numpy(image / 255.0).float()[None, None]


def fixed_size_features(torch, pred, count, image_hw, generator):
    """Keypoints/scores/descriptors truncated (they come sorted by score from top-k) or padded
    with random ones to exactly `count`, batched as SuperGlue expects."""
    keypoints, scores, descriptors = pred["keypoints"][0], pred["scores"][0], pred["descriptors"][0]
    found = int(keypoints.shape[0])
    if found >= count:
        keypoints, scores, descriptors = keypoints[:count], scores[:count], descriptors[:, :count]
    else:
        missing = count - found
        h, w = image_hw
        extra_kp = torch.rand(missing, 2, generator=generator) * torch.tensor([w - 1.0, h - 1.0])
        extra_sc = torch.rand(missing, generator=generator) * 0.005
        extra_de = torch.nn.functional.normalize(torch.randn(descriptors.shape[0], missing, generator=generator), dim=0)
        keypoints = torch.cat([keypoints, extra_kp.round()])
        scores = torch.cat([scores, extra_sc])
        descriptors = torch.cat([descriptors, extra_de], dim=1)
    return keypoints[None].contiguous(), scores[None].contiguous(), descriptors[None].contiguous(), found


def export_onnx(torch, module, args, path, input_names, output_names):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()):
            torch.onnx.export(module, args, str(path), dynamo=False, opset_version=17,
                              input_names=input_names, output_names=output_names,
                              do_constant_folding=True)


# ----------------------------------------------------------------------------- main work

def setup_torch(args):
    import torch
    torch.set_num_threads(args.threads)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    sys.path.insert(0, str(Path(args.reference).resolve()))
    try:
        from models.superpoint import SuperPoint
        from models.superglue import SuperGlue, log_optimal_transport
        from models.matching import Matching
    except ImportError as error:
        raise SystemExit(f"cannot import the reference from {args.reference}: {error}")
    ref = types.SimpleNamespace(SuperPoint=SuperPoint, SuperGlue=SuperGlue, Matching=Matching,
                                log_optimal_transport=log_optimal_transport)
    return torch, ref


def build_models(torch, ref, args):
    torch.manual_seed(args.seed)
    superpoint = build_reference_module(torch, ref.SuperPoint, {"max_keypoints": args.max_keypoints})
    superglue = build_reference_module(torch, ref.SuperGlue, {"sinkhorn_iterations": 20})
    if args.superpoint_weights:
        apply_state(superpoint, load_state(args.superpoint_weights, torch), args.superpoint_weights)
    if args.superglue_weights:
        apply_state(superglue, load_state(args.superglue_weights, torch), args.superglue_weights)
    matching = build_reference_module(torch, ref.Matching, {})
    matching.superpoint, matching.superglue = superpoint, superglue  # share the same weights
    return superpoint.eval(), superglue.eval(), matching.eval()


def make_pair_fn(torch, cv2, matching, superglue, args):
    def pair():
        image0 = load_gray(cv2, torch, args.image0, args.resize)
        image1 = load_gray(cv2, torch, args.image1, args.resize)
        superglue.config["sinkhorn_iterations"] = 20
        return matching({"image0": image0, "image1": image1})
    return pair


def rss_child(args):
    """Separate process: only the PyTorch end-to-end pair, so its peak RSS is not inflated by
    the ONNX Runtime sessions or the other stages of the parent."""
    import cv2
    cv2.setNumThreads(args.threads)
    torch, ref = setup_torch(args)
    after_import = rss_now_mb()
    _, superglue, matching = build_models(torch, ref, args)
    pair = make_pair_fn(torch, cv2, matching, superglue, args)
    times = []
    with torch.inference_mode():
        for _ in range(args.rss_runs):
            start = time.perf_counter()
            pair()
            times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "rss_after_imports_mb": after_import,
                      "pair_ms": times}))


def run_python_side(args, report):
    import cv2
    cv2.setNumThreads(args.threads)
    torch, ref = setup_torch(args)
    DenseSuperPoint, TensorSuperGlue = make_wrappers(torch)
    superpoint, superglue, matching = build_models(torch, ref, args)
    dense = DenseSuperPoint(superpoint).eval()
    w, h = args.resize
    stages = set(args.stages)
    want_ort = not args.skip_ort
    if want_ort:
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        report["versions"]["onnxruntime"] = ort.__version__
        onnx_dir = Path(args.onnx_dir) if args.onnx_dir else Path(tempfile.mkdtemp(prefix="sg-bench-onnx-"))
        onnx_dir.mkdir(parents=True, exist_ok=True)
        report["config"]["onnx_dir"] = str(onnx_dir)

        def session(path):
            return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

    pytorch, onnx = report["pytorch"], report["onnxruntime"]
    checks = report["checks"]

    with torch.inference_mode():
        image0 = load_gray(cv2, torch, args.image0, args.resize)
        image1 = load_gray(cv2, torch, args.image1, args.resize)

        # Features for SuperGlue, and a check that the dense wrapper is the reference's network:
        # NMS keeps the original score at every kept keypoint, so the dense map must hold it there.
        pred0, pred1 = superpoint({"image": image0}), superpoint({"image": image1})
        dense_scores, _ = dense(image0)
        kp = pred0["keypoints"][0].long()
        checks["dense_vs_reference_keypoint_scores_max_abs_diff"] = float(
            (dense_scores[0, kp[:, 1], kp[:, 0]] - pred0["scores"][0]).abs().max()) if len(kp) else None
        generator = torch.Generator().manual_seed(args.seed + 1)
        f0 = fixed_size_features(torch, pred0, NUM_KEYPOINTS, (h, w), generator)
        f1 = fixed_size_features(torch, pred1, NUM_KEYPOINTS, (h, w), generator)
        report["config"]["keypoints_found"] = [f0[3], f1[3]]
        sg_inputs = (f0[0], f0[1], f0[2], f1[0], f1[1], f1[2])
        sg_tensor = TensorSuperGlue(superglue, (h, w)).eval()
        sg_feeds = dict(zip(["keypoints0", "scores0", "descriptors0", "keypoints1", "scores1", "descriptors1"],
                            [t.numpy() for t in sg_inputs]))

        def log(message):
            print(message, file=sys.stderr, flush=True)

        if "superpoint_dense_ms" in stages:
            contenders = {"pytorch": wall_ms(lambda: dense(image0))}
            if want_ort:
                path = onnx_dir / f"superpoint_dense_{h}x{w}.onnx"
                log(f"exporting {path.name}")
                export_onnx(torch, dense, (image0,), path, ["image"], ["scores", "descriptors"])
                sess = session(path)
                feed = {"image": image0.numpy()}
                ort_scores, ort_desc = sess.run(None, feed)
                ref_scores, ref_desc = dense(image0)
                checks["ort_superpoint_dense_max_abs_diff"] = max(
                    float(np.abs(ort_scores - ref_scores.numpy()).max()),
                    float(np.abs(ort_desc - ref_desc.numpy()).max()))
                contenders["onnxruntime"] = wall_ms(lambda: sess.run(None, feed))
            log("timing superpoint_dense")
            res = measure_interleaved(contenders, args.runs, args.warmup)
            pytorch["superpoint_dense_ms"] = res["pytorch"]
            if want_ort:
                onnx["superpoint_dense_ms"] = res["onnxruntime"]
                del sess

        if "superpoint_ms" in stages:
            log("timing superpoint")
            res = measure_interleaved({"pytorch": wall_ms(lambda: superpoint({"image": image0}))},
                                      args.runs, args.warmup)
            pytorch["superpoint_ms"] = res["pytorch"]

        for iters in (20, 100):
            key = f"superglue_{iters}_ms"
            if key not in stages:
                continue

            def run_torch(iters=iters):
                superglue.config["sinkhorn_iterations"] = iters
                return sg_tensor(*sg_inputs)
            contenders = {"pytorch": wall_ms(run_torch)}
            if want_ort:
                path = onnx_dir / f"superglue_{NUM_KEYPOINTS}x{NUM_KEYPOINTS}_{iters}it.onnx"
                log(f"exporting {path.name}")
                superglue.config["sinkhorn_iterations"] = iters
                export_onnx(torch, sg_tensor, sg_inputs, path, list(sg_feeds),
                            ["matches0", "matches1", "matching_scores0", "matching_scores1"])
                sess = session(path)
                ort_out = sess.run(None, sg_feeds)
                ref_out = run_torch()
                checks[f"ort_superglue_{iters}_matching_scores_max_abs_diff"] = float(
                    np.abs(ort_out[2] - ref_out[2].numpy()).max())
                checks[f"ort_superglue_{iters}_matches0_agreement"] = float(
                    (ort_out[0] == ref_out[0].numpy()).mean())
                contenders["onnxruntime"] = wall_ms(lambda sess=sess: sess.run(None, sg_feeds))
            log(f"timing {key}")
            res = measure_interleaved(contenders, args.runs, args.warmup)
            pytorch[key] = res["pytorch"]
            if want_ort:
                onnx[key] = res["onnxruntime"]
                del sess

        if "sinkhorn_iteration_ms" in stages:
            extra = args.sinkhorn_extra_iterations
            scores = torch.randn(1, NUM_KEYPOINTS, NUM_KEYPOINTS, generator=generator)
            alpha = superglue.bin_score.detach()

            def torch_per_iteration():
                start = time.perf_counter()
                ref.log_optimal_transport(scores, alpha, iters=1)
                middle = time.perf_counter()
                ref.log_optimal_transport(scores, alpha, iters=1 + extra)
                end = time.perf_counter()
                return ((end - middle) - (middle - start)) * 1e3 / extra
            contenders = {"pytorch": torch_per_iteration}
            if want_ort:
                class Transport(torch.nn.Module):
                    def __init__(self, iters):
                        super().__init__()
                        self.iters = iters
                        self.alpha = torch.nn.Parameter(alpha.clone(), requires_grad=False)

                    def forward(self, s):
                        return ref.log_optimal_transport(s, self.alpha, iters=self.iters)
                sessions = []
                for iters in (1, 1 + extra):
                    path = onnx_dir / f"log_optimal_transport_{NUM_KEYPOINTS}_{iters}it.onnx"
                    log(f"exporting {path.name}")
                    export_onnx(torch, Transport(iters).eval(), (scores,), path, ["scores"], ["log_assignment"])
                    sessions.append(session(path))
                feed = {"scores": scores.numpy()}
                checks["ort_sinkhorn_max_abs_diff"] = float(np.abs(
                    sessions[1].run(None, feed)[0] - ref.log_optimal_transport(scores, alpha, iters=1 + extra).numpy()).max())

                def ort_per_iteration():
                    start = time.perf_counter()
                    sessions[0].run(None, feed)
                    middle = time.perf_counter()
                    sessions[1].run(None, feed)
                    end = time.perf_counter()
                    return ((end - middle) - (middle - start)) * 1e3 / extra
                contenders["onnxruntime"] = ort_per_iteration
            log("timing sinkhorn_iteration")
            res = measure_interleaved(contenders, args.runs, args.warmup)
            pytorch["sinkhorn_iteration_ms"] = res["pytorch"]
            if want_ort:
                onnx["sinkhorn_iteration_ms"] = res["onnxruntime"]
                del sessions

        if "pair_ms" in stages:
            log("timing pair")
            pair = make_pair_fn(torch, cv2, matching, superglue, args)
            res = measure_interleaved({"pytorch": wall_ms(pair)}, args.runs, args.warmup)
            pytorch["pair_ms"] = res["pytorch"]
            out = pair()
            report["config"]["pair_matches_pytorch"] = int((out["matches0"] > -1).sum())


def run_ours(args, report):
    command = args.ours_cmd
    substitutions = {"{image0}": shlex.quote(args.image0), "{image1}": shlex.quote(args.image1),
                     "{runs}": str(args.runs), "{warmup}": str(args.warmup),
                     "{threads}": str(args.threads)}
    for token, value in substitutions.items():
        command = command.replace(token, value)
    report["config"]["ours_cmd"] = command
    print(f"running ours: {command}", file=sys.stderr, flush=True)
    try:
        done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=args.ours_timeout)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"--ours-cmd did not finish within {args.ours_timeout} s")
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"--ours-cmd exited with status {done.returncode}")
    parsed = parse_json_object(done.stdout)
    ours = report["ours"]
    for key, value in parsed.items():
        if key == "peak_rss_mb":
            report["peak_rss_mb"]["ours"] = float(value)
        elif key.endswith("_ms") and isinstance(value, (int, float)) and not isinstance(value, bool):
            ours[key] = [float(value)]
        elif key.endswith("_ms") and isinstance(value, list) and value and \
                all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            ours[key] = [float(v) for v in value]
        else:  # not a list of per-run milliseconds: kept in the JSON, not tabulated
            report.setdefault("ours_extra", {})[key] = value
    unknown = sorted(k for k in ours if k not in STAGE_KEYS)
    if unknown:
        print(f"note: --ours-cmd reported stages not compared here: {', '.join(unknown)}", file=sys.stderr)


def parse_json_object(stdout):
    """The whole stdout as one JSON object, or else the last line that is one (the command may log)."""
    text = stdout.strip()
    candidates = [text] + [line.strip() for line in reversed(text.splitlines())]
    for candidate in candidates:
        if candidate.startswith("{"):
            try:
                value = json.loads(candidate)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise SystemExit("no JSON object on the command's stdout; got:\n" + text[-2000:])


def measure_rss(args, report):
    command = [sys.executable, str(Path(__file__).resolve()), "--rss-child",
               "--reference", args.reference, "--image0", args.image0, "--image1", args.image1,
               "--threads", str(args.threads), "--seed", str(args.seed),
               "--max-keypoints", str(args.max_keypoints), "--rss-runs", str(args.rss_runs),
               "--resize", str(args.resize[0]), str(args.resize[1])]
    if args.superpoint_weights:
        command += ["--superpoint-weights", args.superpoint_weights]
    if args.superglue_weights:
        command += ["--superglue-weights", args.superglue_weights]
    print("measuring PyTorch end-to-end peak RSS in a separate process", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit("the peak-RSS child process failed")
    child = parse_json_object(done.stdout)
    report["peak_rss_mb"]["pytorch"] = child["peak_rss_mb"]
    report["peak_rss_mb"]["pytorch_after_imports"] = child["rss_after_imports_mb"]


# ----------------------------------------------------------------------------- reporting

def ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def fmt_ms(value):
    if value is None:
        return "n/a"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def fmt_ratio(value):
    return "n/a" if value is None else f"{value:.2f}x"


def build_summary(report):
    summary = {}
    for key in STAGE_KEYS + sorted(k for k in report["ours"] if k not in STAGE_KEYS):
        summary[key] = {source: summarize(report[source].get(key, [])) for source in SOURCES}
    report["summary"] = summary
    med = {key: {s: (v["median"] if v else None) for s, v in by_source.items()} for key, by_source in summary.items()}
    targets = []

    def target(name, value, threshold, explanation):
        targets.append({"target": name, "ratio": value, "threshold": threshold,
                        "met": None if value is None else value >= threshold, "definition": explanation})

    target("SuperPoint whole forward vs ORT dense part",
           ratio(med["superpoint_dense_ms"]["onnxruntime"], med["superpoint_ms"]["ours"]), 1.0,
           "ORT superpoint_dense median / ours superpoint median")
    for iters in (20, 100):
        key = f"superglue_{iters}_ms"
        faster = [v for v in (med[key]["pytorch"], med[key]["onnxruntime"]) if v is not None]
        target(f"SuperGlue 1024x1024, {iters} iterations vs faster of PyTorch/ORT",
               ratio(min(faster) if faster else None, med[key]["ours"]), 1.5,
               f"min(PyTorch, ORT) {key} median / ours median")
    target("End-to-end pair vs PyTorch", ratio(med["pair_ms"]["pytorch"], med["pair_ms"]["ours"]), 2.0,
           "PyTorch pair median / ours pair median")
    rss = report["peak_rss_mb"].get("ours")
    targets.append({"target": "Peak RSS of our pair run under 300 MB", "value_mb": rss, "threshold_mb": 300,
                    "met": None if rss is None else rss < 300, "definition": "peak_rss_mb from --ours-cmd"})
    report["targets"] = targets
    return med


def print_table(rows, header):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def print_report(report, med):
    cfg = report["config"]
    print()
    print(f"machine: {report['machine']['cpu']}, {report['machine']['cpus']} CPUs; load average "
          f"{report['machine']['load_before']} before, {report['machine']['load_after']} after")
    print(f"threads: {cfg['threads']}; runs: {cfg['runs']} (+{cfg['warmup']} warm-up); images: "
          f"{Path(cfg['image0']).name}, {Path(cfg['image1']).name} at {cfg['resize'][0]}x{cfg['resize'][1]}; "
          f"weights: {cfg['weights']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    print()
    print("Medians in milliseconds; speed-up = other median / ours median (> 1 means ours is faster).")
    rows = []
    labels = dict(STAGES)
    for key in report["summary"]:
        m = med[key]
        faster = [v for v in (m["pytorch"], m["onnxruntime"]) if v is not None]
        rows.append([labels.get(key, key), fmt_ms(m["pytorch"]), fmt_ms(m["onnxruntime"]), fmt_ms(m["ours"]),
                     fmt_ratio(ratio(m["pytorch"], m["ours"])), fmt_ratio(ratio(m["onnxruntime"], m["ours"])),
                     fmt_ratio(ratio(min(faster) if faster else None, m["ours"]))])
    print_table(rows, ["stage", "PyTorch", "ORT", "ours", "ours vs PyTorch", "ours vs ORT", "ours vs faster"])
    print()
    print("Spread (min / median / max ms, n runs):")
    rows = []
    for key, by_source in report["summary"].items():
        for source, s in by_source.items():
            if s:
                rows.append([labels.get(key, key), source, fmt_ms(s["min"]), fmt_ms(s["median"]), fmt_ms(s["max"]), s["n"]])
    print_table(rows, ["stage", "source", "min", "median", "max", "n"])
    print()
    rss = report["peak_rss_mb"]
    print("Peak RSS (MB): PyTorch end-to-end process "
          f"{fmt_ms(rss.get('pytorch'))} (of which {fmt_ms(rss.get('pytorch_after_imports'))} after imports), "
          f"ours {fmt_ms(rss.get('ours'))}")
    print()
    print("Issue 7 targets:")
    for t in report["targets"]:
        status = "n/a (not measured)" if t["met"] is None else ("met" if t["met"] else "NOT met")
        if "ratio" in t:
            print(f"  {t['target']}: {fmt_ratio(t['ratio'])} (need >= {t['threshold']}x) -> {status}")
        else:
            value = "n/a" if t["value_mb"] is None else f"{t['value_mb']:.0f} MB"
            print(f"  {t['target']}: {value} -> {status}")
    if report["checks"]:
        print()
        print("Export checks: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in report["checks"].items()))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", required=True, help="checkout of SuperGluePretrainedNetwork (has models/)")
    p.add_argument("--image0", help="first JPEG (default: first of the sample images, sorted)")
    p.add_argument("--image1", help="second JPEG (default: second of the sample images)")
    p.add_argument("--resize", type=int, nargs=2, default=[640, 480], metavar=("W", "H"))
    p.add_argument("--runs", type=int, default=10, help="timed runs per stage (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs per stage first (default 2)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed for random weights/padding")
    p.add_argument("--max-keypoints", type=int, default=NUM_KEYPOINTS)
    p.add_argument("--superpoint-weights", help=".pth or .safetensors (default: random, seeded)")
    p.add_argument("--superglue-weights", help=".pth or .safetensors (default: random, seeded)")
    p.add_argument("--stages", nargs="+", default=STAGE_KEYS, choices=STAGE_KEYS)
    p.add_argument("--sinkhorn-extra-iterations", type=int, default=20,
                   help="D in (t(1+D) - t(1)) / D for the one-iteration estimate (default 20)")
    p.add_argument("--skip-pytorch-and-ort", action="store_true", help="only run --ours-cmd")
    p.add_argument("--skip-ort", action="store_true")
    p.add_argument("--skip-rss", action="store_true", help="skip the PyTorch peak-RSS child process")
    p.add_argument("--rss-runs", type=int, default=3)
    p.add_argument("--onnx-dir", help="where to write the exported .onnx files (default: a temp dir)")
    p.add_argument("--ours-cmd", help="command printing our JSON timings; {image0} {image1} {runs} "
                                      "{warmup} {threads} are replaced (shell-quoted)")
    p.add_argument("--ours-first", action="store_true", help="run --ours-cmd before the Python timings")
    p.add_argument("--ours-timeout", type=float, default=1800)
    p.add_argument("--json", help="write every number (per-run lists, summary, targets) here")
    p.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.image0 or not args.image1:
        d0, d1 = default_images()
        args.image0, args.image1 = args.image0 or d0, args.image1 or d1
    if not args.image0 or not args.image1:
        p.error(f"pass --image0 and --image1 (no default images in {DEFAULT_IMAGE_DIR})")
    for image in (args.image0, args.image1):
        if not Path(image).is_file():
            p.error(f"image not found: {image}")
    if args.runs < 1 or args.warmup < 0 or args.threads < 1 or args.sinkhorn_extra_iterations < 1:
        p.error("--runs, --threads and --sinkhorn-extra-iterations must be >= 1, --warmup >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.rss_child:
        rss_child(args)
        return
    report = {
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()],
                    "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")},
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
        "config": {"reference": args.reference, "image0": args.image0, "image1": args.image1,
                   "resize": args.resize, "runs": args.runs, "warmup": args.warmup, "threads": args.threads,
                   "seed": args.seed, "max_keypoints": args.max_keypoints, "num_keypoints_superglue": NUM_KEYPOINTS,
                   "sinkhorn_extra_iterations": args.sinkhorn_extra_iterations,
                   "weights": {"superpoint": args.superpoint_weights or f"random (seed {args.seed})",
                               "superglue": args.superglue_weights or f"random (seed {args.seed})"}},
        "pytorch": {}, "onnxruntime": {}, "ours": {}, "peak_rss_mb": {}, "checks": {},
    }
    if args.ours_cmd and args.ours_first:
        run_ours(args, report)
    if not args.skip_pytorch_and_ort:
        run_python_side(args, report)
        import torch
        report["versions"]["torch"] = torch.__version__
        if not args.skip_rss and "pair_ms" in args.stages:
            measure_rss(args, report)
    if args.ours_cmd and not args.ours_first:
        run_ours(args, report)
    report["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    med = build_summary(report)
    print_report(report, med)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
