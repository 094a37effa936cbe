#!/usr/bin/env python3
"""Generates the ranking fixture: a synthetic "poster" query and a folder of synthetic photos,
some with the poster pasted in under a perspective warp, plus broken files.

    python3 Tests/Fixtures/ranking/make_ranking_fixture.py Tests/Fixtures/ranking

Deterministic (fixed seeds); uses numpy and opencv-python(-headless). With random-weight
networks the scores carry no meaning: the fixture exercises the job's mechanics on real JPEG and
PNG files (decoding, bad files, cache, resume, shards) through the real engine.
"""
import pathlib
import sys

import cv2
import numpy as np


def texture(rng, height, width):
    """Smooth noise plus random shapes: enough corners for SuperPoint to find keypoints."""
    base = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    image = cv2.addWeighted(base, 0.6, np.full_like(base, 90), 0.4, 0)
    for _ in range(25):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if kind == 0:
            cv2.rectangle(image, (x, y), (x + int(rng.integers(5, 60)), y + int(rng.integers(5, 60))), color, -1)
        elif kind == 1:
            cv2.circle(image, (x, y), int(rng.integers(3, 30)), color, -1)
        else:
            cv2.line(image, (x, y), (int(rng.integers(0, width)), int(rng.integers(0, height))), color, int(rng.integers(1, 4)))
    return image


def main(out: pathlib.Path) -> None:
    rng = np.random.default_rng(20261124)
    images = out / "images"
    (images / "sub").mkdir(parents=True, exist_ok=True)
    query = texture(rng, 150, 200)
    cv2.putText(query, "SUPERGLUE", (12, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 3)
    cv2.imwrite(str(out / "query.jpg"), query, [cv2.IMWRITE_JPEG_QUALITY, 90])
    query2 = texture(np.random.default_rng(7), 150, 200)
    cv2.imwrite(str(out / "query2.png"), query2)
    corners = np.float32([[0, 0], [200, 0], [200, 150], [0, 150]])
    for i in range(10):
        photo = texture(rng, 240, 320)
        if i % 3 == 0:
            # Paste the query into a random convex quadrilateral (a poster on a wall).
            x0, y0 = rng.uniform(20, 110), rng.uniform(15, 70)
            w, h = rng.uniform(140, 190), rng.uniform(100, 150)
            jitter = rng.uniform(-15, 15, (4, 2))
            target = np.float32([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]]) + jitter.astype(np.float32)
            warp = cv2.getPerspectiveTransform(corners, target)
            pasted = cv2.warpPerspective(query, warp, (320, 240))
            mask = cv2.warpPerspective(np.full((150, 200), 255, np.uint8), warp, (320, 240))
            photo[mask > 0] = pasted[mask > 0]
        name = ("sub/" if i % 4 == 1 else "") + f"photo{i:02d}" + (".png" if i % 5 == 4 else ".jpg")
        if name.endswith(".png"):
            cv2.imwrite(str(images / name), photo)
        else:
            cv2.imwrite(str(images / name), photo, [cv2.IMWRITE_JPEG_QUALITY, 85])
    # Broken inputs: a truncated JPEG, a text file named .jpg, an empty PNG.
    whole = (images / "photo00.jpg").read_bytes()
    (images / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    (images / "notes.jpg").write_text("this is not an image\n")
    (images / "empty.png").write_bytes(b"")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent))
