"""Identifier ops: the only ops allowed on direct identifiers, each keeping a safe form or a pseudonym.

- ``pseudonym``: a keyed HMAC-SHA256 token; the secret comes from an environment variable the policy names,
  never from the policy itself; the same value and key give the same token in every run (releases can be
  linked on purpose), another key gives unrelated tokens; a key id makes rotation visible.
- ``mask``: keep the first or last n characters, the rest replaced by a mask character.
- ``email_domain`` and ``uk_phone_area_code``: keep only the safe part of an e-mail address or a phone number.

The per-run random GUID of Borisov, Bosov and Ivanov (2023) is not an op: the qi table gives every row one (and the
contract table), see ``pipeline.qi_table``. Errors name the column, the op, the rule and how many rows break
it, never a value.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import phonenumbers
from pydantic import Field, field_validator, model_validator

from anon_pipeline.errors import TransformError
from anon_pipeline.transforms.registry import ColumnOp, FitContext, FitNeeds, OpParams, register_op

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Parameter names someone might use to paste a secret straight into a policy.
_SECRET_FIELDS = ("key", "secret", "hmac_key", "password", "salt", "pepper", "key_value")
#: A real environment variable name is word-like; 32+ characters with digits and either no underscore or
#: lower-case letters mixed in (hex, base32, base64-ish) is a key pasted in its place.
_LOOKS_LIKE_KEY = re.compile(r"^(?=.{32,}$)(?=.*\d)(?:[A-Za-z0-9]+|(?=.*[a-z]).*)$")


def _as_text(values: pd.Series) -> pd.Series:
    """Values as strings with nulls kept as nulls (numbers read from a CSV become their text form)."""
    return values.astype("str").where(values.notna())


def _take(per_unique: Sequence[str | None], codes: np.ndarray, values: pd.Series) -> pd.Series:
    """Spread one result per distinct value (from ``pd.factorize``) back over the rows; code -1 (null) -> null."""
    table = np.array([*per_unique, None], dtype=object)
    return pd.Series(table[codes], index=values.index, name=values.name, dtype="str")


def _count_failure(column: str, op: str, bad: pd.Series, rule: str, on_invalid: str) -> None:
    n_bad = int(bad.sum())
    if n_bad and on_invalid == "error":
        raise TransformError(column, op, f"{rule}; set on_invalid: null to blank them instead", n_rows=n_bad)


class IdentifierOp(ColumnOp):
    """Base of the ops a policy may put on a direct identifier: each row's output is its own value's (keyed or
    masked), so they run on any batch alone."""

    allowed_on_identifiers = True
    fit_needs = FitNeeds.NOTHING
    row_local = True


# ---- keyed pseudonyms -------------------------------------------------------------------------------
class PseudonymParams(OpParams):
    #: Name of the environment variable holding the secret (not the secret itself).
    key_env: str
    #: A label for the key, recorded in the plan and (by default) prefixed to every token, so tokens made with
    #: a rotated key are told apart from old ones.
    key_id: str = Field("k1", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    #: Hex characters kept from the HMAC (16 = 64 bits: collisions are detected and reported, not silent).
    length: int = Field(16, ge=8, le=64)
    prefix_key_id: bool = True
    #: Mixed into the message so one key gives unrelated tokens for different purposes; empty = link freely.
    context: str = ""

    @model_validator(mode="before")
    @classmethod
    def _no_literal_secret(cls, data: Any) -> Any:
        if isinstance(data, dict):
            pasted = [f for f in _SECRET_FIELDS if f in data]
            if pasted:
                raise ValueError(f"a secret may not be written in a policy (field(s) {pasted}); put it in an "
                                 "environment variable and name that variable in key_env")
        return data

    @field_validator("key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError("key_env must be the NAME of an environment variable (letters, digits, "
                             "underscores), not the key")
        if _LOOKS_LIKE_KEY.match(value):
            raise ValueError("key_env looks like a key rather than the name of an environment variable; put the "
                             "key in an environment variable and name that variable here")
        return value


def _hmac_key(params: PseudonymParams, column: str, op: str) -> bytes:
    secret = os.environ.get(params.key_env)
    if not secret:
        raise TransformError(column, op, f"environment variable {params.key_env} (named by key_env) is not set "
                             "or empty; it must hold the pseudonym secret")
    if len(secret.encode()) < 16:
        raise TransformError(column, op, f"the secret in {params.key_env} is shorter than 16 bytes; use at least 32 "
                             "random bytes, e.g. from `python -c 'import secrets; print(secrets.token_hex(32))'`")
    return secret.encode()


def _hmac_hex(keyed: hmac.HMAC, value: str) -> str:
    h = keyed.copy()
    h.update(value.encode())
    return h.hexdigest()


def _key_fingerprint(key: bytes) -> str:
    # Public: lets a replayed plan notice a different key without storing anything that helps guess it.
    return hashlib.sha256(b"anon_pipeline pseudonym key\x00" + key).hexdigest()[:12]


@register_op("pseudonym")
class Pseudonym(IdentifierOp):
    """HMAC-SHA256(key, [context NUL] value) in hex, truncated to ``length``; nulls stay null."""

    Params = PseudonymParams
    params: PseudonymParams
    pseudonymising = True

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        key = _hmac_key(self.params, ctx.column, self.name)
        return {"key_id": self.params.key_id, "key_fingerprint": _key_fingerprint(key)}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        key = _hmac_key(self.params, ctx.column, self.name)
        if plan.get("key_fingerprint") not in (None, _key_fingerprint(key)):
            raise TransformError(ctx.column, self.name, f"the key in {self.params.key_env} is not the key this plan "
                                 f"was fitted with (key id {plan.get('key_id')}); tokens would not link")
        text = _as_text(values)
        codes, uniques = pd.factorize(text, use_na_sentinel=True)
        prefix = (self.params.key_id + "_") if self.params.prefix_key_id else ""
        # Without a context the message is the value alone, so a token is plain HMAC-SHA256(key, value).
        context = self.params.context.encode() + b"\x00" if self.params.context else b""
        n = self.params.length
        # One HMAC per distinct value, then a vectorised take: identifiers are mostly unique, but repeats are free.
        keyed = hmac.new(key, context, hashlib.sha256)   # copying a keyed state skips re-deriving the key pads
        tokens = [prefix + _hmac_hex(keyed, str(u))[:n] for u in uniques.tolist()]
        n_coll = len(tokens) - len(set(tokens))
        if n_coll:
            raise TransformError(ctx.column, self.name, f"{n_coll} token collision(s) at length {n}; raise length",
                                 n_rows=n_coll)
        return _take(tokens, codes, values)


# ---- masking ------------------------------------------------------------------------------------------
class MaskParams(OpParams):
    keep: Literal["first", "last"] = "last"
    n: int = Field(4, ge=0)
    mask_char: str = Field("*", min_length=1, max_length=1)


@register_op("mask")
class Mask(IdentifierOp):
    """Keep the first or last ``n`` characters; values no longer than ``n`` are masked whole (else they would leak)."""

    Params = MaskParams
    params: MaskParams

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        p = self.params
        text = _as_text(values).astype("str")
        n = p.n
        if n == 0:
            pattern = r"."
        elif p.keep == "last":
            pattern = rf".(?=.{{{n}}})"    # every character still followed by n characters
        else:
            pattern = rf"(?<=.{{{n}}})."   # every character preceded by n characters
        masked = text.str.replace(pattern, p.mask_char, regex=True, flags=re.DOTALL)
        short = text.str.len() <= n
        masked = masked.mask(short, text.str.replace(r".", p.mask_char, regex=True, flags=re.DOTALL))
        return masked.where(values.notna()).rename(values.name)


# ---- safe parts: e-mail domain, phone area code ------------------------------------------------------------
class _SafePartParams(OpParams):
    #: What to do with values that do not parse: fail the run (default) or blank them.
    on_invalid: Literal["error", "null"] = "error"


_EMAIL = r"^\s*[^@\s]+@([^@\s]+\.[^@\s]+?)\.?\s*$"


@register_op("email_domain")
class EmailDomain(IdentifierOp):
    """``name@Example.org`` -> ``example.org`` (lower case); values without a valid domain are errors or null."""

    Params = _SafePartParams
    params: _SafePartParams

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        domain = _as_text(values).str.extract(_EMAIL, expand=False).str.lower()
        _count_failure(ctx.column, self.name, domain.isna() & values.notna(),
                       "value is not an e-mail address with a domain", self.params.on_invalid)
        return domain.astype("str").where(domain.notna()).rename(values.name)


class PhoneParams(_SafePartParams):
    #: Also accept numbers in reserved ranges (e.g. Ofcom's 07700 900xxx drama numbers) that are well-formed
    #: but not allocated; ``true`` accepts only numbers libphonenumber knows to be allocated.
    require_valid: bool = False
    region: str = Field("GB", pattern=r"^[A-Z]{2}$")


def _area_code(text: str, region: str, require_valid: bool) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    ok = phonenumbers.is_valid_number(number) if require_valid else phonenumbers.is_possible_number(number)
    if not ok or number.country_code != phonenumbers.country_code_for_region(region):
        return None
    nsn = phonenumbers.national_significant_number(number)
    ndc = phonenumbers.length_of_national_destination_code(number)
    if ndc <= 0:
        # A number a digit or two short of any allocated length (common in generated data, e.g. "028 9018 723")
        # has no format, but its area code depends only on its leading digits: ask about the padded number.
        for pad in ("0", "00"):
            padded = phonenumbers.parse(nsn + pad, region)
            if phonenumbers.is_valid_number(padded):
                ndc = phonenumbers.length_of_national_destination_code(padded)
                break
    if ndc <= 0:
        return None
    prefix = phonenumbers.ndd_prefix_for_region(region, True) or ""
    return prefix + nsn[:ndc]


@register_op("uk_phone_area_code")
class UkPhoneAreaCode(IdentifierOp):
    """A UK number -> its area (national destination) code with the trunk 0: ``0113 496 0000`` -> ``0113``,
    ``+44 7700 900123`` -> ``07700``. Parsing uses libphonenumber's metadata (the ``phonenumbers`` package)."""

    Params = PhoneParams
    params: PhoneParams

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        p = self.params
        text = _as_text(values)
        codes, uniques = pd.factorize(text, use_na_sentinel=True)
        # libphonenumber parses one string at a time: parse each distinct value once, then take.
        out = _take([_area_code(str(u), p.region, p.require_valid) for u in uniques], codes, values)
        _count_failure(ctx.column, self.name, out.isna() & values.notna(),
                       f"value is not a {'valid' if p.require_valid else 'well-formed'} {p.region} phone number",
                       p.on_invalid)
        return out
