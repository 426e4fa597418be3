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
import pyarrow
from pandera.errors import SchemaErrors

from anon_pipeline.errors import AnonPipelineError
from anon_pipeline.pipeline.raw_schema import summarise_schema_errors
from anon_pipeline.policy.load import GUID, bind_steps
from anon_pipeline.policy.model import Policy, Role
from anon_pipeline.pipeline.steps import run_steps

GUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
#: Where the 32 hex digits go in the 36-character form (the rest are the 4 dashes).
_HEX_SLOTS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def random_guids(n: int) -> pd.api.extensions.ExtensionArray:
    """``n`` random version-4 UUID strings (a pandas ``str`` array), built from ``os.urandom`` bytes in numpy:
    no Python object per row, so millions of rows take a fraction of a second."""
    return random_guids_with_lead(n)[0]


def random_guids_with_lead(n: int) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray]:
    """``random_guids`` and the leading 32 bits of each GUID (an unsigned integer): its place in GUID order."""
    raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2], nibbles[:, 1::2] = raw >> 4, raw & 0x0F
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    chars[:, _HEX_SLOTS] = _HEX_DIGITS[nibbles]
    # The (n, 36) bytes are the data buffer of an Arrow string array whose offsets step by 36.
    offsets = np.arange(0, 36 * n + 1, 36, dtype=np.int64)
    strings = pyarrow.LargeStringArray.from_buffers(n, pyarrow.py_buffer(offsets), pyarrow.py_buffer(chars))
    lead = raw[:, :4].copy().view(">u4").ravel().astype(np.uint32)
    return pd.array(strings, dtype="str"), lead


def qi_schema(policy: Policy) -> pa.DataFrameSchema:
    columns = {GUID: pa.Column("str", pa.Check.str_matches(GUID_PATTERN), unique=True, nullable=False)}
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
    contract = pd.DataFrame({"source_row": order, GUID: table[GUID].to_numpy()}).sort_values("source_row")
    return table, contract.reset_index(drop=True)


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
