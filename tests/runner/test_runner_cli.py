"""`opsgym run` at its edges: a bare --resume keeps the stored plan, the end-of-run report never costs a traceback,
and the terminal summary counts "fixed" the way the HTML report does."""

from __future__ import annotations

import io
from pathlib import Path

import opsgym_doubles
from rich.console import Console
from typer.testing import CliRunner

from opsgym.cli import app
from opsgym.commands.run import _auto_report
from opsgym.outcome import Outcome
from opsgym.record import EpisodeError, EpisodeRecord, RunSpec, read_records
from opsgym.runner.progress import summary_table


def cli(*args: str):
    return CliRunner().invoke(app, ["run", *args, "--no-report"], env={"COLUMNS": "200"})


def test_a_bare_resume_refuses_options_that_would_change_the_matrix_and_runs_the_stored_plan(tmp_path: Path):
    out = tmp_path / "run"
    assert cli("--env", opsgym_doubles.ENV_ID, "--out", str(out)).exit_code == 0
    refused = cli("--resume", "--out", str(out), "--agent", "random", "-n", "3", "-p", "noise")
    assert refused.exit_code == 2
    message = " ".join(refused.output.split())
    assert "--agent, --episodes, --perturbation would be ignored" in message and "another --out" in message
    assert len(read_records(out / "records.jsonl").records) == 1
    resumed = cli("--resume", "--out", str(out), "--parallel", "2")  # how it runs is not what it runs
    assert resumed.exit_code == 0, resumed.output
    assert len(read_records(out / "records.jsonl").records) == 1


def test_the_end_of_run_report_turns_a_report_error_into_a_note(tmp_path: Path, capsys):
    (tmp_path / "records.jsonl").write_text("{torn\n")
    _auto_report(tmp_path)  # write_report refuses a run with no readable record
    assert "no report" in capsys.readouterr().err


def record(env: str, status: str = "completed", fixed: float | None = None) -> EpisodeRecord:
    spec = RunSpec(run_id="r", episode_key=f"{env}-{status}-{fixed}", env_id=env, seed=0, agent="oracle")
    outcome = None if fixed is None else Outcome(task_id=env, task_version="1", domain="sre", profile="sre", seed=0,
                                                 backend="sim", remediation_correct=fixed)
    error = EpisodeError(kind="agent", type="E", message="m") if status == "agent_failure" else None
    return EpisodeRecord(status=status, spec=spec, outcome=outcome, error=error)


def test_the_summary_counts_fixed_as_the_report_does():
    records = [record("no-outcome"), record("crashed", "agent_failure"), record("mixed", fixed=1.0),
               record("mixed"), record("lost", "infra_failure")]
    console = Console(file=io.StringIO(), width=200)
    console.print(summary_table(records))
    lines = console.file.getvalue().splitlines()
    header = next(line for line in lines if "fixed" in line)
    column = [cell.strip() for cell in header.split("┃")].index("fixed")
    fixed = {cells[1]: cells[column] for line in lines if "│" in line
             for cells in [[cell.strip() for cell in line.split("│")]]}
    # no outcome says nothing; an agent's crash fixed nothing; infrastructure failures are not scored
    assert fixed == {"no-outcome": "–", "crashed": "0%", "mixed": "100%", "lost": "–"}
