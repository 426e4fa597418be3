"""The identifier ops: pseudonyms, GUIDs and the contract table, masking, e-mail domain, phone area code."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from pydantic import ValidationError

from anon_pipeline.errors import PolicyError, TransformError
from anon_pipeline.policy.load import bind_steps
from anon_pipeline.policy.model import Policy
from anon_pipeline.transforms import identifiers as idops
from anon_pipeline.transforms.registry import FitContext, get_op

CTX = FitContext(column="customer_id", seed=7)
KEY_A = "a" * 16 + "0123456789abcdef0123456789abcdef"
KEY_B = "b" * 16 + "0123456789abcdef0123456789abcdef"


def pseudonymise(values: pd.Series, **params) -> pd.Series:
    op = idops.Pseudonym(idops.PseudonymParams(**{"key_env": "PSEUDO_KEY", **params}))
    return op.apply(values, op.fit(values, CTX), CTX)


@pytest.fixture
def key_a(monkeypatch):
    monkeypatch.setenv("PSEUDO_KEY", KEY_A)


# ---- pseudonym ----------------------------------------------------------------------------------------------
def test_pseudonym_is_plain_hmac_sha256_rfc4231_vector(monkeypatch):
    # RFC 4231 test case 1: key = 20 bytes of 0x0b, data = "Hi There".
    monkeypatch.setenv("PSEUDO_KEY", "\x0b" * 20)
    out = pseudonymise(pd.Series(["Hi There"]), length=64, prefix_key_id=False)
    assert out.iloc[0] == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"


def test_pseudonym_stable_across_runs_for_one_key(key_a):
    values = pd.Series(["ZZ 19 48 92 T", "ZZ 753513 T", "ZZ 19 48 92 T"])
    first = pseudonymise(values)
    second = pseudonymise(values.iloc[::-1].reset_index(drop=True))  # another run, other order
    assert first.iloc[0] == first.iloc[2] != first.iloc[1]
    assert list(second) == list(first.iloc[::-1])
    assert all(re.fullmatch(r"k1_[0-9a-f]{16}", t) for t in first)


def test_pseudonym_differs_for_another_key(monkeypatch):
    values = pd.Series([f"id-{i}" for i in range(200)])
    monkeypatch.setenv("PSEUDO_KEY", KEY_A)
    a = pseudonymise(values, prefix_key_id=False)
    monkeypatch.setenv("PSEUDO_KEY", KEY_B)
    b = pseudonymise(values, prefix_key_id=False)
    assert not set(a) & set(b)


def test_pseudonym_key_id_length_and_context(key_a):
    values = pd.Series(["x1", "x2"])
    out = pseudonymise(values, key_id="2026-q4", length=10)
    assert all(re.fullmatch(r"2026-q4_[0-9a-f]{10}", t) for t in out)
    # The same key under another context gives unrelated tokens (no linking across purposes).
    assert not set(pseudonymise(values, context="billing")) & set(pseudonymise(values, context="claims"))


def test_pseudonym_keeps_nulls_null(key_a):
    out = pseudonymise(pd.Series(["a", None, "b"]))
    assert out.isna().tolist() == [False, True, False]


def test_pseudonym_refuses_a_literal_key_in_params():
    with pytest.raises(ValidationError, match="environment variable"):
        idops.PseudonymParams.model_validate({"key_env": "PSEUDO_KEY", "key": KEY_A})
    for pasted in ("f9c24e6a8b0d1f3e5a7c9e1b3d5f7a9c", "F9C24E6A8B0D1F3E5A7C9E1B3D5F7A9C"):
        with pytest.raises(ValidationError, match="looks like a key"):
            idops.PseudonymParams.model_validate({"key_env": pasted})
    assert idops.PseudonymParams(key_env="ANON_PIPELINE_PSEUDONYM_KEY_2026_Q4_CUSTOMERS").key_env
    with pytest.raises(ValidationError, match="NAME of an environment variable"):
        idops.PseudonymParams.model_validate({"key_env": "gAAAAAB-x+y/z=="})


def test_policy_with_a_pasted_key_fails_at_load_naming_the_column():
    policy = Policy.model_validate({
        "name": "p", "seed": 1,
        "columns": {"nino": {"role": "identifier",
                             "steps": [{"op": "pseudonym", "key_env": "PSEUDO_KEY", "secret": "hunter2"}]}},
    })
    with pytest.raises(PolicyError, match=r"column 'nino'.*environment variable"):
        bind_steps(policy)


def test_identifier_ops_are_allowed_on_identifiers_in_a_policy():
    ops = {"a": ("pseudonym", {"key_env": "K"}), "b": ("mask", {"n": 2}), "c": ("email_domain", {}),
           "d": ("uk_phone_area_code", {})}
    policy = Policy.model_validate({
        "name": "p", "seed": 1,
        "columns": {name: {"role": "identifier", "steps": [{"op": op, **params}]} for name, (op, params) in ops.items()},
    })
    columns, _ = bind_steps(policy)
    assert [step.op_name for steps in columns.values() for step in steps] == [op for op, _ in ops.values()]
    assert all(get_op(op).allowed_on_identifiers for op, _ in ops.values())


def test_pseudonym_missing_or_short_secret_is_a_clear_error(monkeypatch):
    values = pd.Series(["Lorraine Reed"])
    with pytest.raises(TransformError, match=r"PSEUDO_KEY.*not set") as err:
        pseudonymise(values)
    assert "Lorraine" not in str(err.value)
    monkeypatch.setenv("PSEUDO_KEY", "short")
    with pytest.raises(TransformError, match="shorter than 16 bytes"):
        pseudonymise(values)


def test_pseudonym_refuses_a_plan_fitted_with_another_key(monkeypatch):
    values = pd.Series(["a"])
    op = idops.Pseudonym(idops.PseudonymParams(key_env="PSEUDO_KEY"))
    monkeypatch.setenv("PSEUDO_KEY", KEY_A)
    plan = op.fit(values, CTX)
    assert KEY_A not in str(plan)
    monkeypatch.setenv("PSEUDO_KEY", KEY_B)
    with pytest.raises(TransformError, match="not the key this plan was fitted with"):
        op.apply(values, plan, CTX)


def test_pseudonym_reports_collisions_instead_of_merging_people(key_a):
    # 8 hex characters = 32 bits: among 200,000 distinct values a few collide (birthday bound ~4.7 expected);
    # the key and values are fixed, so this is deterministic.
    values = pd.Series([f"person-{i}" for i in range(200_000)])
    with pytest.raises(TransformError, match=r"\d+ token collision\(s\) at length 8"):
        pseudonymise(values, length=8)


# ---- mask -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "expected"), [
    ({}, ["******9876", "****", "**", None]),                                   # keep last 4, "*"
    ({"keep": "first", "n": 3, "mask_char": "#"}, ["077#######", "123#", "##", None]),
    ({"n": 0, "mask_char": "x"}, ["xxxxxxxxxx", "xxxx", "xx", None]),
])
def test_mask_keeps_first_or_last_n_and_hides_short_values_whole(params, expected):
    values = pd.Series(["0770099876", "1234", "ab", None])
    out = idops.Mask(idops.MaskParams(**params)).apply(values, {}, CTX)
    assert [None if pd.isna(v) else v for v in out] == expected


def test_mask_char_must_be_one_character():
    with pytest.raises(ValidationError):
        idops.MaskParams(mask_char="**")


# ---- e-mail domain ------------------------------------------------------------------------------------------
def test_email_domain_keeps_only_the_lower_case_domain():
    values = pd.Series(["Jane.Doe@Example.ORG", " bob@mail.co.uk ", None])
    out = idops.EmailDomain(idops.EmailDomain.Params()).apply(values, {}, CTX)
    assert out.tolist()[:2] == ["example.org", "mail.co.uk"] and pd.isna(out.iloc[2])


def test_email_domain_invalid_values_are_counted_never_shown():
    values = pd.Series(["jane@example.org", "not-an-address", "john@localhost", "x@y@z.com"])
    with pytest.raises(TransformError, match=r"3 row\(s\).*not an e-mail address") as err:
        idops.EmailDomain(idops.EmailDomain.Params()).apply(values, {}, CTX)
    assert not any(v in str(err.value) for v in values)
    blanked = idops.EmailDomain(idops.EmailDomain.Params(on_invalid="null")).apply(values, {}, CTX)
    assert blanked.notna().tolist() == [True, False, False, False]


# ---- UK phone area code ---------------------------------------------------------------------------------------
def test_uk_phone_area_code_from_every_spelling():
    values = pd.Series(["(07700) 900876", "+44(0)7700 900 032", "+447700900381", "020 7946 0018",
                        "+44 113 496 0000", "0161 496 0000", "028 9018 0000", "01632 960000",
                        "+4428 9018723", "(029)2018359", None])   # the last two a digit short, as Faker makes them
    out = idops.UkPhoneAreaCode(idops.PhoneParams()).apply(values, {}, CTX)
    assert out.tolist()[:10] == ["07700", "07700", "07700", "020", "0113", "0161", "028", "01632", "028", "029"]
    assert pd.isna(out.iloc[10])


def test_uk_phone_scientific_notation_and_foreign_numbers_are_errors():
    values = pd.Series(["7.7009e+09", "+33 1 23 45 67 89", "0113 496 0000"])
    with pytest.raises(TransformError, match=r"2 row\(s\).*not a well-formed GB phone number") as err:
        idops.UkPhoneAreaCode(idops.PhoneParams()).apply(values, {}, CTX)
    assert "7.7009" not in str(err.value)


def test_uk_phone_require_valid_rejects_unallocated_drama_numbers():
    values = pd.Series(["07700 900876", "0113 496 0000"])
    out = idops.UkPhoneAreaCode(idops.PhoneParams(require_valid=True, on_invalid="null")).apply(values, {}, CTX)
    assert pd.isna(out.iloc[0]) and out.iloc[1] == "0113"


def test_uk_phone_area_code_on_the_coursework_table(insurance_csv):
    phones = pd.read_csv(insurance_csv, dtype=str)["phone_number"]
    out = idops.UkPhoneAreaCode(idops.PhoneParams()).apply(phones, {}, CTX)
    # Every number in document A's table is in Ofcom's 07700 900xxx range reserved for fiction.
    assert out.value_counts().to_dict() == {"07700": 1000}
