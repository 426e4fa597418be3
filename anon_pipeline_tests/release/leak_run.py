"""Materialise one policy with Dagster on several inputs, in a process of its own, for the leak test.

Usage: python leak_run.py POLICY INSTANCE_DIR WORKDIR INPUT... ; prints one JSON line {input: run succeeded}.
Run as a subprocess so the test can capture everything the process writes to stdout and stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dagster as dg

from anon_pipeline.defs.io_manager import PolicyStagingIOManager
from anon_pipeline.defs.policy_assets import policy_definitions
from anon_pipeline.defs.resources import AnonSettings, DaskCluster
from anon_pipeline.policy import load_policy


def main(policy_file: str, instance_dir: str, workdir: str, inputs: list[str]) -> dict[str, bool]:
    policy = load_policy(policy_file)
    parts = policy_definitions(policy)
    instance = dg.DagsterInstance.local_temp(instance_dir)
    resources = {"io_manager": PolicyStagingIOManager(workdir=workdir), "anon": AnonSettings(workdir=workdir),
                 "cluster": DaskCluster()}
    outcome = {}
    for source in inputs:
        result = dg.materialize(parts["assets"], instance=instance, resources=resources,
                                run_config={"ops": {f"{policy.name}__raw": {"config": {"source": source}}}},
                                raise_on_error=False)
        outcome[Path(source).name] = result.success
    return outcome


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])))
