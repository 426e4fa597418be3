"""Attribute-inference attack (Giomi et al. 2023, section 4.3; anonymeter's ``InferenceEvaluator``).

The attacker knows the ``aux_columns`` of a target and guesses its ``secret`` as the secret of the nearest
released row. A guess is right when it equals the secret (both missing counts as equal) or, for a numeric
secret, when |guess - secret| / guess <= ``tolerance`` (anonymeter's relative difference, over the guess). The
naive baseline guesses the secret of a random released row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anon_pipeline.attacks.confidence import AttackResult
from anon_pipeline.attacks.neighbours import nearest
from anon_pipeline.attacks.tables import is_numeric


def correct_guesses(guesses: np.ndarray, secrets: np.ndarray, regression: bool, tolerance: float = 0.05) -> np.ndarray:
    both_missing = pd.isna(guesses) & pd.isna(secrets)
    if regression:
        g, s = (pd.to_numeric(pd.Series(a), errors="coerce").to_numpy(np.float64, na_value=np.nan)
                for a in (guesses, secrets))
        with np.errstate(invalid="ignore", divide="ignore"):
            match = np.abs(g - s) / (g + 1e-12) <= tolerance
    else:
        # Shared codes rather than ==, which pd.NA would make ambiguous; missing values get -1.
        codes, _ = pd.factorize(pd.Series(np.concatenate([guesses, secrets]), dtype=object))
        g, s = codes[:len(guesses)], codes[len(guesses):]
        match = (g == s) & (g >= 0)
    return np.asarray(both_missing, dtype=bool) | match


def _sample(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    return frame.iloc[rng.choice(len(frame), size=n, replace=False)]


def _attack(targets: pd.DataFrame, released: pd.DataFrame, aux_columns: list[str], secret: str, n_attacks: int,
            regression: bool, tolerance: float, rng: np.random.Generator) -> int:
    picked = _sample(targets, n_attacks, rng)
    idx = nearest(released[aux_columns], picked[aux_columns], 1, rng)[:, 0]
    guesses = released[secret].to_numpy(dtype=object)[idx]
    return int(correct_guesses(guesses, picked[secret].to_numpy(dtype=object), regression, tolerance).sum())


def inference(original: pd.DataFrame, released: pd.DataFrame, control: pd.DataFrame | None, aux_columns: list[str],
              secret: str, n_attacks: int, rng: np.random.Generator, regression: bool | None = None,
              tolerance: float = 0.05, confidence_level: float = 0.95) -> AttackResult:
    if secret in aux_columns or not aux_columns:
        raise ValueError("inference needs auxiliary columns that do not include the secret")
    if regression is None:
        regression = is_numeric(original[secret])
    targets = _sample(original, n_attacks, rng)
    guesses = _sample(released, n_attacks, rng)[secret].to_numpy(dtype=object)
    n_baseline = int(correct_guesses(guesses, targets[secret].to_numpy(dtype=object), regression, tolerance).sum())
    args = (released, aux_columns, secret, n_attacks, regression, tolerance, rng)
    n_success = _attack(original, *args)
    n_control = None if control is None else _attack(control, *args)
    return AttackResult(f"inference_{secret}", n_attacks, n_success, n_baseline, n_control, confidence_level,
                        {"secret": secret, "aux_columns": list(aux_columns), "regression": bool(regression),
                         "tolerance": tolerance})
