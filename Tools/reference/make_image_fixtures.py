#!/usr/bin/env python3
"""Generates Tests/Fixtures/images: small test images and cv2 golden outputs for ImageIOTests.

Images: scikit-image sample photos (CC0 / public domain, see LICENSES.md) downscaled and re-encoded
in many variants, plus synthetic patterns. PNG files are written by a tiny PNG writer in this file so
every colour type, bit depth and chunk (tRNS, gAMA, eXIf) is under control; JPEG by cv2 (baseline,
progressive, 4:4:4, grayscale) and Pillow (CMYK); EXIF APP1 segments are assembled here.

Goldens (images_golden.safetensors, U8 tensors, cv2 version in the metadata):
  decode/<file>                 cv2.imread(file, cv2.IMREAD_GRAYSCALE)
  resize_input/<name>           an 8-bit source image
  resize/<name>/<w>x<h>         cv2.resize(source, (w, h)) with the default INTER_LINEAR
  prepared/<file>/<resize>/r<k> the reference's read_image output tensor (F32), when --reference is given
A golden equal to an earlier one (same dtype, shape and bytes: e.g. a PNG variant that decodes to the
same pixels) is stored once; metadata "same_as/<name>" names the stored tensor.

Usage:
  python3 Tools/reference/make_image_fixtures.py --skimage-wheel scikit_image-*.whl \
      --reference /work/reference --out Tests/Fixtures/images
(the wheel comes from `pip download --no-deps scikit-image`; Pillow is needed for the CMYK JPEG).
"""
import argparse
import io
import os
import struct
import sys
import zipfile
import zlib

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import write_safetensors  # noqa: E402

PHOTOS = {
    # name in the wheel: (fixture stem, target width)
    "chelsea.png": ("chelsea", 200),
    "coffee.png": ("coffee", 200),
    "astronaut.png": ("astronaut", 192),
    "rocket.jpg": ("rocket", 160),
}


# ---------------------------------------------------------------- PNG writer
def png_chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_rows(samples, bit_depth):
    """samples: (h, w*channels) integer array -> filtered (filter 0) raw scanlines."""
    rows = []
    for row in samples:
        if bit_depth == 16:
            data = row.astype(">u2").tobytes()
        elif bit_depth == 8:
            data = row.astype(np.uint8).tobytes()
        else:
            per_byte = 8 // bit_depth
            padded = np.zeros(((len(row) + per_byte - 1) // per_byte) * per_byte, np.uint8)
            padded[:len(row)] = row
            groups = padded.reshape(-1, per_byte)
            packed = np.zeros(len(groups), np.uint16)
            for i in range(per_byte):
                packed = (packed << bit_depth) | groups[:, i]
            data = packed.astype(np.uint8).tobytes()
        rows.append(b"\x00" + data)
    return b"".join(rows)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, samples, width, height, color_type, bit_depth, palette=None, trns=None, gama=None, exif=None,
              interlaced=False):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlaced else 0)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    if gama is not None:
        out += png_chunk(b"gAMA", struct.pack(">I", gama))
    if palette is not None:
        out += png_chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    if exif is not None:
        out += png_chunk(b"eXIf", exif)
    if interlaced:
        channels = samples.shape[1] // width
        pixels = samples.reshape(height, width, channels)
        raw = b""
        for (x0, y0, dx, dy) in ADAM7:
            sub = pixels[y0::dy, x0::dx]
            if sub.size:
                raw += pack_rows(sub.reshape(sub.shape[0], -1), bit_depth)
    else:
        raw = pack_rows(samples, bit_depth)
    out += png_chunk(b"IDAT", zlib.compress(raw, 9))
    out += png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


# ---------------------------------------------------------------- EXIF
def exif_tiff(orientation, big_endian=False):
    """A minimal TIFF structure with IFD0 holding only the Orientation tag (type SHORT)."""
    e = ">" if big_endian else "<"
    header = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    ifd = struct.pack(e + "H", 1) + struct.pack(e + "HHI", 0x0112, 3, 1) + struct.pack(e + "HH", orientation, 0)
    ifd += struct.pack(e + "I", 0)
    return header + ifd


def insert_app1(jpeg, payload):
    assert jpeg[:2] == b"\xff\xd8"
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def encode_jpeg(image, **params):
    flags = []
    for key, value in params.items():
        flags += [getattr(cv2, key), value]
    ok, buf = cv2.imencode(".jpg", image, flags)
    assert ok
    return buf.tobytes()


# ---------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--skimage-wheel", required=True)
    parser.add_argument("--reference", help="path of the SuperGluePretrainedNetwork checkout (for read_image goldens)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    files = {}

    def save(name, data):
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        files[name] = True

    def saved(name):
        files[name] = True
        return os.path.join(args.out, name)

    photos = {}
    with zipfile.ZipFile(args.skimage_wheel) as wheel:
        for source, (stem, width) in PHOTOS.items():
            raw = np.frombuffer(wheel.read("skimage/data/" + source), np.uint8)
            bgr = cv2.imdecode(raw, cv2.IMREAD_COLOR)
            height = int(round(bgr.shape[0] * width / bgr.shape[1]))
            photos[stem] = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)

    chelsea, coffee, astronaut, rocket = photos["chelsea"], photos["coffee"], photos["astronaut"], photos["rocket"]
    rng = np.random.default_rng(20240611)

    # JPEG variants
    save("chelsea_baseline.jpg", encode_jpeg(chelsea, IMWRITE_JPEG_QUALITY=90))
    save("chelsea_progressive.jpg", encode_jpeg(chelsea, IMWRITE_JPEG_QUALITY=90, IMWRITE_JPEG_PROGRESSIVE=1))
    save("coffee_444.jpg", encode_jpeg(coffee, IMWRITE_JPEG_QUALITY=95, IMWRITE_JPEG_SAMPLING_FACTOR=cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444))
    save("coffee_restart.jpg", encode_jpeg(coffee, IMWRITE_JPEG_QUALITY=75, IMWRITE_JPEG_RST_INTERVAL=4))
    save("astronaut_gray.jpg", encode_jpeg(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY), IMWRITE_JPEG_QUALITY=85))
    save("rocket.jpg", encode_jpeg(rocket, IMWRITE_JPEG_QUALITY=80))
    try:
        from PIL import Image
        rgb = cv2.cvtColor(chelsea, cv2.COLOR_BGR2RGB)
        buffer = io.BytesIO()
        Image.fromarray(rgb).convert("CMYK").save(buffer, "JPEG", quality=90)
        save("chelsea_cmyk.jpg", buffer.getvalue())
    except ImportError:
        print("Pillow missing: no CMYK JPEG fixture", file=sys.stderr)

    # EXIF orientation: an asymmetric crop so every orientation gives a different image
    crop = chelsea[10:74, 40:136]  # 96x64
    base = encode_jpeg(crop, IMWRITE_JPEG_QUALITY=90)
    for orientation in range(1, 9):
        tiff = exif_tiff(orientation, big_endian=(orientation % 2 == 0))
        save(f"exif_orientation_{orientation}.jpg", insert_app1(base, b"Exif\x00\x00" + tiff))
    # PNG with an eXIf chunk (OpenCV applies it to PNG as well)
    crop_gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    write_png(saved("exif_orientation_6.png"), crop_gray, 96, 64, 0, 8, exif=exif_tiff(6))

    # PNG variants of the photos
    rgb = cv2.cvtColor(chelsea, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    write_png(saved("chelsea_rgb.png"), rgb.reshape(h, -1), w, h, 2, 8)
    alpha = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
    write_png(saved("chelsea_rgba.png"), np.dstack([rgb, alpha]).reshape(h, -1), w, h, 6, 8)
    rgb16 = rgb.astype(np.uint16) * 257 + rng.integers(0, 256, rgb.shape, dtype=np.uint16) - 128
    rgb16 = np.clip(rgb.astype(np.int64) * 257 + rng.integers(-128, 128, rgb.shape), 0, 65535).astype(np.uint16)
    write_png(saved("chelsea_rgb16.png"), rgb16.reshape(h, -1), w, h, 2, 16)
    write_png(saved("chelsea_rgb_gamma.png"), rgb.reshape(h, -1), w, h, 2, 8, gama=45455)
    write_png(saved("chelsea_rgb_interlaced.png"), rgb.reshape(h, -1), w, h, 2, 8, interlaced=True)
    # palette: a 6x6x6 colour cube, nearest entry per pixel
    levels = np.array([0, 51, 102, 153, 204, 255])
    palette = np.array([[r, g, b] for r in levels for g in levels for b in levels], np.uint8)
    index = (np.rint(rgb / 51.0).astype(np.int64) * np.array([36, 6, 1])).sum(axis=2)
    write_png(saved("chelsea_palette.png"), index, w, h, 3, 8, palette=palette)
    trns = bytes((np.arange(216) % 256).astype(np.uint8))
    write_png(saved("chelsea_palette_trns.png"), index, w, h, 3, 8, palette=palette, trns=trns)

    gray = cv2.cvtColor(coffee, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    write_png(saved("coffee_gray.png"), gray, w, h, 0, 8)
    gray16 = np.clip(gray.astype(np.int64) * 257 + rng.integers(-128, 128, gray.shape), 0, 65535)
    write_png(saved("coffee_gray16.png"), gray16, w, h, 0, 16)
    ga = np.dstack([gray, 255 - gray]).reshape(h, -1)
    write_png(saved("coffee_gray_alpha.png"), ga, w, h, 4, 8)
    ga16 = np.dstack([gray16, 65535 - gray16]).reshape(h, -1)
    write_png(saved("coffee_gray_alpha16.png"), ga16, w, h, 4, 16)
    rgba16 = np.dstack([cv2.cvtColor(coffee, cv2.COLOR_BGR2RGB).astype(np.uint16) * 257, np.full((h, w), 40000)])
    write_png(saved("coffee_rgba16.png"), rgba16.reshape(h, -1), w, h, 6, 16)
    for depth in (1, 2, 4):
        levels = (gray.astype(np.int64) * ((1 << depth) - 1) + 127) // 255
        write_png(saved(f"coffee_gray{depth}.png"), levels, w, h, 0, depth)
        small_palette = np.stack([np.linspace(0, 255, 1 << depth)] * 3, axis=1)
        small_palette[:, 0] = small_palette[::-1, 0]
        write_png(saved(f"coffee_palette{depth}.png"), levels, w, h, 3, depth, palette=small_palette)
    write_png(saved("coffee_gray_trns.png"), gray, w, h, 0, 8, trns=struct.pack(">H", int(gray[0, 0])))

    # tiny and synthetic images
    one = np.array([[[30, 140, 220]]], np.uint8)
    save("tiny_1x1.jpg", encode_jpeg(one))
    write_png(saved("tiny_1x1.png"), one[..., ::-1].reshape(1, 3), 1, 1, 2, 8)
    seven = rng.integers(0, 256, (7, 7, 3), dtype=np.uint8)
    save("tiny_7x7.jpg", encode_jpeg(seven, IMWRITE_JPEG_QUALITY=95))
    write_png(saved("tiny_7x7.png"), seven[..., ::-1].reshape(7, 21), 7, 7, 2, 8)
    yy, xx = np.mgrid[0:61, 0:97]
    pattern = ((xx * 255) // 96 ^ (((xx // 8 + yy // 8) % 2) * 255)).astype(np.uint8)
    write_png(saved("synthetic_97x61.png"), pattern, 97, 61, 0, 8)
    save("synthetic_97x61.jpg", encode_jpeg(pattern, IMWRITE_JPEG_QUALITY=92))

    # damaged JPEGs whose cv2 result is part of the goldens (libjpeg recovers with warnings)
    baseline = open(os.path.join(args.out, "chelsea_baseline.jpg"), "rb").read()
    save("damaged_truncated.jpg", baseline[: len(baseline) * 6 // 10])
    progressive = open(os.path.join(args.out, "chelsea_progressive.jpg"), "rb").read()
    save("damaged_truncated_progressive.jpg", progressive[: len(progressive) // 2])
    corrupt = bytearray(baseline)
    start = baseline.index(b"\xff\xda")
    for offset in range(start + 400, len(baseline) - 400, 997):
        corrupt[offset] ^= 0x5A
    save("damaged_corrupt_scan.jpg", bytes(corrupt))

    tensors = {}
    meta = {"cv2_version": cv2.__version__, "numpy_version": np.__version__,
            "generator": "Tools/reference/make_image_fixtures.py"}
    for name in sorted(files):
        image = cv2.imread(os.path.join(args.out, name), cv2.IMREAD_GRAYSCALE)
        if image is None:
            meta["decode_fails/" + name] = "cv2.imread returned None"
            continue
        tensors["decode/" + name] = image

    # resize goldens: a random image and two decoded photos, many target sizes
    noise = rng.integers(0, 256, (61, 97), dtype=np.uint8)
    sources = {"noise_97x61": noise,
               "chelsea": tensors["decode/chelsea_baseline.jpg"],
               "astronaut": tensors["decode/astronaut_gray.jpg"]}
    targets = {
        "noise_97x61": [(320, 240), (160, 120), (48, 30), (97, 61), (193, 121), (13, 7), (1, 1), (200, 30), (33, 90)],
        "chelsea": [(640, 480), (100, 66), (133, 89), (317, 211), (64, 48), (1000, 10)],
        "astronaut": [(96, 96), (48, 48), (300, 200), (191, 193), (100, 100)],
    }
    # many small random cases: each its own random source and target size (1..48 pixels per side)
    for case in range(24):
        sw, sh, tw, th = (int(v) for v in rng.integers(1, 49, 4))
        name = f"noise_case{case:02d}"
        sources[name] = rng.integers(0, 256, (sh, sw), dtype=np.uint8)
        targets[name] = [(tw, th)]
    for name, source in sources.items():
        tensors["resize_input/" + name] = source
        for (tw, th) in targets[name]:
            tensors[f"resize/{name}/{tw}x{th}"] = cv2.resize(source, (tw, th))

    if args.reference:
        sys.path.insert(0, args.reference)
        import torch  # noqa: F401
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            # read_image does not plot; the reference's utils module only needs the names to exist.
            import types
            stub = types.ModuleType("matplotlib")
            stub.use = lambda *a, **k: None
            stub.pyplot = types.ModuleType("matplotlib.pyplot")
            sys.modules["matplotlib"] = stub
            sys.modules["matplotlib.pyplot"] = stub.pyplot
        from models.utils import read_image
        for name, resize in [("chelsea_baseline.jpg", [160]), ("coffee_gray16.png", [200, 150]),
                             ("tiny_7x7.png", [-1]), ("rocket.jpg", [100])]:
            for rotation in (0, 1):
                image, inp, scales = read_image(os.path.join(args.out, name), "cpu", resize, rotation, False)
                key = f"prepared/{name}/{'_'.join(str(r) for r in resize)}/r{rotation}"
                tensors[key] = inp.numpy()[0, 0].astype(np.float32)
                meta[key + "/scales"] = f"{scales[0]!r},{scales[1]!r}"

    stored, seen = {}, {}
    for name in sorted(tensors):
        value = np.ascontiguousarray(tensors[name])
        identity = (value.dtype.str, value.shape, value.tobytes())
        if identity in seen:
            meta["same_as/" + name] = seen[identity]
        else:
            seen[identity] = name
            stored[name] = value
    write_safetensors(os.path.join(args.out, "images_golden.safetensors"), stored, meta)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"{len(files)} images, {len(tensors)} golden tensors, {total} bytes in {args.out}")


if __name__ == "__main__":
    main()
