"""``opsgym task check PATH|ID``: play the oracle, a do-nothing agent, the random agent and the anti-gaming probes
on a task over a few seeds and say whether its grader holds (exit 1 if not). The logic is :mod:`opsgym.taskcheck`;
this module only parses options and prints.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from opsgym.commands import console, err
from opsgym.commands.app import app

__all__ = ["task_app"]

task_app = typer.Typer(help="Tasks: check a grader, list the catalog.", no_args_is_help=True)
app.add_typer(task_app, name="task")


def _seeds(seeds: int | None, seed_range: str | None) -> list[int]:
    from opsgym.errors import OpsGymError
    from opsgym.taskcheck import parse_seed_range

    if seeds is not None and seed_range is not None:
        raise typer.BadParameter("use either --seeds or --seed-range, not both", param_hint="--seed-range")
    if seed_range is None:
        return list(range(seeds if seeds is not None else 3))
    try:
        return parse_seed_range(seed_range)
    except OpsGymError as exc:
        raise typer.BadParameter(str(exc), param_hint="--seed-range") from None


def _print(report: Any) -> None:
    gates = Table(title=f"{report.task_id}: what the reset gate saw", title_justify="left")
    for column in ("seed", "alert (first line)", "observed"):
        gates.add_column(column)
    for gate in report.gates:
        observed = gate.observed
        seen = gate.error or (", ".join(map(str, observed)) if isinstance(observed, list) else
                              "" if observed is None else json.dumps(observed))
        gates.add_row(str(gate.seed), escape(gate.alert), escape(seen))
    console.print(gates)
    kind = "control (no fault)" if report.control else "fault"
    rows = Table(title=f"{report.task_id} ({kind}) from {report.source}", title_justify="left")
    for column in ("seed", "agent / probe", "efficacy", "remediation", "failed checks", "verdict"):
        rows.add_column(column)
    for row in report.rows:
        verdict = "[green]ok[/green]" if row.ok else "[red]FAIL[/red]"
        failed = ", ".join(row.failed) or "-"
        rows.add_row(str(row.seed), row.agent, f"{row.efficacy:.2f}", f"{row.remediation:.2f}",
                     escape(failed + (f" ({row.notes})" if row.notes else "")), verdict)
    console.print(rows)


@task_app.command("check")
def check(task: str = typer.Argument(..., help="a task folder (registered or not) or a registered id, e.g. SRE-1"),
          seeds: int = typer.Option(None, "--seeds", min=1, help="check seeds 0..N-1 [3]"),
          seed_range: str = typer.Option(None, "--seed-range", help="check seeds A..B, both included, e.g. 0:4"),
          backend: str = typer.Option("sim", "--backend", help="cluster backend to play on"),
          as_json: bool = typer.Option(False, "--json", help="print the report as JSON instead of tables"),
          ) -> None:
    """Play the oracle (must reach TaskEfficacy 1.0, every check green), a do-nothing agent, the random agent and
    the anti-gaming probes (none may be marked fixed) over seeds; exit 1 on any failure."""
    from opsgym.errors import OpsGymError
    from opsgym.taskcheck import check_task, resolve_task

    seed_list = _seeds(seeds, seed_range)
    try:
        spec, source = resolve_task(task)
    except OpsGymError as exc:
        raise typer.BadParameter(str(exc), param_hint="TASK") from None

    def progress(row: Any) -> None:
        if not as_json:
            err.print(f"seed {row.seed} {row.agent}: {'ok' if row.ok else 'FAIL'}", highlight=False)

    try:
        report = check_task(spec, seed_list, backend=backend, source=source, progress=progress)
    except OpsGymError as exc:
        raise typer.BadParameter(str(exc), param_hint="TASK") from None
    if as_json:
        typer.echo(json.dumps({**dataclasses.asdict(report), "ok": report.ok, "failures": report.failures()},
                              indent=2))
    else:
        _print(report)
        for line in report.failures():
            console.print(f"[red]FAIL[/red] {escape(line)}", soft_wrap=True)
        if report.ok:
            console.print(f"[green]{report.task_id}: every check holds over seeds {seed_list}[/green]")
    if not report.ok:
        raise typer.Exit(1)


@task_app.command("catalog")
def catalog(domain: str = typer.Option("sre", "--domain", help="whose tasks to count"),
            markdown: bool = typer.Option(False, "--markdown", help="print the README's table")) -> None:
    """The catalog by fault family: how many tasks, of which difficulty, and their ids."""
    import opsgym  # noqa: F401  (registers the tasks)
    from opsgym.catalog import TIERS, families
    from opsgym.catalog import markdown as as_markdown

    if markdown:
        typer.echo(as_markdown(domain))
        return
    table = Table(title=f"{domain} tasks by family", title_justify="left")
    for column in ("family", "tasks", *TIERS, "symptom-only alerts", "ids"):
        table.add_column(column)
    for family in families(domain):
        table.add_row(family.name, str(len(family.ids)), *(str(family.tiers[t]) for t in TIERS),
                      str(family.symptom_alerts), ", ".join(family.ids))
    console.print(table)
