"""The one error edge: every failure of ``run_policy`` and of ``anon-pipeline`` is a typed error with a clear
message and an exit code (1 blocked, 2 bad policy/input, 3 environment or internal error), with no traceback
unless ``--debug``, no data value in any message, the source file unchanged and nothing written outside the
work folder. Each case runs through ``run_policy`` and through the command line in a fresh interpreter."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet

from anon_pipeline import run_policy
from anon_pipeline.defs.build import build_definitions
from anon_pipeline.errors import (AnonPipelineError, InputDataError, InternalError, PolicyError,
                                  RunEnvironmentError, TransformError)
from anon_pipeline.pipeline import source as source_module
from anon_pipeline.pipeline.source import duplicated_names
from anon_pipeline.sample import generate
from anon_pipeline.transforms import registry
from anon_pipeline_tests.pipeline.policies import variant

#: Values planted in the input where an error happens; none may appear in any message.
PLANTED = "Zyxwquorble"
HUGE_INT = "1000000000000000000000000000007"
RUNNER = """
import sys
{patch}
from anon_pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""
#: Make reading one path fail as an unreadable file does (chmod 000 does not stop root, who runs CI here).
DENY_READ = """
import pathlib
_open = pathlib.Path.open
def _deny(self, *args, **kwargs):
    if str(self) == {target!r}:
        raise PermissionError(13, "Permission denied", str(self))
    return _open(self, *args, **kwargs)
pathlib.Path.open = _deny
"""
#: The disk fills up while the release is written: fsync of a file under release/ fails with ENOSPC.
DISK_FULL = """
import errno, os
_fsync = os.fsync
def _full(fd):
    try:
        where = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        where = "/release/"
    if "/release/" in where:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _fsync(fd)
os.fsync = _full
"""
#: A stage fails unexpectedly with a library message that quotes a cell value.
CRASH = f"""
import anon_pipeline.pipeline.graph as graph
def _crash(*args, **kwargs):
    raise ValueError("could not convert {PLANTED!r} to float")
graph.stream_qi_table = _crash
"""


class Case:
    """A tmp folder with input data, a work folder, a key in the environment and a snapshot of everything else."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp_path
        self.data, self.work, self.cwd = tmp_path / "data", tmp_path / "work", tmp_path / "cwd"
        for d in (self.data, self.cwd):
            d.mkdir()
        monkeypatch.setenv("ANON_PIPELINE_KEY", Fernet.generate_key().decode())
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        monkeypatch.delenv("ANON_PIPELINE_WORKDIR", raising=False)
        self.source: Path | None = None

    def table(self, rows: int = 60) -> pd.DataFrame:
        frame = generate("insurance_customers", rows, 5)
        frame.loc[0, "surname"] = PLANTED
        return frame

    def write_csv(self, frame: pd.DataFrame, name: str = "input.csv") -> Path:
        self.source = self.data / name
        frame.to_csv(self.source, index=False)
        return self.source

    def policy(self, source: Path | str | None = None, **changes) -> Path:
        src = {"path": str(source if source is not None else self.source)}
        src.update(changes.pop("source_extra", {}))
        return variant(self.data, privacy__k=1, source=src, **changes)

    def outside_work(self) -> dict[str, str]:
        """Every file outside the work folder, with its SHA-256 (the source's too: it must not change)."""
        out = {}
        for p in sorted(self.tmp.rglob("*")):
            if self.work in p.parents or p == self.work or not p.is_file():
                continue
            try:
                with open(p, "rb") as fh:   # not Path.open, which a test may make refuse the source
                    out[str(p)] = hashlib.sha256(fh.read()).hexdigest()
            except PermissionError:         # chmod 000 as a user other than root
                out[str(p)] = f"unreadable {p.stat().st_size} {p.stat().st_mtime_ns}"
        return out

    def cli(self, *args: str, patch: str = "", debug: bool = False) -> subprocess.CompletedProcess:
        argv = (["--debug"] if debug else []) + list(args)
        return subprocess.run([sys.executable, "-c", RUNNER.format(patch=textwrap.dedent(patch)), *argv],
                              capture_output=True, text=True, cwd=self.cwd, timeout=300)

    def run_cli(self, policy: Path, *extra: str, patch: str = "", debug: bool = False):
        before = self.outside_work()
        out = self.cli("run", str(policy), "--workdir", str(self.work), *extra, patch=patch, debug=debug)
        assert self.outside_work() == before, "the CLI wrote or changed a file outside the work folder"
        return out


@pytest.fixture
def case(tmp_path, monkeypatch) -> Case:
    return Case(tmp_path, monkeypatch)


def assert_clean(out: subprocess.CompletedProcess, code: int, *names: str, planted: tuple[str, ...] = (PLANTED,)):
    text = out.stdout + out.stderr
    assert out.returncode == code, text
    assert "Traceback" not in text, text
    for name in names:
        assert name in out.stderr, (name, out.stderr)
    for value in planted:
        assert value not in text


def run_typed(case: Case, policy: Path, error: type[AnonPipelineError], **kwargs) -> AnonPipelineError:
    before = case.outside_work()
    with pytest.raises(error) as info:
        run_policy(policy, workdir=case.work, **kwargs)
    assert case.outside_work() == before
    for value in (PLANTED, HUGE_INT):
        assert value not in str(info.value)
    return info.value


# --- bad input: exit 2 -------------------------------------------------------------------------------------

def test_list_typed_parquet_column_is_an_unsupported_type(case):
    frame = case.table().astype({"cc_status": "int64"})
    frame["postcode"] = [[PLANTED, "x"]] * len(frame)
    case.source = case.data / "input.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), case.source)
    policy = case.policy()
    err = run_typed(case, policy, InputDataError)
    assert err.column == "postcode" and err.rule == "unsupported type" and str(case.source) in str(err)
    assert_clean(case.run_cli(policy), 2, "postcode", "unsupported type", str(case.source))


def test_integer_beyond_int64_is_its_own_rule(case):
    frame = case.table().astype({"n_countries_visited": "str"})
    frame.loc[3, "n_countries_visited"] = HUGE_INT
    policy = case.policy(case.write_csv(frame))
    err = run_typed(case, policy, InputDataError)
    assert {(p["column"], p["rule"], p["n_rows"]) for p in err.problems} == {
        ("n_countries_visited", "out of int64 range", 1)}
    assert_clean(case.run_cli(policy), 2, "n_countries_visited", "out of int64 range",
                 planted=(PLANTED, HUGE_INT))


def test_source_that_is_a_directory_is_named(case):
    folder = case.data / "export.csv"
    folder.mkdir()
    policy = case.policy(folder)
    err = run_typed(case, policy, InputDataError)
    assert err.rule == "source is a file" and str(folder) in str(err)
    assert_clean(case.run_cli(policy), 2, str(folder), "directory")


def test_unreadable_source_is_named(case, monkeypatch):
    source = case.write_csv(case.table())
    policy = case.policy()
    source.chmod(0)
    try:
        original = Path.open

        def deny(self, *args, **kwargs):
            if self == source:
                raise PermissionError(13, "Permission denied", str(self))
            return original(self, *args, **kwargs)

        with monkeypatch.context() as m:
            m.setattr(Path, "open", deny)
            err = run_typed(case, policy, InputDataError)
        assert err.rule == "source readable" and str(source) in str(err) and "Permission denied" in str(err)
        assert_clean(case.run_cli(policy, patch=DENY_READ.format(target=str(source))), 2, str(source),
                     "source readable")
    finally:
        source.chmod(0o644)


def test_long_line_is_refused_before_it_is_loaded(case):
    frame = case.table()
    source = case.write_csv(frame)
    with source.open("a") as fh:   # one field of 8 MB: the attack used 2 GB
        fh.write(",".join([PLANTED * 800_000] + [""] * (len(frame.columns) - 1)) + "\n")
    policy = case.policy()
    started = time.perf_counter()
    err = run_typed(case, policy, InputDataError)
    assert time.perf_counter() - started < 10
    assert err.rule == "max_line_bytes" and f"line {len(frame) + 2}" in str(err) and str(1 << 20) in str(err)
    assert_clean(case.run_cli(policy), 2, "max_line_bytes", str(source))
    # The limit is the policy's: raised, the same file gets past it (and fails on its content instead).
    roomy = case.policy(source_extra={"max_line_bytes": 64 << 20})
    assert run_typed(case, roomy, InputDataError).rule != "max_line_bytes"


def test_long_quoted_multi_line_field_counts_as_one_line(case):
    frame = case.table()
    source = case.write_csv(frame)
    with source.open("a") as fh:
        fh.write('"' + f"{PLANTED}\n" * 200_000 + '"' + "," * (len(frame.columns) - 1) + "\n")
    err = run_typed(case, case.policy(), InputDataError)
    assert err.rule == "max_line_bytes"


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 22])
def test_longest_line_agrees_with_the_csv_module_across_chunk_boundaries(tmp_path, monkeypatch, chunk):
    rows = [["a", 'say "hi"\nthere', "x" * 37], ["", "", ""], ["multi\n\nline", "b", "c" * 5], ["q", "w", "e"]]
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = tmp_path / "t.csv"
    path.write_bytes(buf.getvalue().encode())
    expected = [len(line) for line in _records(buf.getvalue())]
    monkeypatch.setattr(source_module, "_CHUNK", chunk)
    assert source_module._longest_line(path, 10_000) == (max(expected), expected.index(max(expected)) + 1)
    assert source_module._longest_line(path, 20)[0] > 20


def _records(text: str) -> list[str]:
    """The text of each CSV record, by the csv module's own parsing (reference for the quote-parity scan)."""
    out, start = [], 0
    reader = csv.reader(io.StringIO(text, newline=""))
    ends = []
    for _ in reader:
        ends.append(reader.line_num)
    lines = text.split("\n")
    for end in ends:
        out.append("\n".join(lines[start:end]))
        start = end
    return out


def test_100000_column_header_is_refused_fast(case):
    frame = case.table()
    source = case.data / "wide.csv"
    names = list(frame.columns) + [f"c{i}" for i in range(100_000)] + ["surname"]
    source.write_text(",".join(names) + "\n" + ",".join(["1"] * len(names)) + "\n")
    case.source = source
    policy = case.policy()
    started = time.perf_counter()
    err = run_typed(case, policy, InputDataError)
    assert time.perf_counter() - started < 5
    assert err.rule == "max_columns" and "100019 columns" in str(err)
    assert_clean(case.run_cli(policy), 2, "max_columns", str(source))


def test_duplicate_header_scan_is_linear():
    header = [f"c{i}" for i in range(100_000)] + ["c7", "c99999", "c7"]
    started = time.perf_counter()
    assert duplicated_names(header) == ["c7", "c99999"]
    assert time.perf_counter() - started < 1   # list.count per name took minutes here


# --- the environment: exit 3 -------------------------------------------------------------------------------

def test_unwritable_workdir_is_an_environment_error(case):
    policy = case.policy(case.write_csv(case.table()))
    blocker = case.tmp / "work"          # the work folder's place is taken by a file
    blocker.write_text("not a folder")
    err = run_typed(case, policy, RunEnvironmentError)
    # mkdir over a file says EEXIST, a path through a file ENOTDIR: either way the environment is at fault.
    assert err.errno_name in ("ENOTDIR", "EEXIST") and str(blocker) in str(err)
    assert_clean(case.run_cli(policy), 3, "environment error", err.errno_name, str(blocker))


def test_full_disk_while_releasing_publishes_nothing(case, monkeypatch):
    policy = case.policy(case.write_csv(case.table()))
    real_fsync = os.fsync

    def full(fd):
        if "/release/" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", full)
        err = run_typed(case, policy, RunEnvironmentError)
    assert err.errno_name == "ENOSPC"
    out = case.run_cli(policy, patch=DISK_FULL)
    assert_clean(out, 3, "environment error", "ENOSPC")
    release = case.work / "insurance_customers" / "release"
    assert not (release / "latest").exists()
    assert [p.name for p in release.iterdir() if not p.name.startswith(".")] == []


def test_sample_too_large_to_generate_is_typed(case):
    policy = variant(case.data, source={"sample": {"rows": 10**11}})
    # A bound at policy load (a PolicyError, exit 2) or the allocation failing (out of memory, exit 3).
    limit_memory = "import resource; resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))"
    out = case.run_cli(policy, patch=limit_memory)
    assert out.returncode in (2, 3) and "Traceback" not in out.stderr
    assert ("out of memory" in out.stderr) or ("rows" in out.stderr)


def test_latest_that_is_a_real_folder_is_reported_cleanly(case):
    policy = case.policy(case.write_csv(case.table()))
    latest = case.work / "insurance_customers" / "release" / "latest"
    latest.mkdir(parents=True)
    (latest / "keep.txt").write_text("someone's file")
    out = case.run_cli(policy)
    assert out.returncode in (2, 3) and "Traceback" not in out.stderr and "latest" in out.stderr
    assert (latest / "keep.txt").read_text() == "someone's file"


# --- internal errors: exit 3, the traceback only with --debug ----------------------------------------------

def test_unexpected_exception_is_reported_by_type_and_place_only(case, monkeypatch):
    policy = case.policy(case.write_csv(case.table()))
    import anon_pipeline.pipeline.graph as graph_module

    def crash(*args, **kwargs):
        raise ValueError(f"could not convert {PLANTED!r} to float")

    with monkeypatch.context() as m:
        m.setattr(graph_module, "stream_qi_table", crash)
        err = run_typed(case, policy, InternalError)
    assert err.exc_type == "ValueError" and "test_error_edge.crash" in err.where
    assert isinstance(err.original, ValueError) and err.__cause__ is None
    out = case.run_cli(policy, patch=CRASH)
    assert_clean(out, 3, "internal error: ValueError", "--debug")
    debug = case.run_cli(policy, patch=CRASH, debug=True)
    assert debug.returncode == 3 and "Traceback" in debug.stderr and "_crash" in debug.stderr


def test_verify_of_a_broken_manifest_does_not_traceback(case):
    for i, text in enumerate(["{not json", '{"version": "x"}']):
        folder = case.work / f"release_{i}"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(text)
        out = case.cli("verify", str(folder))
        assert out.returncode in (1, 2, 3) and "Traceback" not in out.stderr and out.stderr.strip(), out.stderr


def test_bad_policy_and_blocked_release_keep_their_codes(case):
    policy = case.policy(case.write_csv(case.table()), privacy={"k": 10_000})
    out = case.run_cli(policy)
    assert_clean(out, 1, "k_anonymity")
    bad = variant(case.data, "bad.yaml", seed="not a number")
    assert_clean(case.cli("where", str(bad)), 2, "bad.yaml", "seed")


# --- plugins and Dagster: one broken file does not hide the rest -------------------------------------------

def _broken_plugin(site: Path) -> Path:
    """A distribution whose entry point registers ``half_op`` and then fails to import."""
    package = site / "broken_ops"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent("""
        from anon_pipeline import ColumnOp, register_op

        @register_op("half_op")
        class HalfOp(ColumnOp):
            def apply(self, values, plan, ctx):
                return values

        import a_module_that_is_not_installed  # noqa: F401
    """))
    dist = site / "broken_ops-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-ops\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[anon_pipeline.transforms]\nbroken = broken_ops\n")
    return site


def _naive_plugin(site: Path) -> Path:
    """A distribution whose op assumes numbers (``pd.to_numeric``, whose error quotes the cell) and whose fit
    fails on a column named ``bad_fit``."""
    package = site / "naive_ops"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent("""
        import pandas as pd
        from anon_pipeline import ColumnOp, register_op

        @register_op("naive_floor")
        class NaiveFloor(ColumnOp):
            def fit(self, values, ctx):
                if ctx.column == "blood_group":
                    raise KeyError(values.iloc[0])
                return {}

            def apply(self, values, plan, ctx):
                return pd.to_numeric(values).clip(lower=1)
    """))
    dist = site / "naive_ops-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: naive-ops\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[anon_pipeline.transforms]\nnaive = naive_ops\n")
    return site


@pytest.mark.parametrize("column, phase, raised", [("postcode", "apply", "ValueError"),
                                                   ("blood_group", "fit", "KeyError")])
def test_a_plugin_op_failing_unexpectedly_is_named_with_its_column(case, monkeypatch, column, phase, raised):
    """A plugin op that lets a library error out (pandas quotes the cell) is the op's failure on that column, not
    an internal error of this package: exit 2, the op, its module and the column named, no value shown."""
    site = _naive_plugin(case.tmp / "site")
    frame = case.table()
    frame.loc[1, column] = PLANTED
    case.write_csv(frame)
    role = {"postcode": "quasi_identifier", "blood_group": "insensitive"}[column]
    policy = case.policy(**{f"columns__{column}": {"role": role, "steps": [{"op": "naive_floor"}]}})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_PLUGINS_LOADED", False)
    monkeypatch.setattr(registry, "_BROKEN_PLUGINS", {})
    err = run_typed(case, policy, TransformError)
    assert (err.column, err.op) == (column, "naive_floor")
    assert f"{phase} raised {raised} in the op from naive_ops" in str(err)
    assert type(err.original).__name__ == raised
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in [str(site), os.environ.get("PYTHONPATH")] if p))
    assert_clean(case.run_cli(policy), 2, f"column '{column}', op 'naive_floor'", f"{phase} raised {raised}")


def test_broken_plugin_only_fails_policies_using_its_ops(case, monkeypatch):
    site = _broken_plugin(case.tmp / "site")
    using = variant(case.data, "uses_plugin.yaml", columns__weight={
        "role": "quasi_identifier", "dtype": "float", "steps": [{"op": "half_op"}]})
    plain = case.policy(case.write_csv(case.table()))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_PLUGINS_LOADED", False)
    monkeypatch.setattr(registry, "_BROKEN_PLUGINS", {})
    with pytest.warns(registry.PluginLoadWarning, match="plugin 'broken'.*broken-ops 0.1.*ModuleNotFoundError"):
        assert run_policy(plain, workdir=case.work).released
    assert "half_op" not in registry.registered_ops()
    with pytest.raises(PolicyError) as info:
        run_policy(using, workdir=case.work)
    assert "op 'half_op' is unavailable" in str(info.value) and "plugin 'broken'" in str(info.value)

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in [str(site), os.environ.get("PYTHONPATH")] if p))
    where = case.cli("where", str(plain), "--workdir", str(case.work))
    assert_clean(where, 0, "warning: plugin 'broken'", "broken-ops")
    assert "release:" in where.stdout
    assert_clean(case.run_cli(plain), 0)
    assert_clean(case.run_cli(using), 2, "half_op", "plugin 'broken'")


def test_dagster_loads_the_good_policies_beside_a_broken_file(case):
    good = case.policy(case.write_csv(case.table()))
    bad = case.data / "team-b.yaml"
    bad.write_text("name: team_b\nseed: [not, a, number]\n")
    defs = build_definitions([bad, good], workdir=str(case.work))
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert "insurance_customers/release" in keys and "policy_errors/team_b" in keys
    broken = defs.resolve_assets_def(dg.AssetKey(["policy_errors", "team_b"]))
    description = broken.descriptions_by_key[dg.AssetKey(["policy_errors", "team_b"])]
    assert str(bad) in description and "seed" in description
    result = dg.materialize([broken], instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "team-b.yaml" in failure.step_failure_data.error.to_string()
