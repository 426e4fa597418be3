"""The command line as a new user meets it: plain-word help for every sub-command and argument, and ``where``
summarising the latest release (checks, K, folder, plan id and its key tables)."""

from __future__ import annotations

import json

import pytest

from anon_pipeline import run_policy
from anon_pipeline.cli import build_parser, main
from anon_pipeline_tests.pipeline.policies import BUNDLED


def test_where_summarises_the_latest_release(tmp_path, capsys):
    result = run_policy(BUNDLED, workdir=tmp_path)
    capsys.readouterr()
    assert main(["where", str(BUNDLED), "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    manifest = json.loads((result.release_dir / "manifest.json").read_text())
    lines = out.splitlines()
    for name, check in manifest["checks"].items():
        assert any(name in line and ("passed" if check["passed"] else "FAILED") in line for line in lines), name
    assert f"K:          {result.anonymity['K']} over gender, age_band" in out
    assert f"release:    {result.release_dir.resolve()}" in out
    assert f"plan id:    {manifest['plan_id']}" in out
    folder = tmp_path / "insurance_customers" / "key_tables" / manifest["plan_id"]
    assert folder.is_dir() and f"key tables: {folder}" in out
    assert lines[-1].startswith("key tables:")


def test_where_before_any_release_says_so(tmp_path, capsys):
    assert main(["where", str(BUNDLED), "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "release:    (none yet)" in out and "plan id" not in out and "check " not in out


def _subcommands():
    parser = build_parser()
    (choices,) = [a.choices for a in parser._actions if getattr(a, "choices", None)]
    return parser, choices


@pytest.mark.parametrize("command", [None, *_subcommands()[1]])
def test_help_explains_every_argument_in_plain_words(command, capsys):
    parser, choices = _subcommands()
    sub = parser if command is None else choices[command]
    with pytest.raises(SystemExit) as done:
        main(["--help"] if command is None else [command, "--help"])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "`" not in out and ":class:" not in out and ":func:" not in out
    assert sub.description, f"{command}: no description"
    for action in sub._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{command}: argument {action.dest} has no help"
        assert " ".join(action.help.split())[:30] in out, (command, action.dest)
        for choice in getattr(action, "_choices_actions", []):
            assert choice.help and " ".join(choice.help.split())[:30] in out, choice.dest


def test_summary_adds_k_over_every_released_quasi_identifier_when_the_report_has_it(capsys):
    from anon_pipeline.cli_run import _print_summary

    manifest = {"policy": "p", "created_utc": "2026-01-01T00:00:00+00:00",
                "checks": {"k_anonymity": {"passed": True, "blocking": True,
                                           "description": "K = 12 >= k = 5 over sex"},
                           "all_quasi_identifiers": {"passed": False, "blocking": False,
                                                     "description": "K = 1 < k = 5"}}}
    report = {"k_target": 5, "anonymised": {"k_anonymity": 12, "quasi_identifiers": ["sex"]},
              "all_quasi_identifiers": {"K": 1, "quasi_identifiers": ["sex", "age_band"]}}
    _print_summary(manifest, report)
    out = capsys.readouterr().out
    assert "all_quasi_identifiers  FAILED (warning: not blocking)  K = 1 < k = 5" in out
    assert "K:          12 over sex (target k = 5)" in out
    assert "K (all):    1 over every released quasi-identifier: sex, age_band" in out


def test_run_lists_every_check_and_says_which_failures_did_not_block(tmp_path, capsys):
    """The bundled policy's k target covers two of its quasi-identifiers; K over all of them misses k, which is
    reported, not blocking: the run says so on that check's line, with the figures, and releases."""
    assert main(["run", str(BUNDLED), "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("  check ")}
    assert set(lines) == {"raw_schema", "qi_table_schema", "anonymised_schema", "k_anonymity",
                          "all_quasi_identifiers", "no_identifier_leak", "release_schema"}
    assert "FAILED (warning: not blocking)" in lines["all_quasi_identifiers"]
    assert "over every released quasi-identifier" in lines["all_quasi_identifiers"]
    assert " passed " in lines["k_anonymity"] and "K = " in lines["k_anonymity"]
    assert "(the smallest class holds " in out.splitlines()[0]
    # How much it read and kept, on which engine and batch, in how long (the bundled sample: 1000 rows, all kept).
    rows = next(line for line in out.splitlines() if line.startswith("rows: "))
    assert "1,000 read, 1,000 in the anonymised table; streaming engine, batches of 250,000 rows;" in rows
    assert rows.endswith(" s")


def test_where_names_the_encrypted_zip_and_its_password_file(tmp_path, capsys):
    from anon_pipeline_tests.pipeline.policies import variant

    policy = variant(tmp_path, release={"formats": ["parquet"], "encrypted_zip": True})
    result = run_policy(policy, workdir=tmp_path / "w")
    capsys.readouterr()
    assert main(["where", str(policy), "--workdir", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    password = json.loads((result.release_dir / "manifest.json").read_text())["encrypted_zip"]["password_file"]
    assert f"zip:        {result.release_dir.resolve() / 'release.zip'} holds the tables" in out
    assert f"its password is in {password}" in out and "7z x" in out


def test_a_reader_that_goes_away_is_not_an_error(tmp_path, monkeypatch):
    """``anon-pipeline where ... | head -1``: the pipe closes under the summary. That is the reader's choice, not
    a broken disk: exit 0 and no message (it used to be an environment error, exit 3)."""
    sink = (tmp_path / "sink").open("w")

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

        def fileno(self):
            return sink.fileno()

    run_policy(BUNDLED, workdir=tmp_path)
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["where", str(BUNDLED), "--workdir", str(tmp_path)]) == 0
    sink.close()


def test_debug_shows_a_traceback_of_an_input_error_and_the_library_error_under_it(tmp_path, capsys):
    from anon_pipeline.sample import generate

    source = tmp_path / "export.parquet"
    generate("insurance_customers", 200, 4).to_parquet(source)
    source.write_bytes(source.read_bytes()[:-100])  # cut short: no footer
    code = main(["--debug", "run", str(BUNDLED), "--source", str(source), "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2 and "NoneType: None" not in err
    # The typed error's own traceback, and pyarrow's under it (its message may quote data: only with --debug).
    assert err.count("Traceback") >= 2 and "InputDataError" in err and "pyarrow" in err
