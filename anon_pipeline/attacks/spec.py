"""The policy's ``evaluation:`` section: which attacks every release is measured against, on how large a
control split, and the risk each may reach.

    evaluation:
      control_share: 0.2          # rows held out before anything is fitted (they are never released)
      n_attacks: 500
      secrets: [avg_n_drinks_per_week]   # column names (input or output); default: every sensitive column
      targets: {singling_out_multivariate: 0.2, linkability: 0.05, inference: 0.05, linkage: 0.0}
      blocking: false             # a risk above its target warns; true: it blocks the release
"""

from __future__ import annotations

from pydantic import Field, model_validator

from anon_pipeline.attacks.report import ATTACKS
from anon_pipeline.strict_model import StrictModel

#: Names a target may take: each attack, ``inference`` for every secret, and the linkage attack.
TARGET_NAMES = (*[a for a in ATTACKS if a != "inference"], "inference", "linkage")


class EvaluationSpec(StrictModel):
    control_share: float = Field(0.2, ge=0.05, le=0.5)
    n_attacks: int = Field(500, ge=10, le=100_000)
    secrets: list[str] | None = None
    targets: dict[str, float] = Field(default_factory=dict)
    blocking: bool = False

    @model_validator(mode="after")
    def _known_targets(self) -> "EvaluationSpec":
        unknown = sorted(set(self.targets) - set(TARGET_NAMES))
        if unknown:
            raise ValueError(f"unknown attack target(s) {unknown}; use {list(TARGET_NAMES)}")
        bad = sorted(name for name, value in self.targets.items() if not 0 <= value <= 1)
        if bad:
            raise ValueError(f"attack targets {bad} must be risks between 0 and 1")
        return self
