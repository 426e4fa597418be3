"""Exception types the pipeline raises.

Every message names *where* (file, column, field) and *what rule* broke, with row counts, and never the
values of the data: errors end up in logs and Dagster's event store, which are outside the release.
"""

from __future__ import annotations

from pathlib import Path


class AnonPipelineError(Exception):
    """Base class for every error this package raises on purpose."""


class PolicyError(AnonPipelineError):
    """A policy file is invalid: names the file, the column (when there is one) and the field."""

    def __init__(self, policy_file: str | Path | None, message: str, *, column: str | None = None,
                 field: str | None = None) -> None:
        self.policy_file = str(policy_file) if policy_file is not None else None
        self.column = column
        self.field = field
        where = [f"policy {self.policy_file}" if self.policy_file else "policy"]
        if column is not None:
            where.append(f"column '{column}'")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}")


class InputDataError(AnonPipelineError):
    """The input data break a rule: names the file, column, rule and how many rows break it."""

    def __init__(self, file: str | Path | None, message: str, *, column: str | None = None,
                 rule: str | None = None, n_rows: int | None = None, hint: str | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.column = column
        self.rule = rule
        self.n_rows = n_rows
        self.hint = hint
        parts = [f"input {self.file}" if self.file else "input"]
        if column is not None:
            parts.append(f"column '{column}'")
        if rule is not None:
            parts.append(f"rule '{rule}'")
        if n_rows is not None:
            parts.append(f"{n_rows} row(s)")
        text = f"{', '.join(parts)}: {message}"
        if hint:
            text += f" (hint: {hint})"
        super().__init__(text)


def problem_text(problem: dict) -> str:
    """One broken rule in words: column, rule, row count and the hint (never a data value)."""
    return (f"column '{problem['column']}', rule '{problem['rule']}': {problem['n_rows']} row(s)"
            + (f" (hint: {problem['hint']})" if problem.get("hint") else ""))


class RawSchemaError(InputDataError):
    """Several rules of the raw schema are broken at once: one error listing each (column, rule, row count)."""

    def __init__(self, file: str | Path | None, problems: list[dict]) -> None:
        self.problems = list(problems)
        lines = [problem_text(p) for p in self.problems]
        first = self.problems[0] if self.problems else {}
        super().__init__(file, f"{len(self.problems)} rule(s) of the raw schema broken:\n  " + "\n  ".join(lines),
                         column=first.get("column"), rule=first.get("rule"), n_rows=first.get("n_rows"))


class TransformError(AnonPipelineError):
    """A transform op cannot process its input: names the column, the op, the rule and the row count."""

    def __init__(self, column: str, op: str, message: str, *, n_rows: int | None = None) -> None:
        self.column = column
        self.op = op
        self.n_rows = n_rows
        count = f", {n_rows} row(s)" if n_rows is not None else ""
        super().__init__(f"column '{column}', op '{op}'{count}: {message}")


class BlockingCheckFailed(AnonPipelineError):
    """A blocking check failed, so nothing was released."""

    def __init__(self, policy: str, failures: dict[str, str]) -> None:
        self.policy = policy
        self.failures = dict(failures)
        listed = "; ".join(f"{name}: {why}" for name, why in failures.items())
        super().__init__(f"policy '{policy}': blocking check(s) failed, nothing released: {listed}")
