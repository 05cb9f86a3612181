"""``opsgym replay`` and ``opsgym bench``: inference configurations compared on identical recorded work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from opsgym.commands import console, err
from opsgym.commands.app import app
from opsgym.errors import OpsGymError

_ROW_COLUMNS = (
    ("requests", "requests", "{:d}"), ("prompt_tokens", "prompt tok", "{:,}"),
    ("computed_prompt_tokens", "prompt tok computed", "{:,}"), ("generated_tokens", "generated tok", "{:,}"),
    ("prefill_share", "prefill share", "{:.1%}"), ("prefix_hit_rate", "prefix hit rate", "{:.1%}"),
    ("ms_per_token", "ms/token", "{:.1f}"), ("tokens_per_s", "tok/s", "{:.1f}"),
    ("runtime_s", "runtime s", "{:.1f}"), ("cost_usd", "cost $", "{:.5f}"),
    ("api_cost_usd", "GPT-4o $", "{:.4f}"), ("spec_acceptance", "spec accept", "{:.1%}"),
)


def _fmt(value: Any, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _calls(record: Path | None, episode: int, turns: int | None) -> list[Any]:
    """The calls to replay, each checked (the error names the file's line and the field it refuses; printed escaped,
    since it quotes the record's own text)."""
    from opsgym.llm.replay import load_trace

    return load_trace(record, episode=episode, turns=turns)


@app.command("replay")
def replay_command(
    record: Path = typer.Argument(..., exists=True, dir_okay=False, help="records.jsonl (or a trace) to replay"),
    llm: str = typer.Option(..., "--llm", help="backend spec: hf-prefix, vllm:serial, openai:http://127.0.0.1:8000/v1"),
    episode: int = typer.Option(0, "--episode", min=0, help="which episode of the file (in file order)"),
    turns: int = typer.Option(None, "--turns", min=1, help="replay only the first N calls"),
    agents: int = typer.Option(1, "--agents", min=1, help="run N copies of the trace at once"),
    force_length: bool = typer.Option(True, "--force-length/--free-length",
                                      help="force each output to the recorded number of tokens"),
    out: Path = typer.Option(None, "--out", "-o", help="write the replayed calls as JSON here"),
) -> None:
    """Re-issue a recorded episode's LLM calls against another inference configuration."""
    from opsgym.llm.base import create_backend
    from opsgym.llm.replay import replay, replay_concurrent

    try:
        calls = _calls(record, episode, turns)
        backend = create_backend(llm)
    except OpsGymError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    try:
        if agents > 1:
            result = replay_concurrent(backend, calls, agents, force_length=force_length)
        else:
            result = replay(backend, calls, force_length=force_length)
    finally:
        backend.close()
    summary = result.summary()
    recorded = {"prompt_tokens": sum(c.prompt_tokens or 0 for c in calls) * agents,
                "completion_tokens": sum(c.completion_tokens or 0 for c in calls) * agents}
    table = Table(title=f"replay of {len(calls)} calls × {agents} agent(s) on {llm}", title_justify="left")
    for column in ("", "recorded", "replayed"):
        table.add_column(column)
    for key in ("prompt_tokens", "completion_tokens"):
        table.add_row(key, f"{recorded[key]:,}", _fmt(summary[key], "{:,}"))
    for key in ("cached_prompt_tokens", "prefill_s", "decode_s", "wall_s", "aggregate_tokens_per_s",
                "prefix_reuse_rate", "failed_requests"):
        table.add_row(key, "", _fmt(summary[key], "{:,.3f}" if isinstance(summary[key], float) else "{}"))
    console.print(table)
    if out is not None:
        out.write_text(json.dumps([c.model_dump(mode="json") for c in result.calls], indent=1))


@app.command("bench")
def bench_command(
    trace: Path = typer.Option(None, "--trace", exists=True, dir_okay=False,
                               help="records.jsonl to replay [the bundled SRE-1 trace]"),
    config: list[str] = typer.Option([], "--config", "-c",
                                     help="LABEL=SPEC or SPEC (repeatable) [hf-naive, hf-prefix, vLLM presets]"),
    turns: int = typer.Option(None, "--turns", min=1, help="use only the first N calls of the trace"),
    agents: int = typer.Option(8, "--agents", min=0, help="concurrent agents for the batching comparison (0: skip)"),
    concurrency_turns: int = typer.Option(None, "--concurrency-turns", min=1,
                                          help="calls per agent in the concurrency comparison [all]"),
    out: Path = typer.Option(None, "--out", "-o", help="write the full report as JSON here"),
) -> None:
    """Replay one trace through every inference configuration: the seed's Tables 4–6, on this machine."""
    from opsgym.llm.bench import run_bench

    configs = [(c.split("=", 1)[0], c.split("=", 1)[1]) if "=" in c.split(",", 1)[0] else (c, c)
               for c in config] or None
    try:
        calls = _calls(trace, 0, turns)
    except OpsGymError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    report = run_bench(calls, trace=str(trace or "bundled SRE-1 trace"), configs=configs, agents=agents,
                       concurrency_turns=concurrency_turns, log=err.print)
    table = Table(title=f"inference configurations on {report.trace} ({report.turns} calls)", title_justify="left")
    table.add_column("configuration")
    for _, title, _ in _ROW_COLUMNS:
        table.add_column(title, justify="right")
    for row in report.rows:
        if row.skipped:
            table.add_row(row.label, f"[yellow]skipped: {row.skipped}[/yellow]")
            continue
        table.add_row(row.label, *(_fmt(getattr(row, key), pattern) for key, _, pattern in _ROW_COLUMNS))
    console.print(table)
    if report.concurrency.get("skipped"):
        console.print(f"concurrency: skipped ({report.concurrency['skipped']})")
    for name, value in report.ratios.items():
        console.print(f"{name}: {value:.2f}×")
    if out is not None:
        out.write_text(json.dumps(report.to_dict(), indent=1, default=str))
