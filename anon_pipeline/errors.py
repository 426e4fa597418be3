"""Exception types the pipeline raises.

Every message names *where* (file, column, field) and *what rule* broke, with row counts, and never the
values of the data: errors end up in logs and Dagster's event store, which are outside the release.
"""

from __future__ import annotations

import errno as errno_names
import functools
from pathlib import Path


class AnonPipelineError(Exception):
    """Base class for every error this package raises on purpose.

    ``exit_code`` is what ``anon-pipeline`` exits with: 2 (bad policy, input or secrets) unless a subclass says
    otherwise (1 a blocking check failed, 3 the environment or a bug).
    """

    exit_code = 2
    #: The exception this one was made from, when ``typed_error`` wrapped another.
    original: BaseException | None = None


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
        #: The message without the file, column, rule and count that head it.
        self.detail = message
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
    first = f", the first at data row {problem['first_row']}" if problem.get("first_row") else ""
    # A rule of the file's columns holds for all its rows: the count is the file's, not of rows that break it.
    rows = f"all {problem['n_rows']} row(s) of the file" if problem.get("whole_file") else \
        f"{problem['n_rows']} row(s){first}"
    return f"column '{problem['column']}', rule '{problem['rule']}': {rows}" \
        + (f" (hint: {problem['hint']})" if problem.get("hint") else "")


class RawSchemaError(InputDataError):
    """Several rules of the raw schema are broken at once: one error listing each (column, rule, row count)."""

    def __init__(self, file: str | Path | None, problems: list[dict]) -> None:
        self.problems = list(problems)
        lines = [problem_text(p) for p in self.problems]
        first = self.problems[0] if self.problems else {}
        super().__init__(file, f"{len(self.problems)} rule(s) of the raw schema broken:\n  " + "\n  ".join(lines))
        # The first problem's, for callers that read one (the heading leaves them to the lines that follow it).
        self.column, self.rule, self.n_rows = first.get("column"), first.get("rule"), first.get("n_rows")


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

    exit_code = 1

    def __init__(self, policy: str, failures: dict[str, str]) -> None:
        self.policy = policy
        self.failures = dict(failures)
        listed = "; ".join(f"{name}: {why}" for name, why in failures.items())
        super().__init__(f"policy '{policy}': blocking check(s) failed, nothing released: {listed}")


class RunEnvironmentError(AnonPipelineError):
    """The machine refused an operation (disk full, permission denied, not a directory, out of memory).

    Neither the policy nor the data are at fault, so the CLI exits 3 (not 2): a script should not reject the
    input because of it. Names the path, the errno and where it was raised, never file contents.
    """

    exit_code = 3

    def __init__(self, message: str, *, path: str | None = None, errno_name: str | None = None,
                 where: str | None = None,
                 advice: str = "free space or fix the permissions or path, then run again") -> None:
        self.path = path
        self.errno_name = errno_name
        self.where = where
        text = f"environment error: {message}"
        if errno_name:
            text += f" ({errno_name})"
        if path:
            text += f": {path}"
        if where:
            text += f" [in {where}]"
        super().__init__(f"{text}; {advice}")


class InternalError(AnonPipelineError):
    """An unexpected exception, reported by its type and where it was raised only.

    Its own message is left out on purpose: pandas and pyarrow quote cell values in theirs. The original is kept
    in ``original`` (not chained, so a default traceback does not print it) for ``--debug``.
    """

    exit_code = 3

    def __init__(self, exc_type: str, where: str | None) -> None:
        self.exc_type = exc_type
        self.where = where
        super().__init__(f"internal error: {exc_type}" + (f" raised in {where}" if where else "")
                         + "; this is a bug: run again with --debug for the traceback (it may show data values)")


def _raised_where(exc: BaseException) -> str | None:
    """``module.function`` of the innermost frame, and of the innermost frame of this package if it differs."""
    ours = last = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        module, function = frame.f_globals.get("__name__", "?"), frame.f_code.co_name
        name = function if function.startswith(module + ".") else f"{module}.{function}"  # Cython names qualify
        last = name
        if name.startswith("anon_pipeline."):
            ours = name
        tb = tb.tb_next
    if ours is None or ours == last:
        return last
    return f"{last} (called from {ours})"


def typed_error(exc: BaseException) -> AnonPipelineError:
    """The typed error to report for ``exc``: itself when it is one, else an environment or internal error.

    The result carries ``original`` (the exception it stands for) and the message names no data value.
    """
    if isinstance(exc, AnonPipelineError):
        return exc
    where = _raised_where(exc)
    if isinstance(exc, MemoryError):
        error: AnonPipelineError = RunEnvironmentError("out of memory", where=where,
                                                        advice="use a smaller input or more memory")
    elif isinstance(exc, OSError) and exc.errno is not None:
        error = RunEnvironmentError(exc.strerror or type(exc).__name__,
                                    path=" -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
                                    or None,
                                    errno_name=errno_names.errorcode.get(exc.errno), where=where)
    else:
        error = InternalError(type(exc).__name__, where)
    error.original = exc
    return error


def raises_typed(func):
    """Decorator: whatever ``func`` raises leaves it as an ``AnonPipelineError`` (see ``typed_error``)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AnonPipelineError:
            raise
        except Exception as exc:
            raise typed_error(exc) from None

    return wrapper


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
            f"epsilon={requested_epsilon:g}; the total would be epsilon={after_epsilon:.6g}, delta={after_delta:.3g} "
            "(spends compose as zCDP at the budget's delta, so the total can be less than their sum)")
