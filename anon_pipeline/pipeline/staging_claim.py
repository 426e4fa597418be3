"""One run at a time in a staging folder that runs share (Dagster's: one per policy, or per partition).

Dagster's IO manager keeps one staged table per asset in the policy's staging folder, and a new materialisation
replaces the one before. Two runs of the same policy at once would therefore read each other's tables: one can
publish the other's data, and both report success. Each step of a run first claims the folder for its run; a step
of another run that is still in progress finds the claim and stops with a clear error. A claim of a run that has
ended (or that the instance does not know) is taken over, so a crashed run blocks nothing. ``run_policy`` stages in
a folder of its own per run and needs no claim.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from anon_pipeline.errors import AnonPipelineError
from anon_pipeline.workdir import make_dir

#: Claims live beside the staging folders (``<workdir>/<policy>/claims/``), not in them: staging holds only
#: encrypted files.
CLAIMS = "claims"


class StagingInUse(AnonPipelineError):
    """Another run that is still in progress stages its tables in the same folder."""


def claim_file(policy_root: Path, partition: str | None) -> Path:
    """Where the claim of a policy's staging folder (of one partition's) is kept."""
    return policy_root / CLAIMS / ("staging" if partition is None else f"staging-{partition}")


def claim_staging(folder: Path, claim: Path, run_id: str, in_progress: Callable[[str], bool], policy: str) -> None:
    """Claim the staging ``folder`` for ``run_id`` (in the file ``claim``), or raise ``StagingInUse`` naming the
    run in progress that holds it. ``in_progress(run_id)`` says whether a run has not ended yet. The check and the
    claim are one step for every process on this machine (an exclusive ``flock`` on the claim file)."""
    make_dir(claim.parent)
    fd = os.open(claim, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        held = fh.read().strip()
        if held == run_id:
            return
        if held and in_progress(held):
            raise StagingInUse(
                f"policy '{policy}': run {held} is still materialising this policy's assets in {folder}; a second "
                "run at once would read its staged tables (and could publish its data). Wait for it to end, or "
                "give this run another work folder (ANON_PIPELINE_WORKDIR)")
        fh.seek(0)
        fh.truncate()
        fh.write(run_id)
        fh.flush()
