"""K_eps (source document C): k-anonymity of continuous quasi-identifiers up to T % of each one's spread. Not a
target: ``k_eps_level`` asks the anonymity report (``reports.anonymity``, ``metrics.k_eps``) to show it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from anon_pipeline.criteria.base import PrivacyModel


class KEps(PrivacyModel):
    key = "k_eps_level"
    many = False
    searchable = False

    @classmethod
    def section_fields(cls) -> dict[str, tuple[Any, Any]]:
        #: Not a target: T % of document C's K_eps, reported for continuous quasi-identifiers.
        return {"k_eps_level": (float | None, Field(None, gt=0, le=100))}

    @classmethod
    def specs(cls, section: Any) -> list[Any]:
        return []
