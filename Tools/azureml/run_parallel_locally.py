#!/usr/bin/env python3
"""Runs the parallel component's entry script (parallel/rank_entry.py) on a local folder the way
an Azure ML parallel job does, then merges its rows with `superglue merge` like the pipeline's
merge step.

    python3 Tools/azureml/run_parallel_locally.py --output merged.csv --mini-batch-size 4 \\
        --workers 2 -- --query q.jpg --images photos/ --weights Weights [rank options...]

What it emulates: the input folder's files (every file, recursively, as a uri_folder input gives
them, hidden ones included) in sorted order are cut into mini-batches of --mini-batch-size files;
--workers worker "processes" each import the entry script afresh, call init() with the arguments
after `--` as sys.argv, and take mini-batches in turn; the items run() returns are appended, one
line each, to the rows file (`append_row_to`). A mini-batch whose run() raises is retried up to
--max-retries times, then counted as failed; the run fails when more than
--mini-batch-error-threshold mini-batches failed (-1: never), as Azure ML's settings of the same
names do. Workers run one after another here (the point is the protocol, not the speed).

Prints a JSON summary; exits 0 when the rows were merged.
"""
import argparse
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def load_entry_script(label):
    """A fresh module, as each Azure ML worker process has its own."""
    spec = importlib.util.spec_from_file_location(f"rank_entry_{label}", HERE / "parallel" / "rank_entry.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    argv = sys.argv[1:]
    entry_arguments = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="merged results CSV")
    parser.add_argument("--rows", help="the appended rows file (default: OUTPUT.rows)")
    parser.add_argument("--mini-batch-size", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--mini-batch-error-threshold", type=int, default=-1)
    args = parser.parse_args(own)
    images = next((entry_arguments[i + 1] for i, a in enumerate(entry_arguments[:-1]) if a == "--images"), None)
    binary = next((entry_arguments[i + 1] for i, a in enumerate(entry_arguments[:-1]) if a == "--superglue-bin"), "superglue")
    if images is None:
        parser.error("the entry script's arguments after -- must include --images DIR")

    files = sorted(str(p) for p in pathlib.Path(images).rglob("*") if p.is_file())
    batches = [files[i:i + args.mini_batch_size] for i in range(0, len(files), args.mini_batch_size)]
    rows_path = pathlib.Path(args.rows or args.output + ".rows")
    rows_path.write_text("", encoding="utf-8")

    saved_argv = sys.argv
    workers = []
    try:
        for w in range(max(1, args.workers)):
            module = load_entry_script(w)
            sys.argv = ["rank_entry.py"] + entry_arguments
            module.init()
            workers.append(module)
    finally:
        sys.argv = saved_argv

    failed, attempts, items = [], 0, 0
    for index, batch in enumerate(batches):
        worker = workers[index % len(workers)]
        for attempt in range(args.max_retries + 1):
            attempts += 1
            try:
                result = worker.run(batch)
            except Exception as error:  # Azure ML logs the exception and retries the mini-batch
                print(f"mini-batch {index} attempt {attempt + 1} failed: {error}", file=sys.stderr)
                continue
            if len(result) != len(batch):
                print(f"mini-batch {index}: {len(result)} items for {len(batch)} files", file=sys.stderr)
            with open(rows_path, "a", encoding="utf-8", newline="") as handle:
                for item in result:
                    handle.write(f"{item}\n")
            items += len(result)
            break
        else:
            failed.append(index)
    summary = {"files": len(files), "mini_batches": len(batches), "attempts": attempts, "failed_mini_batches": failed, "items": items,
               "rows_file": str(rows_path)}
    if 0 <= args.mini_batch_error_threshold < len(failed):
        summary["error"] = "more mini-batches failed than --mini-batch-error-threshold allows"
        print(json.dumps(summary))
        return 1
    merge = subprocess.run([binary, "merge", args.output, str(rows_path), "--no-header", "--images", images, "--missing", "row"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    summary["merge"] = (merge.stdout + merge.stderr).strip()
    print(json.dumps(summary))
    return merge.returncode


if __name__ == "__main__":
    sys.exit(main())
