"""Entry script of the superglue_rank_parallel component (an Azure ML parallel job).

Azure ML calls init() once in each worker process, then run(mini_batch) with lists of file paths
from the `images` input until every file is done; what run() returns is appended, one line per
item, to the file named by the component's `append_row_to`. The merge step
(merge-parallel-component.yml: `superglue merge --no-header --missing row`) turns that file into
the sorted results CSV.

Per mini-batch, run() links the batch's files into a scratch folder under their paths relative to
the images folder and runs `superglue rank` on it, so every decision a single-machine
`superglue rank --images DIR` makes is the CLI's own: which files are images (extensions,
hidden files skipped), each row's image name, status texts for unreadable files, scores.

* Rows: run() returns the CLI's result rows as CSV records (RFC 4180, as FORMATS.md describes),
  one per image of the mini-batch, and a comment record (`#skipped,<name>`) for each file the CLI
  does not rank (not an image, hidden), so that every input file yields one item: Azure ML counts
  items as "one successful inference per input".
* Per-file failures (unreadable, corrupt, no keypoints) are rows with a status and score 0, as in
  a single run; they are not errors to Azure ML.
* A failure of the CLI itself (weights missing, out of memory, a crash) raises, with the CLI's last
  stderr lines: Azure ML then retries the mini-batch (retry_settings) and counts it against
  mini_batch_error_threshold. Images of a mini-batch that never succeeded get a "missing" row
  from the merge (--missing row), so the result still has one row per image.
* Reuse across mini-batches on a node: every CLI call uses the same feature cache (--cache, the
  component's feature_cache output or a node-local folder). The first mini-batch on a node
  detects the query and stores its features there; every later call reads them from the cache
  instead of running the detector on the query (the CLI prints "query from the cache"). Weights
  are loaded by each call (tens of milliseconds for safetensors; `.pth` files are converted once
  per node into ~/.cache/superglue-kit). Database images already in the cache (an earlier query,
  a retried mini-batch) skip the detector too.

Options (the component's program_arguments; unknown ones, such as Azure ML's own, are ignored):
  --query FILE --images DIR --weights DIR [--cache DIR] [--work-dir DIR] [--superglue-bin PATH]
  [--features NAME] [--matcher NAME] [--superglue indoor|outdoor] [--max-keypoints N]
  [--match-threshold T] [--score confidence|matches|inliers] [--resize N [N]]
  [--query-rotations DEGREES] (e.g. 0,90,180,270: rows then carry the query_rotation column, which
  the merge keeps)

Tools/azureml/run_parallel_locally.py runs init() and run() the way Azure ML does, on a local
folder, and merges the rows; the CLI tests compare its result with a single `superglue rank`.
"""
import argparse
import csv
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import uuid

_settings = None


def _log(message):
    print(f"superglue-parallel: {message}", flush=True)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="rank_entry.py", add_help=False)
    parser.add_argument("--query", required=True)
    parser.add_argument("--images", required=True, help="the images input; mini-batch paths are relative to it")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--cache", help="feature cache folder shared by every call (default: under --work-dir)")
    parser.add_argument("--work-dir", help="scratch folder for mini-batches (default: a new temporary folder)")
    parser.add_argument("--superglue-bin", default="superglue", help="the superglue executable (default: from PATH)")
    parser.add_argument("--features")
    parser.add_argument("--matcher")
    parser.add_argument("--superglue", help="SuperGlue weights: indoor or outdoor")
    parser.add_argument("--max-keypoints")
    parser.add_argument("--match-threshold")
    parser.add_argument("--score")
    parser.add_argument("--query-rotations")
    parser.add_argument("--resize", nargs="+")
    arguments, _ = parser.parse_known_args(argv)
    return arguments


def rank_options(arguments):
    """The `superglue rank` options every mini-batch shares."""
    options = ["--query", arguments.query, "--weights", arguments.weights, "--cache", arguments.cache, "--log-interval", "60"]
    for name in ("features", "matcher", "superglue", "max_keypoints", "match_threshold", "score", "query_rotations"):
        value = getattr(arguments, name)
        if value is not None:
            options += ["--" + name.replace("_", "-"), str(value)]
    if arguments.resize:
        options += ["--resize=" + arguments.resize[0]] + arguments.resize[1:]
    return options


def init():
    """Checks the inputs and the CLI once per worker process."""
    global _settings
    arguments = parse_arguments(sys.argv[1:])
    binary = shutil.which(arguments.superglue_bin)
    if binary is None:
        raise RuntimeError(f"superglue executable not found: {arguments.superglue_bin}")
    for label, path, is_dir in (("query", arguments.query, False), ("images", arguments.images, True), ("weights", arguments.weights, True)):
        if not (os.path.isdir(path) if is_dir else os.path.isfile(path)):
            raise RuntimeError(f"--{label} {path} does not exist")
    work = pathlib.Path(arguments.work_dir or tempfile.mkdtemp(prefix="superglue-parallel-"))
    work.mkdir(parents=True, exist_ok=True)
    if arguments.cache is None:
        arguments.cache = str(work / "feature-cache")
    version = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _settings = {
        "binary": binary,
        "images": pathlib.Path(os.path.abspath(arguments.images)),
        "images_as_given": arguments.images,
        "work": work,
        "options": rank_options(arguments),
    }
    _log(f"init: {binary} {version.stdout.strip()}, images {arguments.images}, cache {arguments.cache}, work {work}")


def csv_record(fields):
    """One RFC 4180 record as `superglue` writes it: a field is quoted when it holds a comma, a
    quote or a line break, with quotes doubled."""
    def quoted(field):
        if any(c in field for c in ',"\n\r'):
            return '"' + field.replace('"', '""') + '"'
        return field
    return ",".join(quoted(f) for f in fields)


def relative_name(path, root):
    """The image's name in the results: its path under the images folder, `/`-separated."""
    for resolve in (os.path.abspath, os.path.realpath):
        try:
            return pathlib.Path(resolve(path)).relative_to(resolve(root)).as_posix()
        except ValueError:
            continue
    raise RuntimeError(f"{path} is not under the images folder {root}; --images must be the parallel job's input_data")


def run(mini_batch):
    """Ranks one mini-batch of files; one returned item per file (a CSV row or a #skipped note)."""
    if _settings is None:
        raise RuntimeError("init() was not called")
    paths = [str(p) for p in mini_batch]
    if not paths:
        return []
    batch = _settings["work"] / f"batch-{uuid.uuid4().hex}"
    images = batch / "images"
    try:
        names = []
        for path in paths:
            name = relative_name(path, _settings["images"])
            link = images / name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists() and not link.is_symlink():
                os.symlink(os.path.abspath(path), link)
            names.append(name)
        output = batch / "results.csv"
        command = [_settings["binary"], "rank", "--images", str(images), "--output", str(output)] + _settings["options"]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0 or not output.is_file():
            tail = " | ".join(done.stderr.strip().splitlines()[-5:])
            raise RuntimeError(f"superglue rank failed with status {done.returncode} on a mini-batch of {len(paths)} file(s): {tail}")
        with open(output, newline="", encoding="utf-8") as handle:
            records = list(csv.reader(handle))
        # Status texts name images by their names; a scratch path left in one (a message quoting
        # another path of the link) is shown as the original folder, as a single run would.
        status = records[0].index("status") if records else 6
        scratch, original = str(images) + os.sep, _settings["images_as_given"].rstrip(os.sep) + os.sep
        rows = {}
        for record in records[1:]:
            record[status] = record[status].replace(scratch, original)
            rows[record[1]] = record
        items = [csv_record(rows[name]) if name in rows else csv_record(["#skipped", name]) for name in names]
        _log(f"mini-batch of {len(paths)} file(s): {len(rows)} ranked; {done.stdout.strip()}")
        return items
    finally:
        shutil.rmtree(batch, ignore_errors=True)
