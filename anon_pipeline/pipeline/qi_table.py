"""The quasi-identifier table: direct identifiers gone, a fresh random GUID per row, validated.

GUIDs come from the operating system's CSPRNG, not the policy seed: a seeded GUID would let anyone holding
the seed rebuild the contract (source row <-> GUID). For the same reason the rows are shuffled by a CSPRNG
permutation: a table in source order hands out the contract to whoever reads it. The contract is made here, once,
from that permutation, and only ever stored encrypted. Identifier columns that the policy keeps in a safe form
(pseudonym, mask) are transformed here, so no stored table ever holds them in clear.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from anon_pipeline.errors import AnonPipelineError
from anon_pipeline.pipeline.raw_schema import summarise_schema_errors
from anon_pipeline.policy.load import GUID, bind_steps
from anon_pipeline.policy.model import Policy, Role
from anon_pipeline.pipeline.guids import GUID_PATTERN, is_guid, random_guids, random_guids_with_lead, shares_prefix
from anon_pipeline.pipeline.steps import run_steps
from anon_pipeline.stats.hashing import duplicated

def guid_column() -> pa.Column:
    """The GUID column's schema: present, a version-4 UUID, unique. Uniqueness is checked by hashing
    (``stats.hashing.duplicated``, exact): pandera's own check hashes the 36-character strings, several times
    slower at a million rows."""
    return pa.Column("str", [pa.Check(is_guid, error=f"str_matches('{GUID_PATTERN}')"),
                             pa.Check(_not_repeated, error="unique")], nullable=False)


def _not_repeated(values: pd.Series) -> pd.Series:
    if shares_prefix(values) is False:  # distinct first 64 bits: distinct GUIDs, no hashing needed
        return pd.Series(True, index=values.index)
    return pd.Series(~duplicated(values), index=values.index)


def qi_schema(policy: Policy) -> pa.DataFrameSchema:
    columns = {GUID: guid_column()}
    for name in policy.kept_columns:
        columns[name] = pa.Column(nullable=True, required=True)
    return pa.DataFrameSchema(columns, strict=True, name=f"{policy.name}.qi_table")


def validate_table(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> list[dict]:
    """Problems (column, rule, row count) of ``frame`` against ``schema``; empty when it conforms."""
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        return summarise_schema_errors(exc)
    return []


def build_qi_table(raw: pd.DataFrame, policy: Policy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns (qi_table, contract). The qi table's rows are in a random order; the contract maps each source row
    number (0-based position in the source) to its GUID. The contract is a secret."""
    if GUID in policy.columns:
        raise AnonPipelineError(f"policy {policy.path}: the input has a column named '{GUID}', which the "
                                "pipeline reserves for its row identifier")
    column_steps, _ = bind_steps(policy)
    order = secure_permutation(len(raw))
    guids = random_guids(len(raw))
    table = pd.DataFrame({GUID: pd.array(guids, dtype="str")})
    for name in policy.kept_columns:
        values = raw[name]
        if policy.columns[name].role is Role.identifier:
            values, _, _ = run_steps(values, column_steps[name], policy, name)
        table[name] = values.iloc[order].reset_index(drop=True)
    problems = validate_table(table, qi_schema(policy))
    if problems:
        raise AnonPipelineError(f"qi_table of policy '{policy.name}' breaks its schema: {problems}")
    # In source order: the inverse permutation, no sort and no Python string per row.
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    contract = pd.DataFrame({"source_row": np.arange(len(order), dtype=order.dtype),
                             GUID: table[GUID].array.take(inverse)})
    return table, contract


def qi_batch(raw: pd.DataFrame, policy: Policy, first_row: int) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """One batch of the qi table for the streaming engine, still in source order (the engine orders the rows by
    GUID): (rows, the leading 32 bits of each GUID, contract rows ``source_row`` <-> GUID)."""
    column_steps, _ = bind_steps(policy)
    guids, lead = random_guids_with_lead(len(raw))
    columns: dict[str, object] = {GUID: guids}
    for name in policy.kept_columns:
        values = raw[name]
        if policy.columns[name].role is Role.identifier:
            values, _, _ = run_steps(values, column_steps[name], policy, name)
        columns[name] = values.to_numpy() if isinstance(values.dtype, np.dtype) else values.array
    table = pd.DataFrame(columns)
    contract = pd.DataFrame({"source_row": np.arange(first_row, first_row + len(raw), dtype=np.int64), GUID: guids})
    return table, lead, contract


def secure_permutation(n: int) -> np.ndarray:
    """A uniformly random permutation of ``range(n)`` drawn from the OS CSPRNG: the rank of 64 random bits per row
    (numpy's generators are seeded and predictable; ties, at odds of n^2 / 2^65, fall back to position)."""
    keys = np.frombuffer(os.urandom(8 * n), dtype=np.uint64)
    return np.argsort(keys, kind="stable").astype(np.int64)
