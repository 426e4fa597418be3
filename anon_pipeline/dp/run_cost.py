"""A run's whole privacy cost, checked against its dataset's budget before the run charges anything.

A run spends in two places: the ``dp_aggregates`` stage charges the aggregates, and ``anonymise`` charges the
differentially private steps of a plan it fits (a replayed plan spends nothing more). Each charge is atomic, but
one passing and the next refused would leave budget spent on a run that publishes nothing. So the first stage
adds up both, from the policy alone, and a run whose total passes what is left is refused before either charge.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from anon_pipeline.dp.accounting import Spend
from anon_pipeline.dp.aggregates import aggregate_spend
from anon_pipeline.dp.ledger import Ledger, dataset_of
from anon_pipeline.policy.load import bind_steps

if TYPE_CHECKING:
    from anon_pipeline.policy.model import Policy


def run_spends(policy: "Policy", fits_plan: bool) -> list[Spend]:
    """What a run of ``policy`` will charge: its aggregates, and the DP steps of its plan when it fits one."""
    spends = [aggregate_spend(spec) for spec in (policy.dp.aggregates if policy.dp is not None else ())]
    if fits_plan:
        columns, groups = bind_steps(policy)
        spends += [s for steps in (*columns.values(), *groups.values()) for b in steps
                   if (s := b.op.dp_spend()) is not None]
    return spends


def refuse_run_beyond_budget(policy: "Policy", workdir: str | Path, fits_plan: bool) -> list[Spend]:
    """Raise ``BudgetExceeded`` (nothing charged, nothing written) when the run's whole cost passes what is left
    of its dataset's budget; returns the spends. A policy that spends nothing opens no ledger."""
    spends = run_spends(policy, fits_plan)
    if spends:
        spec = policy.dp
        Ledger.for_dataset(workdir, dataset_of(policy)).refuse_beyond_budget(
            spends, budget=spec.budget if spec else None, policy_file=policy.path)
    return spends
