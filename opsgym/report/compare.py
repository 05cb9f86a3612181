"""``opsgym compare RUN_A RUN_B``: per env × agent × perturbation, how each metric moved, and whether it is noise.

Cells are matched by env, agent configuration and perturbation. The test is Welch's t-test on the episodes of each
cell (unequal variances, no pairing assumed: the two runs may have used different seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from opsgym.errors import RunConfigError
from opsgym.report.frame import GROUP, episodes_frame, score_columns
from opsgym.report.html import settled_records
from opsgym.report.stats import Welch, welch
from opsgym.runner.run import load_run

__all__ = ["Comparison", "compare_runs", "comparison_table"]


@dataclass(frozen=True)
class Comparison:
    cell: tuple[str, ...]
    metric: str
    mean_a: float
    mean_b: float
    test: Welch


def _frame(run_dir: str | Path) -> Any:
    _, records, _ = load_run(run_dir)
    if not records:
        raise RunConfigError(f"{run_dir} has no episode records to compare")
    frame = episodes_frame(settled_records(records)[0])
    return frame[frame["status"] != "infra_failure"]


def compare_runs(run_a: str | Path, run_b: str | Path, metrics: list[str] | None = None) -> list[Comparison]:
    """B − A for every metric in every cell both runs have (``reward``, the scores, ``fixed``, ``steps``,
    ``duration_s`` by default)."""
    a, b = _frame(run_a), _frame(run_b)
    default = ["reward", *[c for c in score_columns(a) if c in b.columns], "fixed", "steps", "duration_s"]
    wanted = [m if m in a.columns or m.startswith("metrics.") else f"metrics.{m}" for m in (metrics or default)]
    missing = [m for m in wanted if m not in a.columns or m not in b.columns]
    if missing:
        raise RunConfigError(f"metric(s) {', '.join(missing)} not in both runs; known: {', '.join(sorted(a.columns))}")
    groups_b = dict(list(b.groupby(GROUP)))
    out = []
    for cell, rows_a in a.groupby(GROUP):
        rows_b = groups_b.get(cell)
        if rows_b is None:
            continue
        for metric in wanted:
            x, y = rows_a[metric].astype(float), rows_b[metric].astype(float)
            out.append(Comparison(tuple(map(str, cell)), metric, float(x.mean()), float(y.mean()), welch(x, y)))
    if not out:
        raise RunConfigError(f"{run_a} and {run_b} share no env × agent × perturbation cell to compare")
    return out


def comparison_table(rows: list[Comparison], alpha: float = 0.05, title: str = "comparison") -> Table:
    table = Table(title=title, title_justify="left")
    for column in (*GROUP, "metric", "A", "B", "B − A", "p (Welch)", "n A/B", ""):
        table.add_column(column, justify="right" if column in ("A", "B", "B − A", "p (Welch)") else "left")
    for row in rows:
        t = row.test
        mark = "" if math.isnan(t.p) else ("[bold green]significant" if t.significant(alpha) and t.delta > 0 else
                                           "[bold red]significant" if t.significant(alpha) else "[dim]n.s.")
        table.add_row(*row.cell, row.metric.removeprefix("metrics."), f"{row.mean_a:.3f}", f"{row.mean_b:.3f}",
                      f"{t.delta:+.3f}", "–" if math.isnan(t.p) else f"{t.p:.3g}", f"{t.n_a}/{t.n_b}", mark)
    return table
