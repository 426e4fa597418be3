"""The policy model: what a YAML file in ``policies/`` may say, as pydantic models.

Op parameters are validated separately (``policy.load``) against each op's own ``Params`` model, so a plugin
op's parameters are checked exactly like a built-in's.
"""

from __future__ import annotations

import codecs
import re
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator

from anon_pipeline.attacks.spec import EvaluationSpec
from anon_pipeline.criteria import PrivacyTargets
from anon_pipeline.strict_model import SafeName, StrictModel, closest

from anon_pipeline.policy.dp_spec import DPSpec


class Role(str, Enum):
    identifier = "identifier"            # direct identifier: dropped (or pseudonymised by an identifier op)
    quasi_identifier = "quasi_identifier"
    sensitive = "sensitive"              # kept; measured by l-diversity / t-closeness
    insensitive = "insensitive"          # kept as is
    drop = "drop"                        # not needed for the purpose (data minimisation): dropped, not checked


#: Bound on generated sample rows: more is a typo, and would exhaust memory before anything is checked.
MAX_SAMPLE_ROWS = 1_000_000_000


class Step(StrictModel):
    """One op in a column's (or a group's) chain. Params may be nested under ``params`` or written inline."""

    op: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _inline_params(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "op" not in data:
                near = closest("op", [str(k) for k in data])
                raise ValueError("a step needs op:" + (f" (is '{near}' meant to be 'op'?)" if near else ""))
            inline = {k: v for k, v in data.items() if k not in ("op", "params")}
            if inline:
                merged = dict(data.get("params") or {})
                twice = sorted(str(k) for k in set(merged) & set(inline))
                if twice:
                    raise ValueError(f"{twice} given both inline and under params:")
                merged.update(inline)
                return {"op": data.get("op"), "params": merged}
        return data


DType = Literal["str", "int", "float", "date", "datetime", "bool"]


class ColumnSpec(StrictModel):
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
    output: SafeName | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class SampleSpec(StrictModel):
    """A bundled, seeded generator used when the source has no path."""

    generator: str = "insurance_customers"
    rows: int = Field(1000, ge=1, le=MAX_SAMPLE_ROWS)
    seed: int = 0


class SourceSpec(StrictModel):
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
    #: Input bounds, so a malformed or hostile file is refused early instead of exhausting memory: the most
    #: columns, and the longest CSV line (a quoted field's line breaks included, so also the longest field).
    max_columns: int = Field(10_000, ge=1)
    max_line_bytes: int = Field(1 << 20, ge=1)
    #: Rows per batch of the streaming engine: peak memory grows with it (about 2 KB per row of an 18-column
    #: input while a batch is read, typed and staged), the fixed cost per batch shrinks with it.
    batch_rows: int = Field(250_000, ge=1)

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1 or value in "\"\r\n":
            raise ValueError("must be exactly one character, not a quote or a line break")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        try:
            info = codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding '{value}'") from None
        # rot13, base64, zlib ... are codecs but do not decode bytes into text.
        if not getattr(info, "_is_text_encoding", True):
            raise ValueError(f"'{value}' is not a text encoding")
        return value

    @model_validator(mode="after")
    def _something_to_read(self) -> "SourceSpec":
        if self.path is None and self.sample is None:
            self.sample = SampleSpec()
        return self


class GroupSpec(StrictModel):
    """Steps applied to several quasi-identifiers jointly (synthesis, lattice generalisation)."""

    name: str
    columns: list[str] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)


#: The ``privacy:`` section: one model, built from the registered privacy models (``anon_pipeline.criteria``), so
#: a key none of them owns is an error at load rather than a target silently left unchecked.
PrivacySpec = PrivacyTargets


class ReleaseSpec(StrictModel):
    formats: list[Literal["parquet", "csv"]] = ["parquet", "csv"]  # pydantic copies a mutable default per model
    #: Keep the contract table (source row <-> GUID, Borisov et al. 2023), encrypted, apart from the release.
    contract: bool = False
    #: Put the tables in an AES-256 zip whose random password goes to a separate 0400 file.
    encrypted_zip: bool = False
    #: Permission bits (octal) of released files and folders: read-only, no world access by default.
    file_mode: str = "0440"
    dir_mode: str = "0550"

    @field_validator("file_mode", "dir_mode", mode="before", json_schema_input_type=str | int)
    @classmethod
    def _octal_mode(cls, value: Any, info: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):  # YAML reads an unquoted 0440 as octal
            value = f"0{value:o}"
        if not isinstance(value, str) or not re.fullmatch(r"0?[0-7]{3}", value):
            raise ValueError("must be an octal mode such as \"0440\" (quoted)")
        bits, needed = int(value, 8), (0o400 if info.field_name == "file_mode" else 0o500)
        if bits & 0o222 or bits & needed != needed:
            raise ValueError(f"{value} must be read-only (no write bit) and let the owner read"
                             + (" and enter" if needed == 0o500 else ""))
        return f"0{bits:03o}"


#: The key format of each time-partition kind (also Dagster's: MonthlyPartitionsDefinition with fmt "%Y-%m").
TIME_KEY_FORMATS = {"monthly": "YYYY-MM", "daily": "YYYY-MM-DD"}
_PARTITION_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_template(template: str, placeholders: tuple[str, ...]) -> str:
    names = set(re.findall(r"{([^{}]*)}", template))
    if not names & set(placeholders) or names - set(placeholders) - {"partition"}:
        raise ValueError(f"source must name the partition as {{{placeholders[0]}}} (or {{partition}}) and hold no "
                         "other placeholder")
    return template


class TimePartitions(StrictModel):
    """One partition per month (``YYYY-MM``) or per day (``YYYY-MM-DD``) from ``start`` (to ``end``, else to the
    last complete period); ``source``: the file of one partition, relative to the policy."""

    start: str
    end: str | None = None
    source: str | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _yaml_date(cls, value: Any) -> Any:
        return value.isoformat() if isinstance(value, date) else value  # YAML reads 2024-01-01 as a date


class PartitionsSpec(StrictModel):
    """Every asset of the policy partitioned the same way: ``monthly``, ``daily`` or ``static`` (a list of keys).
    The partition key picks the source file (``source`` here, or inside ``monthly``/``daily``) and names the
    release folder."""

    monthly: TimePartitions | None = None
    daily: TimePartitions | None = None
    static: list[str] | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "PartitionsSpec":
        kinds = [k for k in ("monthly", "daily", "static") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of monthly, daily, static")
        timed = self.monthly or self.daily
        if timed is not None:
            for name in ("start", "end"):
                value = getattr(timed, name)
                if value is not None and not is_time_key(kinds[0], value):
                    raise ValueError(f"{kinds[0]}.{name} must be {TIME_KEY_FORMATS[kinds[0]]}")
            if timed.source is not None and self.source is not None:
                raise ValueError(f"source given twice (in partitions and in partitions.{kinds[0]})")
        elif not self.static or len(set(self.static)) != len(self.static) or \
                not all(_PARTITION_KEY.match(str(k)) for k in self.static):
            raise ValueError("static must list distinct keys of letters, digits, '_', '-', '.' (they name folders)")
        if self.template is None:
            raise ValueError("needs source: the file of one partition, e.g. exports/customers_{month}.csv")
        _check_template(self.template, {"monthly": ("month",), "daily": ("day",), "static": ("partition",)}[self.kind])
        return self

    @property
    def kind(self) -> Literal["monthly", "daily", "static"]:
        return "monthly" if self.monthly else "daily" if self.daily else "static"

    @property
    def template(self) -> str | None:
        timed = self.monthly or self.daily
        return (timed.source if timed is not None else None) or self.source


def is_time_key(kind: str, key: str) -> bool:
    """``key`` is a month ``YYYY-MM`` (monthly) or a day ``YYYY-MM-DD`` (daily) that exists."""
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", key)) and len(key) == len(TIME_KEY_FORMATS[kind]) \
            and date.fromisoformat(key if kind == "daily" else key + "-01") is not None
    except ValueError:
        return False


class PlanReuse(StrictModel):
    #: ``latest`` (the plan of the policy's latest release, any partition) or a plan id (16 hex digits).
    reuse: str

    @field_validator("reuse")
    @classmethod
    def _plan_id(cls, value: str) -> str:
        if value != "latest" and not re.fullmatch(r"[0-9a-f]{16}", value):
            raise ValueError("must be 'latest' or a plan id (16 hex digits, see anon-pipeline plans POLICY)")
        return value


#: ``refit`` or ``{reuse: ...}``; the discriminator keeps an error to the one form that was meant.
PlanChoice = Annotated[Annotated[Literal["refit"], Tag("refit")] | Annotated[PlanReuse, Tag("reuse")],
                       Discriminator(lambda v: "refit" if isinstance(v, str) else "reuse")]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Policy(StrictModel):
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
    #: Attacks every release is measured against, on a held-out control split (optional).
    evaluation: EvaluationSpec | None = None
    #: Differential privacy: the dataset a DP release spends from and its total budget (anon_pipeline.dp).
    dp: DPSpec | None = None
    #: Partitioned runs: one source file and one release per month, day or listed key (optional).
    partitions: PartitionsSpec | None = None
    #: ``refit`` (a fresh fit, fresh codes, every run) or ``{reuse: latest | <plan id>}``: replay a stored plan.
    plan: PlanChoice = "refit"

    _path: Path | None = PrivateAttr(default=None)

    @field_validator("source", mode="before")
    @classmethod
    def _source_given(cls, value: Any) -> Any:
        if value is None:  # `source:` with nothing under it
            raise ValueError("is empty: give path: <a CSV or parquet file, relative to the policy> (or sample: "
                             "{generator: ..., rows: ...} for a generated table of a bundled generator's columns)")
        return value

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be letters, digits and underscores, not starting with a digit "
                             "(it prefixes Dagster asset keys)")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> "Policy":
        # Names of columns elsewhere in the file are checked by policy.load, which can point at their field.
        outputs = [self.output_name(c) for c in self.kept_columns]
        dupes = {o for o in outputs if outputs.count(o) > 1}
        if dupes:
            raise ValueError(f"two kept columns share the output name(s) {sorted(dupes)}")
        if self.partitions is not None:
            if self.source.path is not None or self.source.inbox is not None:
                raise ValueError("a partitioned policy reads partitions.source: remove source.path and "
                                 "source.inbox")
            if self.schedule is not None and self.partitions.kind == "static":
                raise ValueError("a schedule needs monthly or daily partitions (run static ones by backfill)")
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

    @property
    def reuses_plan(self) -> bool:
        return isinstance(self.plan, PlanReuse)
