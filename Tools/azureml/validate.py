#!/usr/bin/env python3
"""Validates the Azure ML specs in this folder with the azure-ai-ml SDK (offline: no workspace).

    python3 -m venv /tmp/aml && /tmp/aml/bin/pip install azure-ai-ml
    /tmp/aml/bin/python Tools/azureml/validate.py

Exits 0 when every spec loads; prints the SDK's error for the first one that does not.
"""
import pathlib
import sys

try:
    from azure.ai.ml import load_component, load_job
except ImportError:
    print("azure-ai-ml is not installed; skipping (pip install azure-ai-ml)")
    sys.exit(0)

HERE = pathlib.Path(__file__).resolve().parent


def main() -> int:
    rank = load_component(source=HERE / "rank-component.yml")
    merge = load_component(source=HERE / "merge-component.yml")
    for component in (rank, merge):
        print(f"component {component.name} v{component.version}: inputs {sorted(component.inputs)}, outputs {sorted(component.outputs)}")
    assert "--resume" in rank.command and "${{inputs.shard}}" in rank.command
    pipeline = load_job(source=HERE / "rank-sharded-pipeline.yml")
    print(f"pipeline {pipeline.display_name}: steps {sorted(pipeline.jobs)}")
    shards = sorted(str(pipeline.jobs[f"shard_{i}"].inputs["shard"]._data) for i in range(4))
    assert shards == ["0/4", "1/4", "2/4", "3/4"], shards
    return 0


if __name__ == "__main__":
    sys.exit(main())
