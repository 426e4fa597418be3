"""attack_report: every attack with its interval, JSON-serialisable, no data values, reproducible from the seed."""

import json

import pytest

from anon_pipeline.attacks import attack_report, render_markdown
from anon_pipeline.errors import InputDataError

QI = ["height", "region", "sex", "weight", "age"]  # each half of the split has a continuous column


@pytest.fixture(scope="module")
def copy_report(split):
    train, control, _ = split
    return attack_report(train, train.copy(), control, QI, ["diagnosis"], n_attacks=200, seed=3,
                         generalised_original=train)


def test_report_of_a_copy(copy_report):
    r = copy_report
    assert set(r["attacks"]) == {"singling_out_univariate", "singling_out_multivariate", "linkability",
                                 "inference_diagnosis"}
    for name, a in r["attacks"].items():
        assert a["ci"][0] > 0.5, name                         # every attack finds the copied records
        assert a["ci"][0] <= a["risk"] <= a["ci"][1]
        assert {"attack_rate", "baseline_rate", "control_rate", "n_attacks"} <= set(a)
    assert r["attacks"]["linkability"]["aux_columns"] == [["height", "region", "sex"], ["weight", "age"]]
    assert r["attacks"]["inference_diagnosis"]["aux_columns"] == QI
    assert r["settings"]["seed"] == 3 and r["settings"]["n_attacks"] == 200
    assert r["linkage"]["linked_share"] > 0.9                 # the copy is its own generalisation


def test_report_is_json_without_data_values(copy_report, split):
    text = json.dumps(copy_report, allow_nan=False)
    train = split[0]
    for column in ("region", "diagnosis"):
        for value in train[column].unique():
            assert f'"{value}"' not in text
    for value in train["height"].head(50):
        assert str(value) not in text
    md = render_markdown(copy_report)
    assert "| linkability |" in md and "Linkage on the released quasi-identifiers" in md


def test_same_seed_same_report(split):
    train, control, independent = split
    run = lambda seed: attack_report(train, independent, control, QI, ["diagnosis"], n_attacks=100, seed=seed)  # noqa: E731
    strip = lambda r: {k: {**v, "seconds": None} for k, v in r["attacks"].items()}  # noqa: E731
    assert strip(run(1)) == strip(run(1))
    assert strip(run(1)) != strip(run(2))


def test_without_control_and_without_secrets(split):
    train, _, independent = split
    r = attack_report(train, independent, None, ["region", "sex"], [], n_attacks=50, seed=0,
                      attacks=("linkability", "inference"))
    assert r["settings"]["control"] is False and r["attacks"]["linkability"]["control_rate"] is None
    assert r["skipped"] == {"inference": "no released secret column"}
    assert "no control split" in render_markdown(r)


def test_missing_column_is_a_clear_error(split):
    train, control, independent = split
    with pytest.raises(InputDataError, match="control table lacks 1 column") as err:
        attack_report(train, independent, control.drop(columns="age"), QI, [], n_attacks=10)
    assert err.value.column == "age"
    with pytest.raises(ValueError, match="unknown attacks"):
        attack_report(train, independent, control, QI, [], attacks=("membership",))
