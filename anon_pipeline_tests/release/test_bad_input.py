"""Every broken input of the corpus: a clear error (file, column, rule, row count, the setting that would
accept it), no value of the data in it, nothing released, and the raw file unchanged."""

from __future__ import annotations

import pytest

from anon_pipeline import run_policy
from anon_pipeline.cli import main
from anon_pipeline.errors import InputDataError
from anon_pipeline.release import sha256_file
from anon_pipeline_tests.release.bad_inputs import CORPUS, POLICY, BadInput, clean_table, sensitive_values


@pytest.fixture(scope="module")
def table():
    return clean_table()


def assert_clear_error(error: InputDataError, case: BadInput, path) -> None:
    text = str(error)
    assert str(path) in text
    named = [error.column, *(p["column"] for p in getattr(error, "problems", []))]
    if case.column is not None:
        assert case.column in named, text
    assert case.rule.lower() in text.lower(), text
    if case.n_rows is not None:
        counts = [(error.column, error.n_rows), *((p["column"], p["n_rows"]) for p in getattr(error, "problems", []))]
        assert any(n == case.n_rows and (case.column is None or c == case.column) for c, n in counts), text
    if case.hint is not None:
        assert case.hint in text, text


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_bad_input_is_refused_clearly_and_changes_nothing(case, table, tmp_path):
    path = tmp_path / f"{case.name}.csv"
    case.make(table, path)
    before = sha256_file(path)
    workdir = tmp_path / "work"
    with pytest.raises(InputDataError) as caught:
        run_policy(POLICY, source=path, workdir=workdir)
    assert_clear_error(caught.value, case, path)
    leaked = [v for v in sensitive_values(table) if v in str(caught.value)]
    assert not leaked, f"error message shows {len(leaked)} data value(s)"
    assert sha256_file(path) == before
    release_dir = workdir / "insurance_customers" / "release"
    assert not release_dir.exists() or not any(release_dir.iterdir())


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_cli_exits_non_zero_on_bad_input_and_prints_no_data(case, table, tmp_path, capsys):
    path = tmp_path / f"{case.name}.csv"
    case.make(table, path)
    before = sha256_file(path)
    code = main(["run", str(POLICY), "--source", str(path), "--workdir", str(tmp_path / "work")])
    out, err = capsys.readouterr()
    assert code == 2
    assert str(path) in err and case.rule.lower() in err.lower()
    assert not [v for v in sensitive_values(table) if v in out + err]
    assert sha256_file(path) == before
    assert not list((tmp_path / "work").glob("*/release/*"))
