"""Linkage attack on a generalised release: how many released rows point at exactly one raw record.

The attacker knows the raw quasi-identifiers of the population and the release's generalisation (bands,
hierarchy levels), so maps every raw record into the released representation and joins on the released
quasi-identifiers. A released row whose tuple is held by exactly one generalised raw record is re-identified.
The caller passes the raw records after the same steps (``generalised_original``); rows suppressed to "*" join
with every record suppressed alike, as they should. Counts only: no value leaves this function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anon_pipeline.attacks.tables import require_columns
from anon_pipeline.metrics.k_anonymity import encode_codes


def linkage(released: pd.DataFrame, generalised_original: pd.DataFrame, quasi_identifiers: list[str]) -> dict:
    qi = list(quasi_identifiers)
    require_columns({"released": released, "generalised original": generalised_original}, qi)
    n_rel = len(released)
    both = pd.concat([released[qi].astype(object), generalised_original[qi].astype(object)], ignore_index=True)
    codes = encode_codes(both, qi) if len(both) else np.zeros(0, dtype=np.int64)
    rel, raw = codes[:n_rel], codes[n_rel:]
    raw_counts = np.bincount(raw, minlength=int(codes.max(initial=-1)) + 1)
    matches = raw_counts[rel]
    linked = matches == 1
    return {"quasi_identifiers": qi, "released_rows": n_rel, "original_rows": len(generalised_original),
            "linked_rows": int(linked.sum()), "linked_share": float(linked.mean()) if n_rel else 0.0,
            "linked_records": int(np.unique(rel[linked]).size),
            "unmatched_rows": int((matches == 0).sum()),
            "ambiguous_rows": int((matches > 1).sum())}
