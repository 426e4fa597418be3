"""Attack-based evaluation of a run's release (the policy's ``evaluation:`` section): a control split held out
before anything is fitted, the attacks of ``anon_pipeline.attacks`` on the released table, and one check per
risk target.

The attacker is given the release's own domain: training and control rows go through the same fitted plan (the
whole plan for generalised releases; the column steps only where a group is synthesised, since replaying a
synthesis would draw new rows instead of mapping the real ones).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from anon_pipeline.attacks import attack_report
from anon_pipeline.pipeline.anonymise import Anonymised, replay
from anon_pipeline.pipeline.checks import CheckOutcome
from anon_pipeline.pipeline.qi_table import GUID
from anon_pipeline.policy.model import Policy, Role

#: A fixed stream of the policy seed for choosing the control rows, apart from every op's draws.
CONTROL_STREAM = 0xC0_47_01


def hold_out_control(qi_table: pd.DataFrame, contract: pd.DataFrame, policy: Policy) -> tuple[pd.DataFrame,
                                                                                               pd.DataFrame]:
    """(training rows, control rows). The control rows are chosen by source row from the policy seed, so the
    same file gives the same split; they are never fitted on nor released."""
    assert policy.evaluation is not None
    n_control = int(round(policy.evaluation.control_share * len(qi_table)))
    rng = np.random.default_rng([policy.seed, CONTROL_STREAM])
    chosen = rng.permutation(len(contract))[:n_control]
    control_guids = contract[GUID].to_numpy()[np.isin(contract["source_row"].to_numpy(), chosen)]
    held = qi_table[GUID].isin(control_guids)
    return qi_table[~held].reset_index(drop=True), qi_table[held].reset_index(drop=True)


def _synthesises(policy: Policy, plan: dict[str, Any]) -> bool:
    return any(step["op"] != "generalise" for steps in plan.get("groups", {}).values() for step in steps)


def secrets(policy: Policy) -> list[str]:
    """Output names of the columns the inference attack tries to learn."""
    assert policy.evaluation is not None
    inputs = policy.evaluation.secrets or policy.columns_with(Role.sensitive)
    by_output = {policy.output_name(c): c for c in policy.columns}  # a secret may be named by either name
    return [policy.output_name(c if c in policy.columns else by_output[c]) for c in inputs]


def evaluate(fitted: Anonymised, qi_table: pd.DataFrame, control: pd.DataFrame, policy: Policy) -> dict[str, Any]:
    """Every attack on the release, with the linkage attack over training and control rows in the release's
    domain."""
    assert policy.evaluation is not None
    groups = not _synthesises(policy, fitted.plan)
    original = replay(qi_table, policy, fitted.plan, groups=groups, suppress=False).table.drop(columns=[GUID])
    held = replay(control, policy, fitted.plan, groups=groups, suppress=False).table.drop(columns=[GUID])
    quasi = [policy.output_name(c) for c in policy.quasi_identifiers]
    original, held, released = (_in_value_order(t) for t in (original, held, fitted.table.drop(columns=[GUID])))
    report = attack_report(original, released, held, quasi, secrets(policy),
                           n_attacks=policy.evaluation.n_attacks, seed=policy.seed,
                           generalised_original=pd.concat([original, held], ignore_index=True))
    report["settings"]["control_share"] = policy.evaluation.control_share
    report["settings"]["domain"] = "whole plan" if groups else "column steps (synthesised groups)"
    return report


def _in_value_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by their values: the GUID order is random (CSPRNG), and the attacks draw their targets by
    position, so this makes a run's risks a function of the data and the seed alone."""
    return frame.sort_values(list(frame.columns), kind="stable", na_position="last").reset_index(drop=True)


def planned_attack_checks(policy: Policy) -> list[tuple[str, bool, str]]:
    """(name, blocking, description) of every attack check, known before any data is read."""
    spec = policy.evaluation
    if spec is None:
        return []
    out = []
    for target in spec.targets:
        names = [f"inference_risk_{s}" for s in secrets(policy)] if target == "inference" else [f"{target}_risk"]
        out += [(name, spec.blocking, f"{target.replace('_', ' ')} risk against a held-out control "
                 f"({spec.control_share:.0%} of rows) is at most {spec.targets[target]}") for name in names]
    return out


def _attack_key(name: str) -> str:
    """The report's key of a check's attack (``inference_risk_<secret>`` -> ``inference_<secret>``)."""
    return ("inference_" + name.removeprefix("inference_risk_") if name.startswith("inference_risk_")
            else name.removesuffix("_risk"))


def _measured(report: dict[str, Any], name: str) -> tuple[float | None, list | None]:
    if name == "linkage_risk":
        return (report.get("linkage") or {}).get("linked_share"), None
    attack = report["attacks"].get(_attack_key(name))
    return (None, None) if attack is None else (attack["risk"], attack["ci"])


def _caveats(report: dict[str, Any], name: str) -> str:
    """What makes a check's figure weaker than it reads: the report's warnings on its attack (too few singling-out
    predicates found, no better than the baseline) and fewer attacks than asked (the control split is smaller)."""
    key = _attack_key(name)
    said = [w.removeprefix(f"{key}: ") for w in report.get("warnings", ()) if w.startswith(f"{key}: ")]
    settings = report["settings"]
    if name != "linkage_risk" and settings["n_attacks"] < settings.get("n_attacks_requested", settings["n_attacks"]):
        said.append(f"{settings['n_attacks']} attacks of the {settings['n_attacks_requested']} asked, as the "
                    "smallest table (the control split) has that many rows")
    return "".join(f"; caveat: {w}" for w in said)


def check_attack_targets(report: dict[str, Any], policy: Policy) -> list[CheckOutcome]:
    """One outcome per risk target: passes when the measured risk is at most the target."""
    assert policy.evaluation is not None
    outcomes = []
    for name, blocking, _ in planned_attack_checks(policy):
        target_key = "inference" if name.startswith("inference_risk_") else name.removesuffix("_risk")
        target = policy.evaluation.targets[target_key]
        measured, ci = _measured(report, name)
        passed = measured is not None and measured <= target
        text = (f"{name}: {measured:.3f} (95 % CI {ci[0]:.3f} to {ci[1]:.3f}) " if ci else
                f"{name}: {measured} ") if measured is not None else f"{name}: not measured "
        text += f"{'<=' if passed else '>'} target {target}" + _caveats(report, name)
        outcomes.append(CheckOutcome(name, passed, blocking, text,
                                     {"measured": measured, "target": target, "comparison": "<=",
                                      **({"ci_low": ci[0], "ci_high": ci[1]} if ci else {}),
                                      "n_attacks": report["settings"]["n_attacks"],
                                      "control_rows": report["settings"]["rows"]["control"]}))
    return outcomes
