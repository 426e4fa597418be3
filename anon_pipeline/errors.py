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


class RawSchemaError(InputDataError):
    """Several rules of the raw schema are broken at once: one error listing each (column, rule, row count)."""

    def __init__(self, file: str | Path | None, problems: list[dict]) -> None:
        self.problems = list(problems)
        lines = [f"column '{p['column']}', rule '{p['rule']}': {p['n_rows']} row(s)"
                 + (f" (hint: {p['hint']})" if p.get("hint") else "") for p in self.problems]
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


class BudgetExceeded(AnonPipelineError):
    """A differentially private release would pass its dataset's privacy budget: refused before anything is
    written. Names the dataset, the budget, what is spent and what was requested."""

    def __init__(self, dataset_id: str, *, budget_epsilon: float, budget_delta: float, spent_epsilon: float,
                 requested_epsilon: float, after_epsilon: float, after_delta: float) -> None:
        self.dataset_id = dataset_id
        self.budget_epsilon = budget_epsilon
        self.budget_delta = budget_delta
        self.spent_epsilon = spent_epsilon
        self.requested_epsilon = requested_epsilon
        super().__init__(
            f"dataset '{dataset_id}': privacy budget exceeded, release refused and nothing written: budget "
            f"epsilon={budget_epsilon:g} (delta={budget_delta:g}), spent epsilon={spent_epsilon:.6g}, requested "
            f"epsilon={requested_epsilon:g}; the total would be epsilon={after_epsilon:.6g}, delta={after_delta:.3g}")
