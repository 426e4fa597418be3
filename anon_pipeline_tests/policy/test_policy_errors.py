"""Policy errors name the policy file, the column and the field."""

from pathlib import Path

import pytest
import yaml

from anon_pipeline.errors import PolicyError
from anon_pipeline.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "policies" / "insurance_customers.yaml"


def write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(BUNDLED.read_text())
    mutate(data)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_bundled_policy_loads():
    policy = load_policy(BUNDLED)
    assert policy.name == "insurance_customers"
    assert policy.k_quasi_identifiers == ["gender", "birthdate"]
    assert "given_name" in policy.identifiers and "given_name" not in policy.kept_columns


@pytest.mark.parametrize("mutate, column, field, text", [
    (lambda d: d["columns"]["weight"]["steps"][0].update(op="bandd"), "weight", "columns.weight.steps[0].op",
     "unknown op 'bandd' (did you mean 'band'?)"),
    (lambda d: d["columns"]["weight"]["steps"][0].update(edges=[5, 1]), "weight",
     "columns.weight.steps[0].params.edges", "strictly increasing"),
    (lambda d: d["columns"]["height"]["steps"][0].update(colour="red"), "height",
     "columns.height.steps[0].params.colour", "unknown key 'colour'"),
    (lambda d: d["columns"]["gender"].update(role="quasi"), "gender", "columns.gender.role", "Input should be"),
    (lambda d: d["columns"]["surname"].update(steps=[{"op": "band", "edges": [0, 1]}]), "surname",
     "columns.surname.steps[0].op", "may not process a direct identifier"),
    (lambda d: d["columns"]["current_country"].update(steps=[{"op": "encode"}]), "current_country",
     "columns.current_country.steps", "dropped column"),
])
def test_errors_name_file_column_and_field(tmp_path, mutate, column, field, text):
    path = write(tmp_path, mutate)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    err = info.value
    assert err.column == column and err.field == field
    message = str(err)
    assert str(path.resolve()) in message or str(path) in message
    assert f"column '{column}'" in message and text in message


def test_privacy_set_must_name_quasi_identifiers(tmp_path):
    path = write(tmp_path, lambda d: d["privacy"].update(quasi_identifiers=["gender", "blood_group"]))
    with pytest.raises(PolicyError, match="blood_group") as info:
        load_policy(path)
    assert info.value.field == "privacy.quasi_identifiers[1]"
    assert "role insensitive, not a quasi_identifier" in str(info.value)


def _group(d, columns):
    d["groups"] = [{"name": "g", "columns": columns, "steps": [{"op": "generalise", "k": 2, "hierarchies": {
        c: {"mask": 1} for c in columns}}]}]


@pytest.mark.parametrize("mutate, field, text", [
    # A misspelt attribute of an l target: at load, with the column it likely means (it used to fail after the
    # whole run as an internal error).
    (lambda d: d["privacy"].update(l={"l": 2, "attribute": "avg_n_drinks"}), "privacy.l[0].attribute",
     "'avg_n_drinks' is not a column of the policy (did you mean 'avg_n_drinks_per_week'?)"),
    # A quasi-identifier cannot be the attribute measured within the classes the quasi-identifiers form.
    (lambda d: d["privacy"].update(t={"t": 0.5, "attribute": "gender"}), "privacy.t[0].attribute",
     "'gender' is a column of role quasi_identifier"),
    (lambda d: d["privacy"].update(l=[{"l": 2}, {"l": 2, "attribute": "surname"}]), "privacy.l[1].attribute",
     "'surname' is a column of role identifier"),
    # No attribute and nothing sensitive to apply the target to.
    (lambda d: (d["privacy"].update(l={"l": 2}),
                [d["columns"][c].update(role="insensitive") for c in ("avg_n_drinks_per_week",
                                                                       "avg_n_cigret_per_week")]),
     "privacy.l[0]", "no column of role sensitive"),
    # A typo in columns: is found from the group that names the column as it was meant.
    (lambda d: (d["columns"].__setitem__("weigth", d["columns"].pop("weight")), _group(d, ["gender", "weight"])),
     "groups[0].columns[1]", "'weight' is not a column of the policy (did you mean 'weigth'?)"),
    (lambda d: _group(d, ["gender", "blood_group"]), "groups[0].columns[1]", "role insensitive, not a "
     "quasi-identifier or sensitive column"),
])
def test_columns_named_outside_columns_are_declared_with_a_fitting_role(tmp_path, mutate, field, text):
    path = write(tmp_path, mutate)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.field == field
    assert text in str(info.value) and "Value error" not in str(info.value)


def test_a_target_attribute_may_be_named_by_its_output_name(tmp_path):
    def mutate(d):
        d["columns"]["avg_n_drinks_per_week"]["output"] = "drinks"
        d["privacy"]["l"] = {"l": 2, "attribute": "drinks"}
    assert load_policy(write(tmp_path, mutate)).privacy.l[0].attribute == "drinks"


def test_a_validator_error_has_no_pydantic_prefix(tmp_path):
    def mutate(d):
        d["columns"]["weight"]["output"] = "height_band_m"
    with pytest.raises(PolicyError, match=r"share the output name\(s\) \['height_band_m'\]") as info:
        load_policy(write(tmp_path, mutate))
    assert "Value error" not in str(info.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(PolicyError, match="file not found"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML at line"):
        load_policy(bad)


def test_names_must_be_usable_as_asset_key_prefixes(tmp_path):
    path = write(tmp_path, lambda d: d.update(name="1 bad name"))
    with pytest.raises(PolicyError, match="field 'name'"):
        load_policy(path)


def _generalise(d, **params):
    d["groups"] = [{"name": "g", "columns": ["gender", "n_countries_visited"],
                    "steps": [{"op": "generalise", "k": 2, **params}]}]


@pytest.mark.parametrize("params, text", [
    # A group column without a hierarchy would be released as it is, unsearched.
    ({"hierarchies": {"gender": {"mask": 1}}}, "group column(s) ['n_countries_visited'] have no hierarchy"),
    ({"hierarchies": {"gender": {"mask": 1}, "n_countries_visited": {"mask": 1}, "postcode": {"mask": 1}}},
     "hierarchies names ['postcode'], not a column of the group (gender, n_countries_visited)"),
    ({"strategy": "mondrian", "columns": ["n_countries_visited", "height"]},
     "columns names ['height'], not a column of the group"),
    # A misspelt hierarchy file: named with the file it likely means, before any data is read.
    ({"hierarchies": {"gender": "hier/gendr.csv", "n_countries_visited": {"mask": 1}}},
     "hierarchies.gender: hierarchy file {dir}/hier/gendr.csv not found (did you mean 'gender.csv'?)"),
    ({"hierarchies": {"gender": "nowhere/gender.csv", "n_countries_visited": {"mask": 1}}},
     "the folder {dir}/nowhere does not exist"),
])
def test_generalise_is_checked_against_its_group_at_load(tmp_path, params, text):
    (tmp_path / "hier").mkdir()
    (tmp_path / "hier" / "gender.csv").write_text("F;*\nM;*\n")
    path = write(tmp_path, lambda d: _generalise(d, **params))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.field == "groups[0].steps[0].params"
    assert text.format(dir=tmp_path.resolve()) in str(info.value)


def test_a_generalise_group_loads_when_every_column_has_a_hierarchy(tmp_path):
    (tmp_path / "gender.csv").write_text("F;*\nM;*\n")
    path = write(tmp_path, lambda d: _generalise(d, hierarchies={"gender": "gender.csv",
                                                                 "n_countries_visited": {"mask": 1}}))
    assert load_policy(path).groups[0].columns == ["gender", "n_countries_visited"]


def test_a_hierarchy_op_names_its_missing_file_at_load(tmp_path):
    path = write(tmp_path, lambda d: d["columns"]["gender"].update(steps=[{"op": "hierarchy", "path": "g.csv",
                                                                           "level": 1}]))
    with pytest.raises(PolicyError, match=r"hierarchy file .*/g\.csv not found") as info:
        load_policy(path)
    assert (info.value.column, info.value.field) == ("gender", "columns.gender.steps[0].params")


def test_a_kde_group_names_only_its_own_columns_as_discrete(tmp_path):
    def mutate(d):
        d["groups"] = [{"name": "g", "columns": ["weight", "height"], "steps": [
            {"op": "kde_synthesis", "discrete": ["gender"]}]}]
    with pytest.raises(PolicyError, match=r"discrete names \['gender'\], not a column of the group") as info:
        load_policy(write(tmp_path, mutate))
    assert info.value.field == "groups[0].steps[0].params"


def test_an_empty_source_says_what_to_give(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: t\nseed: 1\nsource:\ncolumns:\n  a: {role: quasi_identifier}\n")
    with pytest.raises(PolicyError, match="is empty: give path: ") as info:
        load_policy(path)
    assert info.value.field == "source"
