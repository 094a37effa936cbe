#!/usr/bin/env python3
"""Validates the Azure ML specs in this folder with the azure-ai-ml SDK (offline: no workspace).

    python3 -m venv /tmp/aml && /tmp/aml/bin/pip install azure-ai-ml
    /tmp/aml/bin/python Tools/azureml/validate.py

Loads the command components, the parallel component and both pipelines with the SDK's loaders
(which apply its schemas), checks what the SDK's objects say about them (inputs, outputs, the
parallel settings, the steps' wiring), and exits 0 when everything holds. Without azure-ai-ml it
prints a line starting with "skip:" and exits 77, the conventional "skipped" status (the Swift
test that runs this script reports that as a skip).
"""
import pathlib
import sys

try:
    from azure.ai.ml import load_component, load_job
except ImportError:
    print("skip: azure-ai-ml is not installed (pip install azure-ai-ml)")
    sys.exit(77)

HERE = pathlib.Path(__file__).resolve().parent


def check(condition, message):
    if not condition:
        raise SystemExit(f"validate.py: {message}")


def validated(entity, name):
    """The SDK's own offline validation (schema, input/output bindings, code paths) of a loaded
    spec, as `az ml` runs it before submitting; `_validate` is the SDK's (private) entry point."""
    result = entity._validate()
    check(result.passed, f"{name}: {result.error_messages}")
    return entity


def sharded():
    rank = validated(load_component(source=HERE / "rank-component.yml"), "rank-component.yml")
    merge = validated(load_component(source=HERE / "merge-component.yml"), "merge-component.yml")
    for component in (rank, merge):
        print(f"component {component.name} v{component.version}: inputs {sorted(component.inputs)}, outputs {sorted(component.outputs)}")
    check("--resume" in rank.command and "${{inputs.shard}}" in rank.command, "rank component: --resume and the shard input")
    pipeline = validated(load_job(source=HERE / "rank-sharded-pipeline.yml"), "rank-sharded-pipeline.yml")
    print(f"pipeline {pipeline.display_name}: steps {sorted(pipeline.jobs)}")
    shards = sorted(str(pipeline.jobs[f"shard_{i}"].inputs["shard"]._data) for i in range(4))
    check(shards == ["0/4", "1/4", "2/4", "3/4"], f"shards {shards}")


def parallel():
    rank = validated(load_component(source=HERE / "rank-parallel-component.yml"), "rank-parallel-component.yml")
    merge = validated(load_component(source=HERE / "merge-parallel-component.yml"), "merge-parallel-component.yml")
    print(f"component {rank.name} v{rank.version} ({rank.type}): inputs {sorted(rank.inputs)}, outputs {sorted(rank.outputs)}")
    print(f"  mini_batch_size {rank.mini_batch_size}, instance_count {rank.resources.instance_count}, "
          f"max_concurrency_per_instance {rank.max_concurrency_per_instance}, retries {rank.retry_settings.max_retries}, "
          f"timeout {rank.retry_settings.timeout}, mini_batch_error_threshold {rank.mini_batch_error_threshold}, "
          f"error_threshold {rank.error_threshold}, logging_level {rank.logging_level}")
    check(rank.type == "parallel", "rank-parallel-component.yml is not a parallel component")
    check(rank.input_data == "${{inputs.images}}", f"input_data {rank.input_data}")
    check(rank.task.type == "run_function" and rank.task.entry_script == "rank_entry.py", "task")
    check((HERE / "parallel" / rank.task.entry_script).is_file(), "the entry script is missing from the task's code folder")
    check(rank.task.append_row_to == "${{outputs.rows}}", f"append_row_to {rank.task.append_row_to}")
    for name in ("query", "images", "weights", "features", "superglue", "max_keypoints", "match_threshold", "score"):
        check("${{inputs.%s}}" % name in rank.task.program_arguments, f"input {name} is not passed to the entry script")
    check("${{outputs.feature_cache}}" in rank.task.program_arguments, "the feature cache is not passed")
    check(int(rank.mini_batch_size) > 0 and rank.retry_settings.max_retries >= 1 and rank.mini_batch_error_threshold >= 0,
          "mini-batches, retries and an error threshold")
    print(f"component {merge.name} v{merge.version}: inputs {sorted(merge.inputs)}, outputs {sorted(merge.outputs)}")
    check("--no-header" in merge.command and "--missing row" in merge.command, "merge: --no-header --missing row")
    pipeline = validated(load_job(source=HERE / "rank-parallel-pipeline.yml"), "rank-parallel-pipeline.yml")
    print(f"pipeline {pipeline.display_name}: steps {sorted(pipeline.jobs)}")
    check(pipeline.jobs["rank"].type == "parallel", "the rank step is not parallel")
    check(str(pipeline.jobs["merge"].inputs["rows"]._data) == "${{parent.jobs.rank.outputs.rows}}", "merge reads the parallel step's rows")


def main():
    sharded()
    parallel()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
