"""The registry, the ``privacy:`` section built from it, and facts the models rely on."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import Field, ValidationError
from scipy.optimize import linprog

from anon_pipeline.criteria import (ClassCells, PerAttributeSpec, PrivacyModel, PrivacyTargets, planned_checks,
                                    register_privacy_model, registered_privacy_models)
from anon_pipeline.criteria import registry
from anon_pipeline.criteria.disclosure import DeltaDisclosure, DeltaTarget
from anon_pipeline.metrics import diversity as dv
from anon_pipeline.policy.schema import policy_json_schema


@pytest.fixture
def scratch_registry():
    before = dict(registered_privacy_models())
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def test_a_registered_model_adds_its_key_to_the_section(scratch_registry):
    class MaxShareSpec(PerAttributeSpec):
        share: float = Field(gt=0, le=1)

    @register_privacy_model("max_share")
    class MaxShare(PrivacyModel):
        key = "max_share"
        Spec = MaxShareSpec
        check = "max_share"
        at_least = False
        bound_field = "share"

        def per_class(self, cells: ClassCells) -> np.ndarray:
            return np.maximum.reduceat(cells.contingency.q(), cells.contingency.class_start)

    section = PrivacyTargets.model_validate({"k": 2, "max_share": {"share": 0.5, "attribute": "d"}})
    assert planned_checks(section) == [("k_anonymity", True), ("max_share_d", False)]
    assert "max_share" in policy_json_schema()["$defs"]["PrivacyTargets"]["properties"]
    with pytest.raises(ValidationError, match="did you mean 'max_share'"):
        PrivacyTargets.model_validate({"max_shar": {"share": 0.5}})
    with pytest.raises(ValueError, match="already belong to 'max_share'"):
        @register_privacy_model("another")
        class Clash(MaxShare):
            pass


def test_unknown_key_names_the_closest_and_keeps_the_field_path():
    with pytest.raises(ValidationError) as info:
        PrivacyTargets.model_validate({"t": [{"t": 0.2}, {"t": 0.3, "distanse": "equal"}]})
    error = info.value.errors()[0]
    assert error["loc"] == ("t", 1) and "did you mean 'distance'" in error["msg"]


def test_contingency_from_cells_in_any_order_equals_the_row_wise_one():
    rng = np.random.default_rng(0)
    cls, val = rng.integers(0, 7, 300), rng.integers(0, 5, 300)
    cls = np.unique(cls, return_inverse=True)[1]
    direct = dv.contingency(cls, int(cls.max()) + 1, val, 5)
    order = rng.permutation(len(direct.pair_class))
    cells = dv.contingency_from_cells(direct.pair_class[order], direct.pair_value[order],
                                      direct.pair_count[order].astype(float), len(direct.class_size), 5)
    for name in ("pair_class", "pair_value", "pair_count", "class_size", "value_count", "class_start"):
        assert np.array_equal(getattr(cells, name), getattr(direct, name)), name


def test_hierarchical_distance_equals_the_optimal_transport():
    """The closed form of t_hierarchical_per_class against a linear program over every transport plan."""
    ancestors = [np.arange(6), np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 0, 0, 1, 1])]
    height = 3
    ground = np.array([[next((j for j, m in enumerate(ancestors) if m[a] == m[b]), height) / height
                        for b in range(6)] for a in range(6)])
    rng = np.random.default_rng(1)
    for _ in range(5):
        cls = np.unique(rng.integers(0, 4, 60), return_inverse=True)[1]
        val = rng.integers(0, 6, 60)
        ct = dv.contingency(cls, int(cls.max()) + 1, val, 6)
        got = dv.t_hierarchical_per_class(ct, ancestors, height)
        table = ct.value_count / ct.n_rows
        for c in range(int(cls.max()) + 1):
            share = np.bincount(val[cls == c], minlength=6) / (cls == c).sum()
            rows = np.kron(np.eye(6), np.ones(6))     # mass leaving each value of the class
            cols = np.kron(np.ones(6), np.eye(6))     # mass reaching each value of the table
            plan = linprog(ground.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([share, table]),
                           bounds=(0, None))
            assert got[c] == pytest.approx(plan.fun, abs=1e-9)
    # one level under the root: the equal distance
    assert np.allclose(dv.t_hierarchical_per_class(ct, [np.arange(6)], 1), dv.t_closeness_per_class(ct, False))


def test_hierarchical_distance_needs_a_hierarchy():
    with pytest.raises(ValidationError, match="go together"):
        PrivacyTargets.model_validate({"t": {"t": 0.2, "distance": "hierarchical"}})


def test_delta_disclosure_is_not_monotone():
    """Classes {v} (|ln 9/5| = 0.59) and {w, w, u, u} (|ln (1/2) / (2/9)| = 0.81) meet delta = 0.85; merged, v's
    share falls to 1/5 against p = 5/9: |ln 0.36| = 1.02."""
    model = DeltaDisclosure(DeltaTarget(delta=0.85, attribute="s"), "s")
    values = np.array([0, 1, 1, 2, 2, 0, 0, 0, 0])  # v, w, w, u, u, then a class of four v

    def failing(classes):
        ct = dv.contingency(np.array(classes), max(classes) + 1, values, 3)
        return model.failing(ClassCells(ct.class_size, ct))

    assert not failing([0, 1, 1, 1, 1, 2, 2, 2, 2]).any()
    assert failing([0, 0, 0, 0, 0, 1, 1, 1, 1])[0]
    assert model.monotonic(suppression=False) is False
