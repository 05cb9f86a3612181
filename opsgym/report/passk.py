"""pass@k and pass^k over seeds: does an agent solve a task *sometimes*, or *every time*?

A mean score hides the difference between an agent that solves a task once in five seeds and one that solves it five
times in five; both can average 0.2 somewhere. Two estimators separate them, each computed from a task's ``n``
episodes (its seeds and repeats) of which ``c`` passed:

* **pass@k** = 1 − C(n−c, k) / C(n, k): the chance that at least one of k episodes drawn without replacement from the
  n passes — "can it solve this at all, given k tries?". The unbiased estimator of Chen et al. 2021 (the Codex paper,
  §2.1): computing 1 − (1 − c/n)^k instead is biased low for small n.
* **pass^k** = C(c, k) / C(n, k): the chance that all k drawn episodes pass — "can it be trusted to solve this k times
  in a row?" (τ-bench, Yao et al. 2024). It falls as k grows for any agent that is not perfectly reliable.

pass@1 = pass^1 = c/n. Both need 1 ≤ k ≤ n: with fewer episodes than k there is nothing to draw, and a value would be
an extrapolation, so :func:`pass_at_k` and :func:`pass_hat_k` refuse it. A suite's value is the mean over its tasks,
defined for a k only when every task ran at least k episodes (a mean over the tasks that happen to have enough would
quietly drop the others).

An episode **passes** when it is solved outright: TaskEfficacy 1 (the end state repaired, the answer right, no
penalty — what ``opsgym task check`` asks of the oracle). An agent's crash is a failed episode; an infrastructure
failure says nothing about the agent and is left out. The callable ``passed`` of :func:`summarize` can be swapped for
another rule (e.g. RemediationCorrect 1 alone).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

from opsgym.record import EpisodeRecord

__all__ = ["PassRow", "PassSummary", "pass_at_k", "pass_hat_k", "passk_table", "report_ks", "solved", "summarize"]

SOLVED_AT = 1.0 - 1e-9
"""TaskEfficacy at or above this is 1 (a weighted sum of ones may come out a rounding error short)."""
_KS = (1, 3, 5, 10)


def _check(n: int, c: int, k: int) -> None:
    if n < 1 or not 0 <= c <= n:
        raise ValueError(f"need n ≥ 1 episodes and 0 ≤ c ≤ n passed, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} is outside 1..n={n}: pass@k and pass^k draw k of the n episodes, so k cannot exceed "
                         "the episodes run (run more seeds, or ask for a smaller k)")


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 − C(n−c, k)/C(n, k): the chance that at least one of k episodes out of n (c passed) passes."""
    _check(n, c, k)
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """C(c, k)/C(n, k): the chance that all k episodes drawn out of n (c passed) pass."""
    _check(n, c, k)
    return math.comb(c, k) / math.comb(n, k)


def report_ks(max_n: int) -> list[int]:
    """The k a report shows: 1, 3, 5 and 10 where there are that many episodes, and the largest n itself."""
    return sorted({k for k in _KS if k <= max_n} | ({max_n} if max_n >= 1 else set()))


def solved(record: EpisodeRecord) -> bool | None:
    """The default pass rule (see the module docstring): None when the episode says nothing about the agent."""
    if record.status == "infra_failure":
        return None
    if record.status == "agent_failure":
        return False
    efficacy = record.metrics.get("TaskEfficacy")
    if not isinstance(efficacy, (int, float)) or isinstance(efficacy, bool) or not math.isfinite(efficacy):
        return None  # an env scored some other way (or a damaged record): no verdict rather than a made-up one
    return efficacy >= SOLVED_AT


@dataclass(frozen=True)
class PassRow:
    """One task, or one suite (the mean over its tasks), for one agent configuration and perturbation."""

    agent: str
    perturbation: str
    scope: str  # "task" or "suite"
    name: str
    tasks: int
    episodes: int
    passed: int
    pass_at: dict[int, float | None] = field(default_factory=dict)
    pass_hat: dict[int, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class PassSummary:
    ks: list[int]
    tasks: list[PassRow]
    suites: list[PassRow]

    @property
    def headers(self) -> list[str]:
        return ["agent", "perturbation", "scope", "name", "tasks", "episodes", "passed",
                *[f"pass@{k}" for k in self.ks], *[f"pass^{k}" for k in self.ks if k > 1]]

    def cells(self) -> list[list[str]]:
        """Every row as plain strings (unescaped: the HTML report escapes them), tasks before suites."""
        def fmt(value: float | None) -> str:
            return "–" if value is None else f"{value:.3f}"

        return [[r.agent, r.perturbation, r.scope, r.name, str(r.tasks), str(r.episodes), str(r.passed),
                 *[fmt(r.pass_at[k]) for k in self.ks], *[fmt(r.pass_hat[k]) for k in self.ks if k > 1]]
                for r in [*self.tasks, *self.suites]]


def _task_row(key: tuple[str, str], task: str, verdicts: list[bool], ks: list[int]) -> PassRow:
    n, c = len(verdicts), sum(verdicts)
    return PassRow(*key, "task", task, 1, n, c, {k: pass_at_k(n, c, k) if k <= n else None for k in ks},
                   {k: pass_hat_k(n, c, k) if k <= n else None for k in ks})


def _suite_row(key: tuple[str, str], name: str, rows: list[PassRow], ks: list[int]) -> PassRow:
    def mean(values: list[float | None]) -> float | None:
        return None if any(v is None for v in values) else sum(v for v in values if v is not None) / len(values)

    return PassRow(*key, "suite", name, len(rows), sum(r.episodes for r in rows), sum(r.passed for r in rows),
                   {k: mean([r.pass_at[k] for r in rows]) for k in ks},
                   {k: mean([r.pass_hat[k] for r in rows]) for k in ks})


def summarize(records: Iterable[EpisodeRecord],
              passed: Callable[[EpisodeRecord], bool | None] = solved) -> PassSummary:
    """pass@k and pass^k per task and per suite, for each agent configuration × perturbation.

    ``records`` are settled (one per episode: :func:`opsgym.report.html.settled_records`). A suite is an env id that
    ran more than one task (``opsgym/SRE-Lite``), plus ``all`` over every task of the run when its tasks came from
    several envs (``--env 'opsgym/SRE-*'``). ``passed`` judges an episode: True, False, or None to leave it out.
    """
    judged = [(r, v) for r in records if (v := passed(r)) is not None]
    # a suite's env learns its task from the outcome, which a crashed agent never got: the same env and seed ran the
    # same task for another agent or repeat; failing that, the crash stays in a row of its own, never dropped
    learned = {(r.spec.env_id, r.spec.seed): r.spec.task_id for r, _ in judged if r.spec.task_id}
    verdicts: dict[tuple[str, str], dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    envs: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for record, verdict in judged:
        key = (record.spec.label, record.spec.perturbation or "none")
        task = (record.spec.task_id or learned.get((record.spec.env_id, record.spec.seed))
                or f"{record.spec.env_id} (task unknown)")
        verdicts[key][task].append(verdict)
        envs[key][record.spec.env_id].add(task)
    ks = report_ks(max((len(v) for cell in verdicts.values() for v in cell.values()), default=0))
    tasks: list[PassRow] = []
    suites: list[PassRow] = []
    for key in sorted(verdicts):
        rows = {task: _task_row(key, task, v, ks) for task, v in sorted(verdicts[key].items())}
        tasks += rows.values()
        for env, names in sorted(envs[key].items()):
            if len(names) > 1:
                suites.append(_suite_row(key, env.removeprefix("opsgym/"), [rows[t] for t in sorted(names)], ks))
        if len(envs[key]) > 1 and len(rows) > 1:
            suites.append(_suite_row(key, "all", list(rows.values()), ks))
    return PassSummary(ks, tasks, suites)


def passk_table(records: Iterable[EpisodeRecord], title: str = "pass@k over seeds") -> Table | None:
    """The terminal's pass@k table, or None when no task ran twice (pass@1 alone is the fix rate already shown)."""
    summary = summarize(records)
    if not summary.tasks or max(r.episodes for r in summary.tasks) < 2:
        return None
    table = Table(title=f"{title} (pass: TaskEfficacy 1; pass@k: one of k passes, pass^k: all k pass)",
                  title_justify="left")
    for header in summary.headers:
        table.add_column(header, justify="left" if header in ("agent", "perturbation", "scope", "name") else "right")
    for row in summary.cells():
        table.add_row(*(Text(cell) for cell in row))  # record strings are text, never rich markup
    return table
