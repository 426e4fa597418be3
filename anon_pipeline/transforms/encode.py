"""``encode``: replace each category by an opaque code and keep a key table code -> value apart.

Codes come from the operating system's CSPRNG, not the policy seed: a seeded code would let anyone holding the
policy (or the manifest, which records the seed) rebuild the key table. The fitted plan holds the codes, so a
run is still replayable from its plan.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from anon_pipeline.errors import TransformError
from anon_pipeline.strict_model import SafeName
from anon_pipeline.transforms.registry import ColumnOp, FitContext, FitNeeds, OpParams, register_op


class EncodeParams(OpParams):
    #: Name of the key table emitted (default: the column name); it becomes a file name.
    key_table: SafeName | None = None
    #: ``token``: random hex strings; ``integer``: a random permutation of 0..n-1 (the source notebook's numeric codes).
    style: Literal["token", "integer"] = "token"
    #: Hex digits per token: 16 ** token_length codes must be at least twice the number of categories.
    token_length: int = Field(8, ge=1, le=64)


@register_op("encode")
class Encode(ColumnOp):
    Params = EncodeParams
    pseudonymising = True
    value_wise = True
    fit_needs = FitNeeds.DISTINCT
    params: EncodeParams

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        categories = sorted(values.dropna().astype("str").unique().tolist())
        rng = secrets.SystemRandom()
        space = 16 ** self.params.token_length
        if self.params.style == "token" and space < 2 * len(categories):
            # Drawing distinct codes from a space this small would take ever longer (forever once it is full).
            raise TransformError(ctx.column, self.name, f"token_length {self.params.token_length} gives {space} "
                                 f"codes, fewer than twice the {len(categories)} distinct values; raise token_length")
        if self.params.style == "integer":
            codes = [str(c) for c in rng.sample(range(len(categories)), len(categories))]
        else:
            codes = []
            used: set[str] = set()
            while len(codes) < len(categories):
                code = secrets.token_hex((self.params.token_length + 1) // 2)[: self.params.token_length]
                if code not in used:
                    used.add(code)
                    codes.append(code)
        return {"codes": dict(zip(categories, codes))}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        coded = values.astype("str").map(plan["codes"]).where(values.notna())
        unknown = coded.isna() & values.notna()
        if unknown.any():
            # A replayed plan never draws a new code: the releases it links would silently disagree.
            raise TransformError(ctx.column, self.name, f"{values[unknown].nunique()} distinct value(s) were not "
                                 "seen when the plan was fitted; refit (plan: refit) to code them",
                                 n_rows=int(unknown.sum()))
        return coded.astype("str").rename(values.name)

    def key_tables(self, plan: dict[str, Any], ctx: FitContext) -> dict[str, pd.DataFrame]:
        name = self.params.key_table or ctx.column
        table = pd.DataFrame({"code": list(plan["codes"].values()), "value": list(plan["codes"].keys())},
                             dtype="str")
        return {name: table.sort_values("code", ignore_index=True)}
