"""Partitioned policies: which partition keys exist, which file a key reads, and where its releases go.

A key is ``YYYY-MM`` (monthly), ``YYYY-MM-DD`` (daily) or one of the listed keys (static). The Dagster layer
builds the matching partitions definition from the same spec; this module needs no Dagster.
"""

from __future__ import annotations

from pathlib import Path

from anon_pipeline.errors import PolicyError
from anon_pipeline.policy.model import TIME_KEY_FORMATS, Policy, is_time_key


def check_partition(policy: Policy, key: str | None) -> str | None:
    """``key`` when it is a partition of ``policy`` (None for an unpartitioned policy), else a ``PolicyError``."""
    spec = policy.partitions
    if spec is None:
        if key is not None:
            raise PolicyError(policy.path, f"has no partitions: section, so partition '{key}' means nothing; "
                              "run it without a partition", field="partitions")
        return None
    if key is None:
        raise PolicyError(policy.path, f"is partitioned ({spec.kind}): name the partition to run (--partition, "
                          "or a partition of the job in Dagster)", field="partitions")
    timed = spec.monthly or spec.daily
    if timed is not None:
        fmt = TIME_KEY_FORMATS[spec.kind]
        if not is_time_key(spec.kind, key) or key < timed.start or (timed.end is not None and key > timed.end):
            raise PolicyError(policy.path, f"partition '{key}' is not a {spec.kind} key ({fmt}) from "
                              f"{timed.start}" + (f" to {timed.end}" if timed.end else ""), field="partitions")
    elif key not in (spec.static or ()):
        raise PolicyError(policy.path, f"partition '{key}' is not one of partitions.static {spec.static}",
                          field="partitions.static")
    return key


def partition_source(policy: Policy, key: str) -> Path:
    """The file partition ``key`` reads: ``partitions.source`` with the key filled in, relative to the policy."""
    spec = policy.partitions
    assert spec is not None and spec.template is not None
    path = Path(spec.template.format(month=key, day=key, partition=key))
    return path if path.is_absolute() else policy.base_dir / path
