"""The privacy-budget ledger: what every differentially private release of a dataset has spent, and the refusal
of a release that would pass the dataset's budget.

One SQLite file per dataset, ``<workdir>/ledger/<dataset_id>.sqlite`` (mode 0600), shared by every policy that
names the dataset (``dp: {dataset_id: ...}``; default: the policy name). A charge reads the spends and inserts the
new ones inside one ``BEGIN IMMEDIATE`` transaction, which takes SQLite's write lock before reading, so two runs at
once are serialised and cannot both spend the last of the budget. The budget is fixed by the first charge: a
policy that later declares another budget for the same dataset is an error, and one that declares none is held
to the recorded one.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from anon_pipeline.dp.accounting import Spend, total
from anon_pipeline.policy.dp_spec import DPBudget
from anon_pipeline.errors import BudgetExceeded, PolicyError

if TYPE_CHECKING:
    from anon_pipeline.policy.model import Policy

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spends (
    release_id TEXT PRIMARY KEY, policy TEXT NOT NULL, mechanism TEXT NOT NULL, epsilon REAL NOT NULL,
    delta REAL NOT NULL, rho REAL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS budget (id INTEGER PRIMARY KEY CHECK (id = 1), epsilon REAL NOT NULL, delta REAL NOT NULL);
"""


def ledger_file(workdir: str | Path, dataset_id: str) -> Path:
    """Where the ledger of ``dataset_id`` lives under the base working folder (opening a ``Ledger`` creates it)."""
    return Path(workdir) / "ledger" / f"{dataset_id}.sqlite"


def dataset_of(policy: "Policy") -> str:
    """The dataset a policy's DP releases spend from: ``dp.dataset_id``, else the policy's name."""
    return (policy.dp.dataset_id if policy.dp is not None else None) or policy.name


@dataclass(frozen=True)
class Entry:
    release_id: str
    policy: str
    spend: Spend
    created_at: str


class Ledger:
    def __init__(self, path: str | Path, dataset_id: str) -> None:
        self.path = Path(path)
        self.dataset_id = dataset_id
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created 0600 before SQLite opens it (SQLite gives its journal the database file's mode).
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        with closing(self._connect()) as con:
            con.executescript(_SCHEMA)

    @classmethod
    def for_dataset(cls, workdir: str | Path, dataset_id: str) -> "Ledger":
        return cls(ledger_file(workdir, dataset_id), dataset_id)

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE), never implicitly.
        return sqlite3.connect(self.path, timeout=60.0, isolation_level=None)

    def entries(self) -> list[Entry]:
        with closing(self._connect()) as con:
            return list(_entries(con))

    def budget(self) -> DPBudget | None:
        with closing(self._connect()) as con:
            return _budget(con)

    def spent(self, delta_budget: float | None = None) -> tuple[float, float]:
        """(epsilon, delta) spent so far, composed as ``accounting.total`` does at the budget's delta."""
        with closing(self._connect()) as con:
            budget = _budget(con)
            delta = delta_budget if delta_budget is not None else (budget.delta if budget else 0.0)
            return total([e.spend for e in _entries(con)], delta)

    def charge(self, spends: dict[str, Spend], *, policy: str, budget: DPBudget | None,
               policy_file: str | Path | None = None) -> None:
        """Record every spend (release id -> spend) or none: raises ``BudgetExceeded`` when together with what is
        spent they would pass the budget. A release id already recorded is not charged twice."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                budget = self._settle_budget(con, budget, policy_file)
                recorded = {e.release_id for e in _entries(con)}
                new = {rid: s for rid, s in spends.items() if rid not in recorded}
                if budget is not None and new:
                    self._refuse_if_over(con, budget, list(new.values()))
                con.executemany("INSERT INTO spends VALUES (?, ?, ?, ?, ?, ?, ?)",
                                [(rid, policy, s.mechanism, s.epsilon, s.delta, s.rho, now) for rid, s in new.items()])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def refuse_beyond_budget(self, spends: list[Spend], *, budget: DPBudget | None,
                             policy_file: str | Path | None = None) -> None:
        """Raise ``BudgetExceeded`` when ``spends`` together with what is spent would pass the budget (the
        recorded one, else ``budget``), and record nothing: a run checks its whole cost with this before its
        first charge, so that a run the budget refuses spends nothing. (The charges themselves check again.)"""
        with closing(self._connect()) as con:
            budget = self._settle_budget(con, budget, policy_file, record=False)
            if budget is not None and spends:
                self._refuse_if_over(con, budget, spends)

    def _settle_budget(self, con: sqlite3.Connection, declared: DPBudget | None,
                       policy_file: str | Path | None, record: bool = True) -> DPBudget | None:
        recorded = _budget(con)
        if recorded is None:
            if declared is not None and record:
                con.execute("INSERT INTO budget VALUES (1, ?, ?)", (declared.epsilon, declared.delta))
            return declared
        if declared is not None and declared != recorded:
            raise PolicyError(policy_file, f"dataset '{self.dataset_id}' has the budget epsilon={recorded.epsilon:g}, "
                              f"delta={recorded.delta:g} in its ledger {self.path}; a policy cannot declare another",
                              field="dp.budget")
        return recorded

    def _refuse_if_over(self, con: sqlite3.Connection, budget: DPBudget, new: list[Spend]) -> None:
        before = [e.spend for e in _entries(con)]
        spent_eps, _ = total(before, budget.delta)
        after_eps, after_delta = total(before + new, budget.delta)
        # A tiny tolerance so a budget spent in exact shares (3 x 1/3) is not refused by rounding.
        if after_eps > budget.epsilon * (1 + 1e-9) or after_delta > budget.delta * (1 + 1e-9):
            raise BudgetExceeded(self.dataset_id, budget_epsilon=budget.epsilon, budget_delta=budget.delta,
                                 spent_epsilon=spent_eps, requested_epsilon=sum(s.epsilon for s in new),
                                 after_epsilon=after_eps, after_delta=after_delta)


def _entries(con: sqlite3.Connection) -> Iterator[Entry]:
    for rid, policy, mech, eps, delta, rho, at in con.execute(
            "SELECT release_id, policy, mechanism, epsilon, delta, rho, created_at FROM spends ORDER BY rowid"):
        yield Entry(rid, policy, Spend(eps, delta, rho, mech), at)


def _budget(con: sqlite3.Connection) -> DPBudget | None:
    row = con.execute("SELECT epsilon, delta FROM budget").fetchone()
    return DPBudget(epsilon=row[0], delta=row[1]) if row else None


def plan_spends(plan: dict[str, Any], plan_id: str) -> dict[str, Spend]:
    """Every DP step of a fitted pipeline plan (its step plan has a ``dp`` entry), keyed by a release id that is
    the plan id and the step: a fitted plan is one release, however often it is replayed."""
    out: dict[str, Spend] = {}
    for kind in ("columns", "groups"):
        for name, steps in plan.get(kind, {}).items():
            for i, step in enumerate(steps):
                dp = step["plan"].get("dp")
                if dp is not None:
                    out[f"{plan_id}:{name}[{i}]"] = Spend(dp["epsilon"], dp["delta"], dp.get("rho"), dp["mechanism"])
    return out


def charge_plan(policy: "Policy", plan: dict[str, Any], plan_id: str, workdir: str | Path) -> dict[str, Spend]:
    """Charge the ledger of ``policy``'s dataset for every DP step of a fitted plan, before anything of the run is
    written (``run_policy`` and the Dagster ``anonymised`` asset call it right after fitting). Returns the spends;
    a plan without DP steps charges nothing and opens no ledger."""
    spends = plan_spends(plan, plan_id)
    if spends:
        spec = policy.dp
        Ledger.for_dataset(workdir, dataset_of(policy)).charge(
            spends, policy=policy.name, budget=spec.budget if spec else None, policy_file=policy.path)
    return spends

