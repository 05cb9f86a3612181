"""``opsgym run``, ``report``, ``compare`` and ``export``: evaluation runs, and what to do with their records."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from opsgym import plugins
from opsgym.commands import console, err
from opsgym.commands.app import app
from opsgym.errors import OpsGymError, RunConfigError

if TYPE_CHECKING:
    from opsgym.record import EpisodeRecord


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(2)


def _perturbations(values: list[str]) -> list[str | None]:
    """``none`` is the unperturbed baseline; ``all`` is the baseline plus every registered perturbation."""
    out: list[str | None] = []
    for value in values or ["none"]:
        names = [None, *sorted(plugins.entries("perturbation"))] if value == "all" else [
            None if value in ("none", "") else value]
        out += [n for n in names if n not in out]
    return out


def _options(values: list[str]) -> dict[str, object]:
    from opsgym.runner.plan import parse_agent

    return parse_agent("x:" + ",".join(values)).config if values else {}


@app.command("run")
def run_command(
    env: list[str] = typer.Option([], "--env", "-e", help="env id, glob or suite (repeatable): opsgym/SRE-1, "
                                                         "'opsgym/SRE-*', opsgym/SWE-Lite"),
    agent: list[str] = typer.Option([], "--agent", "-a", help="agent, with options: random:max_words=6 (repeatable)"),
    episodes: int = typer.Option(None, "--episodes", "-n", min=1, help="seeds per cell: --seed … --seed+N-1 [1]"),
    seed: int = typer.Option(0, "--seed", min=0, help="first seed when --episodes is used"),
    seeds: str = typer.Option(None, "--seeds", help="explicit seeds: '0-9', '0,3,7' (instead of --episodes)"),
    repeat: int = typer.Option(1, "--repeat", min=1, help="runs per (cell, seed), for stochastic agents"),
    perturbation: list[str] = typer.Option([], "--perturbation", "-p",
                                           help="perturbation (repeatable; 'none' = baseline, 'all' = every one)"),
    llm: list[str] = typer.Option([], "--llm", help="LLM backend for LLM agents, e.g. openai:http://127.0.0.1:8000/v1 "
                                                    "(repeatable: each is one inference configuration)"),
    llm_option: list[str] = typer.Option([], "--llm-option", help="backend option key=value (repeatable)"),
    backend: str = typer.Option(None, "--backend", help="backend of the envs' domain: a cluster (sim, kind, "
                                "kubeconfig) or a SWE sandbox (bwrap, unsafe-local)"),
    backend_option: list[str] = typer.Option([], "--backend-option",
                                             help="cluster backend option key=value (repeatable), e.g. keep=true"),
    max_steps: int = typer.Option(None, "--max-steps", min=1, help="override the task's step budget"),
    env_option: list[str] = typer.Option([], "--env-option", help="env keyword key=value (repeatable)"),
    out: Path = typer.Option(None, "--out", "-o", help="run directory [runs/<run id>]"),
    parallel: int = typer.Option(1, "--parallel", "-j", min=1, help="episodes at once (worker processes)"),
    executor: str = typer.Option("process", "--executor", help="process (this machine) or ray (a Ray cluster)"),
    ray_address: str = typer.Option(None, "--ray-address", help="Ray cluster address (default: RAY_ADDRESS/local)"),
    resume: bool = typer.Option(False, "--resume", help="finish the run in --out, skipping recorded episodes"),
    max_attempts: int = typer.Option(3, "--max-attempts", min=1, help="attempts per episode on infra failure"),
    observation_chars: int = typer.Option(16_384, "--observation-chars", min=0, help="first observation chars kept"),
    report: bool = typer.Option(True, "--report/--no-report", help="write report.html at the end"),
) -> None:
    """Run agents on envs over seeds and perturbations; one JSONL record per episode in the run directory."""
    from opsgym.runner import AgentSpec, RunPlan, execute, parse_agent, parse_seeds
    from opsgym.runner.plan import reads_terminal
    from opsgym.runner.progress import RichDisplay, summary_table
    from opsgym.runner.run import RUN_FILE

    try:
        if resume and not env:
            if out is None or not (out / RUN_FILE).exists():
                raise RunConfigError("--resume needs --out RUN_DIR of an earlier run (or the run's full options)")
            given = [flag for flag, value in (
                ("--agent", agent), ("--episodes", episodes), ("--seed", seed), ("--seeds", seeds),
                ("--repeat", repeat != 1), ("--perturbation", perturbation), ("--llm", llm),
                ("--llm-option", llm_option), ("--backend", backend), ("--backend-option", backend_option),
                ("--max-steps", max_steps), ("--env-option", env_option)) if value]
            if given:
                raise RunConfigError(f"--resume without --env finishes the run stored in {out / RUN_FILE} with its own "
                                     f"envs, agents, seeds and options, so {', '.join(given)} would be ignored: drop "
                                     "them, or start a different run with --env … and another --out")
            plan = RunPlan.model_validate_json((out / RUN_FILE).read_text())
        else:
            if not env:
                raise RunConfigError("name at least one --env, e.g. --env opsgym/SRE-1 (see `opsgym list`)")
            if seeds is not None and episodes is not None:
                raise RunConfigError("use either --seeds or --episodes/--seed, not both")
            seed_list = parse_seeds(seeds) if seeds is not None else list(range(seed, seed + (episodes or 1)))
            env_kwargs = _options(env_option) | {k: v for k, v in (("backend", backend), ("max_steps", max_steps))
                                                 if v is not None}
            if backend_option:
                env_kwargs["backend_options"] = _options(backend_option)
            plan = RunPlan(envs=env, seeds=seed_list, repeats=repeat, perturbations=_perturbations(perturbation),
                           agents=[parse_agent(a) for a in agent] or [AgentSpec(name="oracle")], llms=llm,
                           llm_config=_options(llm_option), env_kwargs=env_kwargs)
        # execute() refuses what cannot run in parallel (the human agent, a shared cluster): see runner.plan
        human = any(reads_terminal(a) for a in plan.agents)
        run_dir = out or Path("runs") / plan.run_id
        result = execute(plan, run_dir, executor=executor, parallel=parallel if executor == "process" or parallel > 1
                         else None, resume=resume, max_attempts=max_attempts, observation_chars=observation_chars,
                         display=None if human else RichDisplay(err),  # a live bar would garble the prompts
                         ray_address=ray_address)
    except OpsGymError as exc:
        raise _fail(exc) from None
    console.print(summary_table(result.records, title=f"{run_dir}: {len(result.records)}/{result.planned} episodes"))
    _print_passk(result.records)
    console.print(f"records: {run_dir / 'records.jsonl'}")
    if report and result.records:
        _auto_report(run_dir)
    if result.interrupted:
        err.print(f"interrupted: {result.missing} episode(s) not run; continue with "
                  f"`opsgym run --resume --out {run_dir}`")
        raise typer.Exit(130)
    if any(r.status == "infra_failure" for r in result.records):
        err.print("[red]some episodes failed for infrastructure reasons after every attempt (see above)")
        raise typer.Exit(3)


def _print_passk(records: list[EpisodeRecord]) -> None:
    """pass@k and pass^k per task and suite, when some task ran more than one episode."""
    from opsgym.report.passk import passk_table

    table = passk_table(records)
    if table is not None:
        console.print(table)


def _auto_report(run_dir: Path) -> None:
    try:
        from opsgym.report import write_report
    except ImportError:
        err.print("(no report: install the report extra, pip install 'opsgym[report]')")
        return
    try:
        path = write_report(run_dir)
    except OpsGymError as exc:  # e.g. no readable record: the run's own outcome still stands
        err.print(f"(no report: {exc})")
        return
    console.print(f"report: {path}")


@app.command("report")
def report_command(
    run_dir: Path = typer.Argument(..., help="a run directory written by `opsgym run`"),
    out: Path = typer.Option(None, "--out", "-o", help="HTML file [RUN_DIR/report.html]"),
) -> None:
    """Write a self-contained HTML report (tables, charts, per-episode drill-down) for a run."""
    from opsgym.report import write_report
    from opsgym.report.html import settled_records
    from opsgym.runner import load_run

    try:
        path = write_report(run_dir, out)
    except OpsGymError as exc:
        raise _fail(exc) from None
    _print_passk(settled_records(load_run(run_dir)[1])[0])
    console.print(f"report: {path}")


@app.command("compare")
def compare_command(
    run_a: Path = typer.Argument(..., help="baseline run directory"),
    run_b: Path = typer.Argument(..., help="run directory to compare against the baseline"),
    metric: list[str] = typer.Option([], "--metric", "-m", help="metrics to compare [all scores]"),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0, max=1.0, help="significance level"),
) -> None:
    """Per env × agent × perturbation: B − A for each metric, with a Welch t-test p-value."""
    from opsgym.report.compare import compare_runs, comparison_table

    try:
        rows = compare_runs(run_a, run_b, metrics=metric or None)
    except OpsGymError as exc:
        raise _fail(exc) from None
    console.print(comparison_table(rows, alpha=alpha, title=f"{run_b} vs {run_a}"))


@app.command("export")
def export_command(
    run_dir: Path = typer.Argument(..., help="a run directory written by `opsgym run`"),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv or parquet"),
    out: Path = typer.Option(None, "--out", "-o", help="output file [RUN_DIR/episodes.<format>]"),
) -> None:
    """Export one row per episode (spec, status, scores and raw metric inputs) for pandas and friends."""
    from opsgym.report.export import export_episodes

    try:
        path = export_episodes(run_dir, fmt, out)
    except OpsGymError as exc:
        raise _fail(exc) from None
    console.print(f"wrote {path}")
