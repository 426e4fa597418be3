"""The policy's optional ``dp:`` section: which dataset a release spends from, and that dataset's total budget."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from anon_pipeline.strict_model import StrictModel


class DPBudget(StrictModel):
    epsilon: float = Field(gt=0)
    delta: float = Field(0.0, ge=0, lt=1)


class DPSpec(StrictModel):
    """``dp: {dataset_id: adult, budget: {epsilon: 3, delta: 1e-6}}``. Policies that name the same dataset share
    one ledger; without ``dataset_id`` the policy name is the dataset. Without ``budget`` spending is recorded
    but never refused."""

    dataset_id: str | None = None
    budget: DPBudget | None = None

    @field_validator("dataset_id")
    @classmethod
    def _safe_file_name(cls, value: str | None) -> str | None:
        # It names the ledger file, so no path separators or dots.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError("must be letters, digits, '_' or '-' (it names the ledger file)")
        return value
