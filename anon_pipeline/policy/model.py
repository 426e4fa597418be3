"""The policy model: what a YAML file in ``policies/`` may say, as pydantic models.

Op parameters are validated separately (``policy.load``) against each op's own ``Params`` model, so a plugin
op's parameters are checked exactly like a built-in's.
"""

from __future__ import annotations

import re
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from anon_pipeline.dp.spec import DPSpec


class Role(str, Enum):
    identifier = "identifier"            # direct identifier: dropped (or pseudonymised by an identifier op)
    quasi_identifier = "quasi_identifier"
    sensitive = "sensitive"              # kept; measured by l-diversity / t-closeness
    insensitive = "insensitive"          # kept as is
    drop = "drop"                        # not needed for the purpose (data minimisation): dropped, not checked


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Step(_Strict):
    """One op in a column's (or a group's) chain. Params may be nested under ``params`` or written inline."""

    op: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _inline_params(cls, data: Any) -> Any:
        if isinstance(data, dict):
            inline = {k: v for k, v in data.items() if k not in ("op", "params")}
            if inline:
                merged = dict(data.get("params") or {})
                merged.update(inline)
                return {"op": data.get("op"), "params": merged}
        return data


DType = Literal["str", "int", "float", "date", "datetime", "bool"]


class ColumnSpec(_Strict):
    role: Role
    dtype: DType = "str"
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None
    pattern: str | None = None
    #: strptime format for date/datetime columns; e.g. ``"%d/%m/%Y"`` for a spreadsheet's day-first dates.
    date_format: str | None = None
    unique: bool = False
    steps: list[Step] = Field(default_factory=list)
    #: Name of the column in the anonymised table (default: the input name).
    output: str | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class SampleSpec(_Strict):
    """A bundled, seeded generator used when the source has no path."""

    generator: str = "insurance_customers"
    rows: int = Field(1000, ge=1)
    seed: int = 0


class SourceSpec(_Strict):
    path: str | None = None
    format: Literal["auto", "csv", "parquet"] = "auto"
    delimiter: str = ","
    encoding: str = "utf-8"
    sample: SampleSpec | None = None
    #: A folder (relative to the policy) a Dagster sensor watches: each new or changed CSV/parquet file there
    #: starts the policy's job with that file as its source.
    inbox: str | None = None
    #: Rows that repeat another row in every column are usually an export fault: an error unless ``allow``.
    duplicate_rows: Literal["error", "allow"] = "error"

    @model_validator(mode="after")
    def _something_to_read(self) -> "SourceSpec":
        if self.path is None and self.sample is None:
            self.sample = SampleSpec()
        return self


class GroupSpec(_Strict):
    """Steps applied to several quasi-identifiers jointly (synthesis, lattice generalisation)."""

    name: str
    columns: list[str] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)


class PrivacySpec(BaseModel):
    # Other sections (l, t, risk) are added by the metrics engine; unknown keys are kept for it to validate.
    model_config = ConfigDict(extra="allow")

    k: int | None = Field(None, ge=1)
    #: Input column names the k target applies to (default: every quasi-identifier).
    quasi_identifiers: list[str] | None = None


class ReleaseSpec(_Strict):
    formats: list[Literal["parquet", "csv"]] = Field(default_factory=lambda: ["parquet", "csv"])
    #: Keep the contract table (source row <-> GUID, source document C), encrypted, apart from the release.
    contract: bool = False
    #: Put the tables in an AES-256 zip whose random password goes to a separate 0400 file.
    encrypted_zip: bool = False


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Policy(_Strict):
    name: str
    description: str = ""
    source: SourceSpec = Field(default_factory=SourceSpec)
    seed: int
    reference_date: date | None = None
    columns: dict[str, ColumnSpec]
    groups: list[GroupSpec] = Field(default_factory=list)
    privacy: PrivacySpec = Field(default_factory=PrivacySpec)
    release: ReleaseSpec = Field(default_factory=ReleaseSpec)
    #: Cron expression for a Dagster schedule (optional).
    schedule: str | None = None
    #: Differential privacy: the dataset a DP release spends from and its total budget (anon_pipeline.dp).
    dp: DPSpec | None = None

    _path: Path | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be letters, digits and underscores, not starting with a digit "
                             "(it prefixes Dagster asset keys)")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> "Policy":
        qis = set(self.quasi_identifiers)
        for group in self.groups:
            for col in group.columns:
                if col not in self.columns:
                    raise ValueError(f"group '{group.name}' names column '{col}', which the policy does not declare")
        if self.privacy.quasi_identifiers is not None:
            for col in self.privacy.quasi_identifiers:
                if col not in qis:
                    raise ValueError(f"privacy.quasi_identifiers names '{col}', which is not a quasi_identifier")
        outputs = [self.output_name(c) for c in self.kept_columns]
        dupes = {o for o in outputs if outputs.count(o) > 1}
        if dupes:
            raise ValueError(f"two kept columns share the output name(s) {sorted(dupes)}")
        return self

    # ---- derived views -------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def base_dir(self) -> Path:
        return self._path.parent if self._path is not None else Path.cwd()

    def columns_with(self, *roles: Role) -> list[str]:
        return [name for name, spec in self.columns.items() if spec.role in roles]

    @property
    def quasi_identifiers(self) -> list[str]:
        return self.columns_with(Role.quasi_identifier)

    @property
    def identifiers(self) -> list[str]:
        return self.columns_with(Role.identifier)

    @property
    def kept_columns(self) -> list[str]:
        """Input columns that reach the anonymised table (in policy order)."""
        return [name for name, spec in self.columns.items()
                if spec.role in (Role.quasi_identifier, Role.sensitive, Role.insensitive)
                or (spec.role is Role.identifier and spec.steps)]

    def output_name(self, column: str) -> str:
        return self.columns[column].output or column

    @property
    def k_quasi_identifiers(self) -> list[str]:
        """Input names of the quasi-identifiers the k target applies to."""
        return list(self.privacy.quasi_identifiers) if self.privacy.quasi_identifiers else self.quasi_identifiers
