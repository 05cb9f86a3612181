"""What ``opsgym run`` shows: a live progress line while episodes run, and a summary table at the end."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from opsgym.record import EpisodeRecord

__all__ = ["RichDisplay", "summary_table"]


def _tokens(record: EpisodeRecord) -> int:
    s = record.llm_summary
    return int((s.get("prompt_tokens") or 0) + (s.get("completion_tokens") or 0))


class RichDisplay:
    """Episodes done/failed, ETA and — once an LLM agent has made calls — live tokens and cost."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            TextColumn("[green]{task.fields[ok]} ok[/] [yellow]{task.fields[agent]} agent-fail[/] "
                       "[red]{task.fields[infra]} infra-fail[/]{task.fields[llm]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self._task: Any = None
        self._counts: dict[str, Any] = {"ok": 0, "agent": 0, "infra": 0}  # Progress.update(**fields) takes Any
        self._tokens = 0
        self._cost = 0.0
        self._live: dict[str, tuple[int, float]] = {}

    def _llm_text(self) -> str:
        if not self._tokens and not self._cost:
            return ""
        return f" | {self._tokens:,} tokens ${self._cost:.4f}"

    def _refresh(self) -> None:
        self._progress.update(self._task, **self._counts, llm=self._llm_text())

    def start(self, total: int, done: int) -> None:
        self._task = self._progress.add_task("episodes", total=total, completed=done, ok=0, agent=0, infra=0, llm="")
        if done:
            self.console.print(f"resuming: {done} of {total} episodes already recorded")
        self._progress.start()

    def progress(self, key: str, data: dict[str, Any]) -> None:
        tokens, cost = self._live.get(key, (0, 0.0))
        self._live[key] = (tokens + int(data.get("tokens") or 0), cost + float(data.get("cost_usd") or 0.0))
        self._tokens += int(data.get("tokens") or 0)
        self._cost += float(data.get("cost_usd") or 0.0)
        self._refresh()

    def finished(self, record: EpisodeRecord, retrying: bool) -> None:
        live_tokens, live_cost = self._live.pop(record.spec.episode_key, (0, 0.0))
        self._tokens += _tokens(record) - live_tokens  # executors without live progress report at the end
        self._cost += float(record.llm_summary.get("cost_usd") or 0.0) - live_cost
        kind = {"completed": "ok", "agent_failure": "agent", "infra_failure": "infra"}[record.status]
        self._counts[kind] += 1
        if record.error is not None:
            verb = "retrying" if retrying else "giving up on"
            where = f"{record.spec.env_id} seed {record.spec.seed} agent {record.spec.label}"
            first_line = (record.error.message.splitlines() or [""])[0][:160]
            self.console.print(f"[{'red' if kind == 'infra' else 'yellow'}]{record.status}[/] {where}: "
                               f"{record.error.type}: {first_line}" + (f" ({verb} it)" if kind == "infra" else ""))
        if not retrying:
            self._progress.advance(self._task)
        self._refresh()

    def note(self, message: str) -> None:
        self.console.print(f"[bold yellow]{message}")

    def stop(self) -> None:
        self._progress.stop()


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def summary_table(records: list[EpisodeRecord], title: str = "summary") -> Table:
    """One row per env × agent × perturbation: how many ran, how they ended, mean reward and fix rate, cost.

    Columns that would say nothing (no perturbations, no LLM tokens) are left out so the table fits a terminal.
    """
    groups: dict[tuple[str, str, str], list[EpisodeRecord]] = defaultdict(list)
    for r in records:
        groups[(r.spec.env_id.removeprefix("opsgym/"), r.spec.label, r.spec.perturbation or "none")].append(r)
    with_perturbations = any(pert != "none" for _, _, pert in groups)
    with_llm = any(_tokens(r) for r in records)
    columns = ["env", "agent", *(["perturbation"] if with_perturbations else []), "episodes", "ok", "agent fail",
               "infra fail", "reward", "fixed", "steps", "time s", *(["tokens", "cost $"] if with_llm else [])]
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="left" if column in ("env", "agent", "perturbation") else "right")
    for (env, agent, pert), group in sorted(groups.items()):
        ok = [r for r in group if r.status == "completed"]
        scored = ok + [r for r in group if r.status == "agent_failure"]  # an agent's crash scores 0
        # as the HTML report counts it: an agent's crash fixed nothing; an env without an outcome says nothing
        fixed = [r.outcome.remediation_correct if r.outcome else 0.0 for r in scored
                 if r.outcome is not None or r.status == "agent_failure"]
        failed = {status: str(sum(r.status == status for r in group)) for status in ("agent_failure", "infra_failure")}
        row = [env, agent, *([pert] if with_perturbations else []), str(len(group)), str(len(ok)),
               failed["agent_failure"], failed["infra_failure"],
               _fmt(_mean([r.reward for r in scored])), _fmt(_mean(fixed) * 100, 0) + ("%" if fixed else ""),
               _fmt(_mean([len(r.steps) for r in ok]), 1), _fmt(_mean([r.duration_s for r in ok]), 2)]
        if with_llm:
            row += [f"{sum(_tokens(r) for r in group):,}",
                    f"{sum(float(r.llm_summary.get('cost_usd') or 0.0) for r in group):.4f}"]
        table.add_row(*row)
    return table
