"""The attacks of issue 16 on a finished run, replayed: nothing identifying in clear outside the release (staging
included), private modes whatever the umask, a shuffled qi table, a release edited after publication (manifest
rewritten too), tampered ``.enc`` files, formula cells in the CSV, paths that escape, and stale temporaries."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml
from cryptography.fernet import Fernet

from anon_pipeline import run_policy
from anon_pipeline.cli import main
from anon_pipeline.defs.io_manager import PolicyStagingIOManager
from anon_pipeline.defs.policy_assets import policy_definitions
from anon_pipeline.defs.resources import AnonSettings, DaskCluster
from anon_pipeline.pipeline.publish import write_key_tables, write_reports
from anon_pipeline.workdir import PolicyDirs, UnsafePathError
from anon_pipeline.policy import load_policy
from anon_pipeline.release import ReleaseError, read_release_table, verify_release, write_release
from anon_pipeline.release.tables import table_bytes
from anon_pipeline.secrets import (SecretsError, decrypt_bytes, encrypt_table, read_encrypted_table, read_key_file,
                                   remove_stale_temporaries, sign, write_encrypted_table)
from anon_pipeline_tests.conftest import shared_path
from anon_pipeline_tests.release.bad_inputs import POLICY

NAME = "insurance_customers"


def _policy(path: Path, **release) -> Path:
    doc = yaml.safe_load(POLICY.read_text())
    doc["release"] = {"formats": ["parquet", "csv"], "contract": True, **release}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The shared insurance file through Dagster (a temporary instance) and through run_policy, under umask 000."""
    insurance_csv = shared_path("data", "insurance", "customer_information.csv")
    base = tmp_path_factory.mktemp("attacks")
    policy_file = _policy(base / "policy.yaml")
    policy = load_policy(policy_file)
    work = {"dagster": base / "dagster_work", "python": base / "python_work"}
    (base / "dagster_home").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(base / "config"))
        for name in ("ANON_PIPELINE_KEY", "ANON_PIPELINE_KEY_FILE"):
            mp.delenv(name, raising=False)
        old_umask = os.umask(0)
        try:
            parts = policy_definitions(policy)
            resources = {"io_manager": PolicyStagingIOManager(workdir=str(work["dagster"])),
                         "anon": AnonSettings(workdir=str(work["dagster"])), "cluster": DaskCluster()}
            done = dg.materialize(parts["assets"], resources=resources,
                                  instance=dg.DagsterInstance.local_temp(str(base / "dagster_home")),
                                  run_config={"ops": {f"{NAME}__raw": {"config": {"source": str(insurance_csv)}}}})
            result = run_policy(policy_file, source=insurance_csv, workdir=work["python"])
        finally:
            os.umask(old_umask)
        key = read_key_file(base / "config" / "anon_pipeline" / "secrets.key")
    assert done.success and result.released
    return {"base": base, "work": work, "key": key, "raw": pd.read_csv(insurance_csv, dtype=str),
            "dagster_home": base / "dagster_home", "result": result}


def _outside_release(work: Path) -> list[Path]:
    root = work / NAME
    return [p for p in root.rglob("*") if root / "release" not in [p, *p.parents]]


@pytest.mark.parametrize("how", ["dagster", "python"])
def test_no_postcode_or_birthdate_in_clear_outside_the_release(runs, how):
    raw = runs["raw"]
    needles = {v.encode() for v in raw["postcode"]} | {v.replace(" ", "").encode() for v in raw["postcode"]} \
        | {v.encode() for v in raw["birthdate"]}
    roots = [runs["work"][how]] + ([runs["dagster_home"]] if how == "dagster" else [])
    files = [p for r in roots for p in r.rglob("*") if p.is_file() and not p.is_symlink()
             and (r != runs["work"][how] or p in _outside_release(r))]
    assert len(files) >= 7      # reports, key tables, plan, contract (+ staging and Dagster storage)
    hits = {str(p): sum(n in _clear_bytes(p, runs["key"]) for n in needles) for p in files}
    assert not {p: n for p, n in hits.items() if n}, "raw quasi-identifier values in clear"
    # Parquet holds dates as integers and may compress strings, so searching bytes is not enough: no table at all
    # may sit outside the release unencrypted.
    ours = [p for p in files if runs["work"][how] in p.parents]
    assert not [p for p in ours if p.read_bytes()[:4] == b"PAR1"]
    staging = runs["work"][how] / NAME / "staging"
    if how == "dagster":
        staged = [p for p in staging.rglob("*") if p.is_file()]
        assert staged and all(p.name.endswith(".enc") for p in staged)
        qi = _staged(runs, staging, "qi_table")    # the key opens it
        assert set(qi["postcode"]) <= set(raw["postcode"])


def _clear_bytes(path: Path, key: bytes) -> bytes:
    """What of a file is readable without the key. A Fernet file that authenticates under the run's key is
    ciphertext after its header line: its base64 token draws from the alphabet of postcodes written without the
    space, so a five- or six-character needle turns up in it by chance (about one run in fifty)."""
    blob = path.read_bytes()
    try:
        decrypt_bytes(blob, key)
    except SecretsError:
        return blob
    return blob.partition(b"\n")[0]


def _staged(runs, staging, name) -> pd.DataFrame:
    """A table the Dagster assets staged: its descriptor (encrypted JSON) names its encrypted parts, which the
    run's key opens."""
    from anon_pipeline.pipeline.staged import StagedTable
    doc = json.loads(decrypt_bytes((staging / f"{name}.json.enc").read_bytes(), runs["key"])[0])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(runs["base"] / "config"))
        for var in ("ANON_PIPELINE_KEY", "ANON_PIPELINE_KEY_FILE"):
            mp.delenv(var, raising=False)
        return StagedTable.of(doc).frame()


@pytest.mark.parametrize("how", ["dagster", "python"])
def test_nothing_outside_the_release_is_open_to_group_or_others_under_umask_000(runs, how):
    root = runs["work"][how] / NAME
    outside = _outside_release(runs["work"][how])
    assert len(outside) >= 7
    loose = {str(p.relative_to(root)): oct(stat.S_IMODE(p.lstat().st_mode)) for p in outside
             if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077}
    assert not loose
    # The policy folder can be entered (to reach release/), not listed; release/ and the release follow the policy.
    assert stat.S_IMODE(root.stat().st_mode) == 0o711
    assert stat.S_IMODE((root / "release").stat().st_mode) == 0o750
    latest = (root / "release" / "latest").resolve()
    assert all(stat.S_IMODE(p.stat().st_mode) == (0o550 if p.is_dir() else 0o440) for p in [latest, *latest.rglob("*")])


@pytest.mark.parametrize("how", ["dagster", "python"])
def test_the_contract_is_made_once_and_the_qi_table_is_not_in_source_order(runs, how):
    key, raw = runs["key"], runs["raw"]
    root = runs["work"][how] / NAME
    latest = (root / "release" / "latest").resolve()
    contract = read_encrypted_table(root / "key_tables" / "contracts" / f"{latest.name}.parquet.enc", key)
    released = read_release_table(latest)
    assert sorted(contract["source_row"]) == list(range(len(raw))) and set(contract["guid"]) == set(released["guid"])
    if how == "dagster":
        qi = _staged(runs, root / "staging", "qi_table")
        staged = _staged(runs, root / "staging", "contract")
        pd.testing.assert_frame_equal(staged, contract)
        # The stored table is shuffled (1000 rows in source order by chance: 1 in 1000!), and the contract, not
        # the row order, says which source row each GUID is.
        assert not (qi["postcode"].to_numpy() == raw["postcode"].to_numpy()).all()
        joined = qi.merge(contract, on="guid")
        assert (raw["postcode"].to_numpy()[joined["source_row"]] == joined["postcode"].to_numpy()).all()


def test_release_file_and_folder_modes_follow_the_policy(tmp_path):
    result = run_policy(_policy(tmp_path / "p.yaml", file_mode="0444", dir_mode="0555"), workdir=tmp_path / "w")
    folder = result.release_dir
    assert all(stat.S_IMODE(p.stat().st_mode) == (0o555 if p.is_dir() else 0o444) for p in [folder, *folder.iterdir()])
    with pytest.raises(Exception, match="read-only"):
        load_policy(_policy(tmp_path / "bad.yaml", file_mode="0664"))


# ---- a release edited after publication ----------------------------------------------------------------------------
@pytest.fixture
def published(tmp_path):
    table = pd.DataFrame({"gender": ["F", "M"], "age_band": ["(20, 40]", "(40, 60]"]})
    return write_release(tmp_path / "rel", {"anonymised": table}, formats=["csv"], json_files={"report": {"K": 2}})


def _make_writable(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        p.chmod(0o700 if p.is_dir() else 0o600)


def _rewrite_like_an_attacker(folder: Path) -> None:
    """Change a released file and recompute its hash in the manifest, leaving everything else as it was."""
    _make_writable(folder)
    (folder / "anonymised.csv").write_text("gender,age_band\nF,(0, 20]\nM,(40, 60]\n")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["anonymised.csv"] = hashlib.sha256((folder / "anonymised.csv").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for p in [*folder.rglob("*"), folder]:
        p.chmod(0o550 if p.is_dir() else 0o440)


def test_a_release_rewritten_with_its_manifest_fails_verify(published, capsys):
    assert main(["verify", str(published)]) == 0
    _rewrite_like_an_attacker(published)
    capsys.readouterr()
    assert main(["verify", str(published)]) == 1
    assert "signature of" in capsys.readouterr().err and "does not match" in verify_release(published)[0]


def test_an_unsigned_or_foreign_signed_release_fails_verify(published, tmp_path, capsys):
    _make_writable(published)
    other = Fernet.generate_key()
    (published / "manifest.sig").write_bytes(sign((published / "manifest.json").read_bytes(), other))
    assert main(["verify", str(published)]) == 1
    assert "signed with key id" in capsys.readouterr().err
    (published / "manifest.sig").unlink()
    assert main(["verify", str(published)]) == 1
    assert "unsigned" in capsys.readouterr().err


@pytest.mark.parametrize("manifest", [b"not json at all {", b"[1, 2]", b'{"version": "x"}', b'{"files": ["a"]}'])
def test_a_malformed_manifest_is_a_clear_error_not_a_traceback(published, manifest, capsys):
    _make_writable(published)
    (published / "manifest.json").write_bytes(manifest)
    (published / "manifest.sig").write_bytes(sign(manifest, read_key_file(Path(os.environ["XDG_CONFIG_HOME"])
                                                                          / "anon_pipeline" / "secrets.key")))
    assert main(["verify", str(published)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and "Traceback" not in err
    with pytest.raises(ReleaseError):
        verify_release(published)


# ---- tampered .enc files ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("attack", ["flipped key id", "appended bytes", "appended newline"])
def test_decode_refuses_a_flipped_header_or_trailing_bytes(tmp_path, attack, capsys):
    key_file = tmp_path / "keys" / "k.key"
    assert main(["keygen", "--key-file", str(key_file)]) == 0
    path = write_encrypted_table(tmp_path / "t.parquet.enc", pd.DataFrame({"code": ["a"]}), read_key_file(key_file))
    blob = path.read_bytes()
    first, _, token = blob.partition(b"\n")
    if attack == "flipped key id":
        magic, kid = first.split(b" ")
        blob = magic + b" " + kid[:-1] + (b"0" if kid[-1:] != b"0" else b"1") + b"\n" + token
    else:
        blob += b"AAAAxyz" if attack == "appended bytes" else b"\n"
    path.write_bytes(blob)
    out = tmp_path / "out.csv"
    capsys.readouterr()
    assert main(["decode", str(path), "--key-file", str(key_file), "--out", str(out)]) == 2
    assert "failed authentication" in capsys.readouterr().err and not out.exists()


# ---- CSV formula cells --------------------------------------------------------------------------------------------
def test_csv_formula_cells_are_neutralised_and_parquet_keeps_them(tmp_path):
    cells = ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-1+1", "@SUM(A1:A2)", "\tlead", "\rlead",
             "plain", "a=b", None]
    table = pd.DataFrame({"text": pd.array(cells, dtype="str"), "cat": pd.Categorical(cells),
                          "number": np.arange(len(cells)) - 5.5, "count": np.arange(len(cells)) - 3})
    folder = write_release(tmp_path / "rel", {"t": table}, formats=["csv", "parquet"])
    back = pd.read_csv(folder / "t.csv", dtype={"text": "str", "cat": "str"}, keep_default_na=False, na_values=[""])
    expected = [c if c is None or c[0] not in "=+-@\t\r" else "'" + c for c in cells]
    assert back["text"].tolist()[:-1] == expected[:-1] and pd.isna(back["text"].iloc[-1])
    assert back["cat"].tolist()[:-1] == expected[:-1]
    assert back["number"].tolist() == table["number"].tolist() and back["count"].tolist() == table["count"].tolist()
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "t.parquet"), table)


def test_the_arrow_csv_parses_as_the_pandas_csv_did():
    frame = pd.DataFrame({
        "s": pd.array(["a", "b,c", 'x"y', None, "line\nbreak", ""], dtype="str"),
        "f": [0.1, 1e-5, np.nan, 123456789.123, -0.0, 2.5],
        "whole": [1.0, 2.0, np.nan, -3.0, 0.0, 1e6],
        "i": pd.array([1, None, 3, 4, 5, -6], dtype="Int64"),
        "b": [True, False, True, False, True, False],
        "day": pd.to_datetime(["2020-01-01", "2021-02-03", None, "2022-12-31", "1970-01-01", "1999-09-09"]),
        "ts": pd.to_datetime(["2020-01-01 10:00", "2021-02-03 00:00:01", None, "2022-12-31", "2000-01-01",
                              "2001-01-01"], format="ISO8601"),
        "frac": pd.to_datetime(["2020-01-01 10:00:00.25", None, "2021-01-01", "2021-01-01", "2021-01-01",
                                "2021-01-01"], format="ISO8601"),
        "c": pd.Categorical(["x", "y", None, "x", "y", "x"]),
    })
    ours = pd.read_csv(io.BytesIO(table_bytes(frame, "csv")))
    before = pd.read_csv(io.BytesIO(frame.to_csv(index=False).encode()))
    pd.testing.assert_frame_equal(ours, before)
    # Dates and times are spelled exactly as before too (a reader that does not parse dates sees the same text);
    # floats keep their values, not always their spelling (1e-05 is written 0.00001).
    as_text, spelled = dict(dtype="str", keep_default_na=False), frame[["day", "ts", "frac", "i", "c"]]
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(table_bytes(spelled, "csv")), **as_text),
                                  pd.read_csv(io.BytesIO(spelled.to_csv(index=False).encode()), **as_text))


def test_mixed_object_and_interval_columns_are_written_as_their_text():
    frame = pd.DataFrame({"o": pd.Series([1, "=a", None, 2.5], dtype=object), "iv": pd.cut([1, 5, 9, 3], [0, 4, 10]),
                          "n": [1, 2, 3, 4]})
    back = pd.read_csv(io.BytesIO(table_bytes(frame, "csv")), dtype="str", keep_default_na=False)
    assert back.to_dict("list") == {"o": ["1", "'=a", "", "2.5"], "iv": ["(0, 4]", "(4, 10]", "(4, 10]", "(0, 4]"],
                                    "n": ["1", "2", "3", "4"]}


# ---- paths ---------------------------------------------------------------------------------------------------
def test_names_that_escape_the_policy_folder_are_refused_at_write_time(tmp_path):
    dirs = PolicyDirs.for_policy(tmp_path / "w", NAME)
    table = pd.DataFrame({"code": ["a"], "value": ["b"]})
    for name in ("../../../escaped", "/tmp/escaped"):
        with pytest.raises(UnsafePathError, match="outside the policy folder"):
            write_key_tables(dirs, {name: table}, "plan1")
    with pytest.raises(UnsafePathError):
        write_key_tables(dirs, {"ok": table}, "../../elsewhere")
    with pytest.raises(UnsafePathError):
        write_reports(dirs, {"../../report": {"K": 1}})
    with pytest.raises(UnsafePathError):
        PolicyDirs.for_policy(tmp_path / "w", "../outside")
    with pytest.raises(UnsafePathError):
        write_release(tmp_path / "rel", {"../../t": table}, formats=["csv"])
    assert not list(tmp_path.rglob("*escaped*")) and not (tmp_path / "elsewhere").exists()
    assert not (tmp_path / "report.json").exists() and not (tmp_path / "t.csv").exists()


def test_a_symlinked_release_folder_is_refused_and_a_real_latest_is_a_clear_error(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dirs = PolicyDirs.for_policy(tmp_path / "w", NAME)
    (dirs.root / "release").symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        dirs.release
    with pytest.raises(UnsafePathError, match="symbolic link"):
        run_policy(_policy(tmp_path / "p.yaml"), workdir=tmp_path / "w")
    table = pd.DataFrame({"x": [1]})
    with pytest.raises(UnsafePathError, match="symbolic link"):
        write_release(dirs.root / "release", {"t": table}, formats=["csv"])
    assert not list(elsewhere.iterdir())
    (tmp_path / "r2" / "latest").mkdir(parents=True)
    with pytest.raises(ReleaseError, match="not the link to the newest release"):
        write_release(tmp_path / "r2", {"t": table}, formats=["csv"])
    assert sorted(p.name for p in (tmp_path / "r2").iterdir()) == ["latest"]


# ---- stale temporaries ---------------------------------------------------------------------------------------
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_a_killed_run_are_removed_by_the_next_run(tmp_path):
    dirs = PolicyDirs.for_policy(tmp_path / "w", NAME)
    dead, secret = _dead_pid(), encrypt_table(pd.DataFrame({"v": ["x"]}), Fernet.generate_key(), name="v")
    stale = [dirs.key_tables / "oldplan" / f".edu.parquet.enc.{dead}.tmp", dirs.staging / f".qi_table.parquet.enc.{dead}.tmp",
             dirs.reports / f".utility_report.json.{dead}.tmp"]
    legacy = dirs.staging / "qi_table.parquet.tmp"           # written by older versions, without a pid
    live = dirs.staging / f".anonymised.parquet.enc.{os.getpid()}.tmp"
    for path in [*stale, legacy, live]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secret)
    os.utime(legacy, (0, 0))
    write_key_tables(dirs, {"edu": pd.DataFrame({"code": ["a"], "value": ["b"]})}, "newplan")
    assert not any(p.exists() for p in [*stale, legacy]) and live.exists()
    assert remove_stale_temporaries(dirs.root) == []
