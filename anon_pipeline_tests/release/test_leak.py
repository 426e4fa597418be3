"""No personal data outside the release: run a policy with Dagster on broken inputs of the corpus and on a good
input; then search Dagster's event log and storage, every file written outside the release folder (decrypting
what is encrypted) and the captured output for every identifier value of the input."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from anon_pipeline.release import sha256_file
from anon_pipeline.secrets import decrypt_bytes, read_key_file, write_encrypted_table
from anon_pipeline.secrets.parts import read_part
from anon_pipeline_tests.release.bad_inputs import CORPUS, IDENTIFIERS, POLICY, PROJECT_ROOT, clean_table

PSEUDO_ENV = "ANON_LEAK_TEST_PSEUDONYM_KEY"
DAGSTER_CASES = ("no_header_row", "not_utf8", "scientific_notation_phones", "duplicated_rows")


def _policy_with_identifier_ops(path: Path) -> Path:
    """The bundled policy, keeping safe forms of three identifiers so the identifier ops are searched too."""
    doc = yaml.safe_load(POLICY.read_text())
    columns = doc["columns"]
    columns["national_insurance_number"]["steps"] = [{"op": "pseudonym", "key_env": PSEUDO_ENV, "key_id": "t1"}]
    columns["phone_number"].update(output="phone_area", steps=[{"op": "uk_phone_area_code"}])
    columns["bank_account_number"].update(output="account_hint", steps=[{"op": "mask", "n": 2}])
    doc["release"] = {"formats": ["parquet", "csv"], "contract": True}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def leak_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("leak")
    inputs, instance_dir, workdir, config = (base / n for n in ("inputs", "dagster_home", "work", "config"))
    for folder in (inputs, instance_dir):
        folder.mkdir()
    table = clean_table(1000)
    sources = []
    # Every broken input takes the same path (the blocking raw_schema check); these are the ones whose errors
    # are shaped by the data (a data row as header, undecodable cells, pandera failure cases). The pure and CLI
    # tests run the whole corpus.
    for case in (c for c in CORPUS if c.name in DAGSTER_CASES):
        case.make(table, inputs / f"{case.name}.csv")
        sources.append(inputs / f"{case.name}.csv")
    table.to_csv(inputs / "good.csv", index=False)
    sources.append(inputs / "good.csv")
    checksums = {p.name: sha256_file(p) for p in sources}
    policy = _policy_with_identifier_ops(base / "policy.yaml")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "XDG_CONFIG_HOME": str(config),
           "DAGSTER_HOME": str(instance_dir), PSEUDO_ENV: "leak-test-secret-0123456789abcdef"}
    for name in ("ANON_PIPELINE_KEY", "ANON_PIPELINE_KEY_FILE"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("leak_run.py")), str(policy),
                           str(instance_dir), str(workdir), *map(str, sources)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    return {"base": base, "table": table, "sources": sources, "checksums": checksums, "outcome": outcome,
            "instance_dir": instance_dir, "workdir": workdir, "config": config,
            "output": done.stdout + "\n" + done.stderr}


def _identifier_values(table: pd.DataFrame) -> set[str]:
    """Every identifier value of the input, less those that also stand as a word in another column's values
    (the given name "Jordan" is a country of birth, the surname "French" stands in "French Polynesia"): finding
    those in a table of countries is no leak."""
    values = {v.strip() for c in IDENTIFIERS for v in table[c] if v.strip()}
    others = "\n".join(v for c in table.columns if c not in IDENTIFIERS for v in table[c].unique())
    return values - _found(others, values)


def _found(text: str, values: set[str]) -> set[str]:
    """The values standing on their own in ``text`` (not inside a longer word or number), outside inline images.

    One pass over the text's words: a value is indexed by its first word, so only the places where that word
    occurs are compared in full (linear in the text, where one regex of thousands of values is not). An inline
    image (the plots in Dagster's metadata: ``data:image/png;base64,...``) is pixels, not text: its base64 holds
    a short given name between a ``+`` and a ``/`` by chance in some runs.
    """
    text = _INLINE_IMAGE.sub(" ", text)
    by_word: dict[str, list[tuple[int, str]]] = {}
    for value in values:
        first = _WORD.search(value)
        if first is not None:
            by_word.setdefault(first.group(), []).append((first.start(), value))
    hits = set()
    for word in _WORD.finditer(text):
        for offset, value in by_word.get(word.group(), ()):
            start, end = word.start() - offset, word.start() - offset + len(value)
            if start >= 0 and text.startswith(value, start) and \
                    not (value[0].isalnum() and _is_word_char(text, start - 1)) and \
                    not (value[-1].isalnum() and _is_word_char(text, end)):
                hits.add(value)
    return hits


_WORD = re.compile(r"[A-Za-z0-9]+")
_INLINE_IMAGE = re.compile(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+")


def _is_word_char(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isascii() and text[i].isalnum()


def _texts_of_file(path: Path, key: bytes) -> list[str]:
    """What a file says, in every form a value could hide in: table cells, decrypted content, raw text.

    A parquet file is searched through its cells only: its compressed bytes hold fragments of other values
    ("West" of "Western Sahara") that would be false alarms, and a value stored in it is in a cell. Dagster's
    SQLite files likewise through every cell of every table, as a page boundary cuts text into fragments
    ("Mark" of "MarkdownMetadataEntryData").
    """
    data = path.read_bytes()
    if path.name.endswith(".arrow.enc"):    # a part of a staged table (sealed Arrow IPC)
        return [read_part(path, key).to_csv(index=False)]
    if path.suffix == ".enc":
        data, meta = decrypt_bytes(data, key, source=str(path))
        if meta.get("format") == "parquet":
            return [pd.read_parquet(io.BytesIO(data)).to_csv(index=False)]
    elif path.suffix == ".parquet":
        return [pd.read_parquet(path).to_csv(index=False)]
    elif path.suffix == ".db":
        return [_sqlite_text(path)]
    texts = [data.decode("utf-8", "replace")]
    if path.suffix == ".json":
        texts.append(json.dumps(json.loads(data), ensure_ascii=False))
    return texts


def _sqlite_text(path: Path) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [row for table in tables for row in db.execute(f'SELECT * FROM "{table}"')]
    return "\n".join(" | ".join(_cell_text(cell) for cell in row) for row in rows)


def _cell_text(cell) -> str:
    return cell.decode("utf-8", "replace") if isinstance(cell, bytes) else str(cell)


def test_runs_did_what_they_should(leak_run):
    outcome = leak_run["outcome"]
    assert outcome.pop("good.csv") is True
    assert len(outcome) == len(DAGSTER_CASES) and not any(outcome.values()), outcome   # every bad input failed
    releases = leak_run["workdir"] / "insurance_customers" / "release"
    versions = [p for p in releases.iterdir() if not p.name.startswith(".") and p.name not in ("latest",)]
    assert len(versions) == 1                                     # only the good input was released
    released = pd.read_parquet(versions[0] / "anonymised.parquet")
    assert released["national_insurance_number"].str.fullmatch(r"t1_[0-9a-f]{16}").all()
    assert released["phone_area"].str.fullmatch(r"0\d{2,4}").all()
    assert released["account_hint"].str.fullmatch(r"\*{6,7}\d{2}").all()
    contracts = list((leak_run["workdir"] / "insurance_customers" / "key_tables" / "contracts").iterdir())
    assert [p.name for p in contracts] == [f"{versions[0].name}.parquet.enc"]


def test_raw_files_unchanged(leak_run):
    assert {p.name: sha256_file(p) for p in leak_run["sources"]} == leak_run["checksums"]


def test_no_identifier_value_outside_the_release(leak_run):
    values = _identifier_values(leak_run["table"])
    key = read_key_file(leak_run["config"] / "anon_pipeline" / "secrets.key")
    release_root = leak_run["workdir"] / "insurance_customers" / "release"
    searched, hits = 0, {}
    for root in (leak_run["instance_dir"], leak_run["workdir"], leak_run["config"]):
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            if release_root in path.parents and "passwords" not in path.parts:
                continue                                          # the release itself may hold safe forms
            searched += 1
            found = set().union(*(_found(text, values) for text in _texts_of_file(path, key)))
            if found:
                hits[str(path.relative_to(leak_run["base"]))] = len(found)
    assert searched > 10
    assert not hits, f"identifier values found in {hits}"
    found = _found(leak_run["output"], values)
    assert not found, f"{len(found)} identifier value(s) in the captured output"


def test_no_identifier_value_in_the_dagster_event_log(leak_run):
    values = _identifier_values(leak_run["table"])
    instance = dg.DagsterInstance.local_temp(str(leak_run["instance_dir"]))
    runs = instance.get_runs()
    assert len(runs) == len(leak_run["sources"])
    n_events = 0
    for run in runs:
        records = instance.all_logs(run.run_id)
        n_events += len(records)
        text = "\n".join(dg.serialize_value(r) for r in records) + dg.serialize_value(run)
        found = _found(text, values)
        assert not found, f"run {run.run_id}: {len(found)} identifier value(s) in the event log"
    assert n_events > 100


def test_the_search_would_find_a_leak(leak_run, tmp_path):
    """The searches above are only worth their silence if they find what is there: plant values and look."""
    table, values = leak_run["table"], _identifier_values(leak_run["table"])
    key = read_key_file(leak_run["config"] / "anon_pipeline" / "secrets.key")
    nino, phone = table["national_insurance_number"].iloc[3], table["phone_number"].iloc[5]
    (tmp_path / "log.txt").write_text(f"step failed on value {nino}: bad\n")
    table[["surname"]].to_parquet(tmp_path / "staged.parquet")
    write_encrypted_table(tmp_path / "keys.parquet.enc", table[["phone_number"]].iloc[5:6], key)
    assert _found("\n".join(_texts_of_file(tmp_path / "log.txt", key)), values) == {nino}
    # An inline image is not searched, the text around it is.
    assert _found(f"![plot](data:image/png;base64,iVBO+{nino}/AA==) then {phone}", values) == {phone}
    assert len(_found("\n".join(_texts_of_file(tmp_path / "staged.parquet", key)), values)) > 100
    assert phone in _found("\n".join(_texts_of_file(tmp_path / "keys.parquet.enc", key)), values)
    with sqlite3.connect(tmp_path / "events.db") as db:
        db.execute("CREATE TABLE event_logs (id INTEGER, event TEXT)")
        db.execute("INSERT INTO event_logs VALUES (1, ?)", (json.dumps({"message": f"bad phone {phone}"}),))
    assert _found("\n".join(_texts_of_file(tmp_path / "events.db", key)), values) == {phone}
