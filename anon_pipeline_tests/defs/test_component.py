"""``PolicyComponent``: a policy declared in a dg ``defs.yaml`` gives the same definitions as ``build_definitions``,
a wrong attribute is refused (when loading, and by ``dg check yaml`` where the dg CLI is installed), and the
example dg project in ``examples/dg_project`` loads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from anon_pipeline.defs import PolicyComponent
from anon_pipeline.defs.build import build_definitions
from anon_pipeline_tests.pipeline.policies import ROOT

TYPE = "anon_pipeline.defs.PolicyComponent"
EXAMPLE = ROOT / "examples" / "dg_project"
MONTHLY = ROOT / "policies" / "insurance_customers_monthly.yaml"


def _shape(defs: dg.Definitions) -> dict[str, set]:
    graph = defs.resolve_asset_graph()
    return {"assets": set(graph.get_all_asset_keys()), "checks": set(graph.asset_check_keys),
            "deps": {key: set(graph.get(key).parent_keys) for key in graph.get_all_asset_keys()},
            "blocking": {key for key in graph.asset_check_keys if graph.get_check_spec(key).blocking},
            "jobs": {j.name for j in defs.resolve_all_job_defs()} - {"__ASSET_JOB"},
            "schedules": {s.name for s in defs.schedules or []}, "sensors": {s.name for s in defs.sensors or []},
            "resources": set(defs.resources or {})}


def _component_dir(defs_folder: Path, name: str, attributes: dict) -> Path:
    folder = defs_folder / name
    folder.mkdir()
    (folder / "defs.yaml").write_text(yaml.safe_dump({"type": TYPE, "attributes": attributes}))
    return folder


def test_a_component_builds_what_build_definitions_builds(tmp_path):
    expected = _shape(build_definitions([MONTHLY], workdir=str(tmp_path / "w")))
    assert expected["schedules"] and expected["sensors"] and len(expected["checks"]) >= 6
    with create_defs_folder_sandbox() as sandbox:
        folder = _component_dir(sandbox.defs_folder_path, "monthly",
                                {"policy": str(MONTHLY), "workdir": str(tmp_path / "w")})
        with sandbox.load_component_and_build_defs(defs_path=folder) as (component, defs):
            assert isinstance(component, PolicyComponent)
            assert _shape(defs) == expected
            assert defs.resources["anon"].workdir == str(tmp_path / "w")


def test_the_policy_path_is_relative_to_the_defs_yaml_and_two_components_merge(tmp_path):
    with create_defs_folder_sandbox() as sandbox:
        for name in ("insurance_customers_k5", "flights_noise"):
            folder = _component_dir(sandbox.defs_folder_path, name, {"policy": "policy.yaml", "workdir": "out"})
            shutil.copy(ROOT / "policies" / f"{name}.yaml", folder / "policy.yaml")
        with sandbox.build_all_defs() as defs:
            groups = {key.path[0] for key in _shape(defs)["assets"]}
            assert groups == {"insurance_customers_k5", "flights_noise"}
            assert defs.resources["anon"].workdir == str((sandbox.project_root / "out").resolve())


def test_dg_scaffold_names_the_policy_relative_to_the_new_folder(tmp_path):
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.scaffold_component(component_cls=PolicyComponent, defs_path="customers",
                                            scaffold_params={"policy": str(MONTHLY)})
        written = yaml.safe_load((folder / "defs.yaml").read_text())
        assert written["type"].endswith(".PolicyComponent") and not Path(written["attributes"]["policy"]).is_absolute()
        assert (folder / written["attributes"]["policy"]).resolve() == MONTHLY.resolve()
        with sandbox.load_component_and_build_defs(defs_path=folder) as (_, defs):
            assert _shape(defs)["assets"] == _shape(build_definitions([MONTHLY], workdir=str(tmp_path)))["assets"]


def test_a_misspelt_attribute_is_refused_naming_it():
    with create_defs_folder_sandbox() as sandbox:
        folder = _component_dir(sandbox.defs_folder_path, "bad", {"polcy": str(MONTHLY)})
        with pytest.raises(Exception) as caught:
            with sandbox.load_component_and_build_defs(defs_path=folder):
                pass
    messages, error = [], caught.value
    while error is not None:  # Dagster wraps pydantic's error, which names the attribute
        messages.append(str(error))
        error = error.__cause__ or error.__context__
    text = "\n".join(messages)
    assert "attributes.polcy" in text and "Extra inputs are not permitted" in text and "attributes.policy" in text


def test_a_missing_policy_file_is_shown_as_a_policy_error_asset(tmp_path):
    with create_defs_folder_sandbox() as sandbox:
        folder = _component_dir(sandbox.defs_folder_path, "gone", {"policy": "nowhere.yaml", "workdir": "out"})
        with sandbox.load_component_and_build_defs(defs_path=folder) as (_, defs):
            (spec,) = defs.resolve_all_asset_specs()
            assert spec.key.path[0] == "policy_errors" and "nowhere.yaml" in spec.description


def test_the_example_dg_project_loads_both_policies(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANON_PIPELINE_WORKDIR", raising=False)
    try:
        defs = dg.load_from_defs_folder(project_root=EXAMPLE)
    finally:
        for module in [m for m in sys.modules if m.startswith("anon_dg_example")]:
            del sys.modules[module]
    assert {key.path[0] for key in _shape(defs)["assets"]} == {"insurance_customers_k5", "flights_noise"}
    assert defs.resources["anon"].workdir == str(tmp_path / "anon_output")


DG = shutil.which("dg", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(DG is None, reason="the dg CLI is not installed (pip install -e '.[dg]')")
def test_dg_check_yaml_and_list_defs_on_the_example_project(tmp_path):
    project = tmp_path / "dg_project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
           "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}

    def dg_run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([DG, *args], cwd=project, env=env, capture_output=True, text=True, timeout=300)

    for defs_yaml in project.glob("anon_dg_example/defs/*/defs.yaml"):  # the copy is elsewhere: absolute paths
        data = yaml.safe_load(defs_yaml.read_text())
        data["attributes"]["policy"] = str((EXAMPLE / defs_yaml.parent.relative_to(project) /
                                            data["attributes"]["policy"]).resolve())
        defs_yaml.write_text(yaml.safe_dump(data))
    ok = dg_run("check", "yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    listed = dg_run("list", "defs", "--json")
    assert listed.returncode == 0 and "insurance_customers_k5/release" in listed.stdout, listed.stderr

    bad = project / "anon_dg_example" / "defs" / "flights_noise"
    (bad / "defs.yaml").write_text((bad / "defs.yaml").read_text().replace("policy:", "polcy:"))
    refused = dg_run("check", "yaml", str(bad))
    assert refused.returncode != 0 and "'polcy' was unexpected" in refused.stdout + refused.stderr
