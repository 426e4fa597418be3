"""The privacy-budget ledger: composition, refusal with nothing recorded, two spenders at once, restarts."""

from __future__ import annotations

import math
import multiprocessing as mp
import stat
from concurrent.futures import ProcessPoolExecutor

import pytest

from anon_pipeline.dp.accounting import Spend, cdp_eps, cdp_rho, total
from anon_pipeline.dp.ledger import Ledger, charge_plan, plan_spends
from anon_pipeline.policy.dp_spec import DPBudget
from anon_pipeline.errors import BudgetExceeded, PolicyError


def test_basic_composition_adds_epsilons_and_deltas():
    spends = [Spend(0.5, 1e-7), Spend(0.25, 2e-7), Spend(1.0)]
    assert total(spends, 1e-6) == pytest.approx((1.75, 3e-7))


def test_zcdp_composition_adds_rho_and_converts_once():
    rho = cdp_rho(1.0, 1e-9)
    spends = [Spend(1.0, 1e-9, rho, "mst")] * 4
    eps, delta = total(spends, 1e-6)
    assert eps == pytest.approx(4 * rho + 2 * math.sqrt(4 * rho * math.log(1e6)))
    assert eps < 4.0 and delta == 1e-6  # tighter than basic composition (4.0)
    # With a pure-DP spend mixed in, its epsilon adds and the conversion uses what delta is left.
    mixed = total(spends + [Spend(0.5, 2e-7)], 1e-6)
    assert mixed[0] == pytest.approx(cdp_eps(4 * rho, 1e-6 - 2e-7) + 0.5)
    # Without a delta budget zCDP cannot be converted: basic composition.
    assert total(spends, 0.0) == pytest.approx((4.0, 4e-9))


def test_charges_add_up_and_an_over_budget_release_records_nothing(tmp_path):
    ledger = Ledger.for_dataset(tmp_path, "adult")
    budget = DPBudget(epsilon=2.0, delta=0.0)
    ledger.charge({"r1": Spend(0.8, mechanism="laplace")}, policy="p", budget=budget)
    ledger.charge({"r2": Spend(0.7, mechanism="laplace")}, policy="p", budget=budget)
    assert ledger.spent() == pytest.approx((1.5, 0.0))
    with pytest.raises(BudgetExceeded) as err:
        ledger.charge({"r3": Spend(0.4), "r4": Spend(0.2)}, policy="p", budget=budget)
    text = str(err.value)
    assert "dataset 'adult'" in text and "budget epsilon=2" in text and "spent epsilon=1.5" in text
    assert "requested epsilon=0.6" in text
    assert [e.release_id for e in ledger.entries()] == ["r1", "r2"]   # all-or-nothing: r3 not recorded either
    ledger.charge({"r2": Spend(0.7)}, policy="p", budget=budget)      # same release again: not charged twice
    ledger.charge({"r5": Spend(0.5)}, policy="p", budget=budget)      # exactly the rest of the budget
    assert ledger.spent()[0] == pytest.approx(2.0)


def test_file_is_private_and_survives_reopening(tmp_path):
    Ledger.for_dataset(tmp_path, "d").charge({"r1": Spend(1.0, 1e-9, cdp_rho(1.0, 1e-9), "mst")}, policy="p",
                                              budget=DPBudget(epsilon=3, delta=1e-6))
    path = tmp_path / "ledger" / "d.sqlite"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reopened = Ledger.for_dataset(tmp_path, "d")
    [entry] = reopened.entries()
    assert (entry.release_id, entry.policy, entry.spend.mechanism) == ("r1", "p", "mst")
    assert entry.spend.rho == pytest.approx(cdp_rho(1.0, 1e-9))
    assert reopened.budget() == DPBudget(epsilon=3, delta=1e-6)


def test_budget_is_fixed_by_the_first_charge(tmp_path):
    ledger = Ledger.for_dataset(tmp_path, "d")
    ledger.charge({"r1": Spend(1.0)}, policy="a", budget=DPBudget(epsilon=1.5))
    with pytest.raises(PolicyError, match="dp.budget"):
        ledger.charge({"r2": Spend(1.0)}, policy="b", budget=DPBudget(epsilon=10))
    with pytest.raises(BudgetExceeded):   # declaring no budget does not escape the recorded one
        ledger.charge({"r2": Spend(1.0)}, policy="b", budget=None)
    assert len(ledger.entries()) == 1


def _spend_once(args):
    workdir, i = args
    try:
        Ledger.for_dataset(workdir, "race").charge({f"r{i}": Spend(0.3)}, policy=f"p{i}",
                                                   budget=DPBudget(epsilon=1.0))
        return True
    except BudgetExceeded:
        return False


def test_concurrent_spenders_never_pass_the_budget(tmp_path):
    """Eight processes race to spend 0.3 each from a budget of 1.0: exactly three may succeed."""
    Ledger.for_dataset(tmp_path, "race")   # create the file before the race
    # spawn, not fork: forking a test process that already runs threads (Dagster, OpenDP) can deadlock a child. An
    # executor, not a Pool: leaving ``with Pool`` terminates its workers, and one killed while holding the task
    # queue's lock leaves another blocked on it for ever (seen under pytest-xdist); an executor shuts down gracefully.
    with ProcessPoolExecutor(8, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(_spend_once, [(str(tmp_path), i) for i in range(8)]))
    ledger = Ledger.for_dataset(tmp_path, "race")
    assert sum(results) == 3 and len(ledger.entries()) == 3
    assert ledger.spent()[0] == pytest.approx(0.9)


class _Policy:
    def __init__(self, dp=None):
        self.name, self.dp, self.path = "pol", dp, None


def test_charge_plan_finds_every_dp_step(tmp_path):
    plan = {"columns": {"a": [{"op": "band", "plan": {}}]},
            "groups": {"g": [{"op": "dp_mst_synthesis", "plan": {"dp": {"mechanism": "mst", "epsilon": 1.0,
                                                                         "delta": 1e-9, "rho": 0.01}}}]}}
    assert list(plan_spends(plan, "abc")) == ["abc:g[0]"]
    assert charge_plan(_Policy(), {"columns": {}, "groups": {}}, "x", tmp_path) == {}
    assert not (tmp_path / "ledger").exists()   # no DP step: no ledger
    charge_plan(_Policy(), plan, "abc", tmp_path)
    assert [e.policy for e in Ledger.for_dataset(tmp_path, "pol").entries()] == ["pol"]
