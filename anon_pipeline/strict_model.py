"""The pydantic base of everything a policy file configures, so that a slip in the YAML fails at load.

Pydantic's defaults weaken a release silently: ``k: true`` is read as k = 1, ``edges: [30, .nan]`` is accepted,
and a misspelt key is either kept (``extra="allow"``) or reported as the *missing* right key. ``StrictModel``
refuses, at any depth of its fields:

- a key it does not declare, naming the key and the closest declared one ("did you mean 'ceiling'?");
- ``true``/``false`` where a number is meant, and NaN or infinity;

and ``SafeName`` is a name that becomes a file name or a column header (output names, key tables).
Policy models, the ``privacy:`` targets and every op's ``Params`` (plugins included, through ``OpParams``)
derive from ``StrictModel``.
"""

from __future__ import annotations

import difflib
import unicodedata
from pathlib import PureWindowsPath
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, GetCoreSchemaHandler, model_validator
from pydantic_core import CoreSchema, PydanticCustomError
from pydantic_core import core_schema as cs

#: The error type of an unknown key; its context holds the key, so the policy loader can name its field path.
UNKNOWN_KEY = "unknown_key"
_NO_BOOL = "anon_pipeline_no_bool"


def closest(word: str, options: list[str]) -> str | None:
    """The option ``word`` most likely misspells (case-insensitive, so ``K`` suggests ``k``), or None."""
    lowered = {o.lower(): o for o in options}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def unknown_key_error(key: Any, valid: list[str]) -> PydanticCustomError:
    best = closest(str(key), valid)
    hint = f" (did you mean '{best}'?)" if best else f"; valid keys: {', '.join(valid)}"
    return PydanticCustomError(UNKNOWN_KEY, "unknown key '{key}'{hint}", {"key": str(key), "hint": hint})


def _refuse_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("bool_for_number", "a number is needed here, not true/false")
    return value


def _numbers_strict(node: Any) -> None:
    """Wrap every int/float schema in ``node`` so booleans are refused, and make floats refuse NaN and inf.

    Pydantic has no setting for "lax, but not about booleans"; its ``strict`` mode would also refuse ``5.0``
    for an int. Walking the core schema reaches numbers inside lists, dicts and unions too.
    """
    if isinstance(node, list):
        for item in node:
            _numbers_strict(item)
        return
    if not isinstance(node, dict) or (node.get("metadata") or {}).get(_NO_BOOL):
        return
    if node.get("type") in ("int", "float"):
        inner = {**node, "allow_inf_nan": False} if node["type"] == "float" else dict(node)
        node.clear()
        node.update(cs.no_info_before_validator_function(_refuse_bool, inner, metadata={_NO_BOOL: True}))
        return
    for key, value in node.items():
        if key not in ("serialization", "metadata"):
            _numbers_strict(value)


class StrictModel(BaseModel):
    """Unknown keys, booleans for numbers, NaN and infinity are errors (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.model_config.get("extra") == "forbid":
            valid = list(cls.model_fields)
            valid += [f.alias for f in cls.model_fields.values() if f.alias and f.alias not in valid]
            for key in data:
                if key not in valid:
                    raise unknown_key_error(key, valid)
        return data

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[BaseModel], handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        _numbers_strict(schema)
        return schema


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_name(value: str) -> str:
    """A name that is safe as a file name and as a spreadsheet column header, else ``ValueError`` saying why."""
    if not value.strip():
        raise ValueError("must not be empty")
    if "/" in value or "\\" in value or ".." in value:
        raise ValueError(f"'{value}' must not contain '/', '\\' or '..' (it becomes a file name)")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise ValueError("must not contain control characters or line breaks")
    if value.lstrip(" ").startswith(_FORMULA_START):
        raise ValueError(f"'{value}' must not start with =, +, -, @, a tab or a carriage return "
                         "(a spreadsheet reads it as a formula)")
    if PureWindowsPath(value).drive:
        raise ValueError(f"'{value}' must not name a drive (it becomes a file name)")
    return value


SafeName = Annotated[str, AfterValidator(safe_name)]
