"""A sensor per policy with ``source.inbox``: every new or changed file in the folder runs the policy's job on it.

The cursor remembers each file's size and modification time, so a file is run once, and again only when it
changes. The sensor starts stopped: a data engineer turns it on in the UI.
"""

import json
from pathlib import Path

import dagster as dg

from anon_pipeline.policy.model import Policy

INBOX_SUFFIXES = (".csv", ".parquet", ".pq")


def inbox_files(folder: Path) -> dict[str, str]:
    """File path -> a fingerprint (size and modification time) of every input file in ``folder``."""
    if not folder.is_dir():
        return {}
    out = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in INBOX_SUFFIXES and not path.name.startswith("."):
            st = path.stat()
            out[str(path.resolve())] = f"{st.st_size}:{st.st_mtime_ns}"
    return out


def inbox_sensor(policy: Policy, job) -> dg.SensorDefinition:
    inbox = policy.source.inbox
    assert inbox is not None  # made only for a policy with source.inbox
    folder = (policy.base_dir / inbox).resolve()

    @dg.sensor(name=f"{policy.name}_inbox_sensor", job=job, minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.STOPPED,
               description=f"Runs policy '{policy.name}' on every new or changed file in {folder}.")
    def _sensor(context: dg.SensorEvaluationContext):
        seen = json.loads(context.cursor) if context.cursor else {}
        current = inbox_files(folder)
        new = {path: mark for path, mark in current.items() if seen.get(path) != mark}
        if not new:
            return dg.SkipReason(f"no new or changed file in {folder}")
        requests = [dg.RunRequest(run_key=f"{Path(path).name}:{mark}",
                                  run_config={"ops": {f"{policy.name}__raw": {"config": {"source": path}}}},
                                  tags={"anon_pipeline/source_file": Path(path).name})
                    for path, mark in new.items()]
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(current, sort_keys=True))

    return _sensor
