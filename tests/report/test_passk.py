"""pass@k and pass^k: the estimators' known values, refusals, per-suite means, and the report's table."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from rich.console import Console
from test_report_html import TableText
from typer.testing import CliRunner

from opsgym.cli import app
from opsgym.outcome import Outcome
from opsgym.record import EpisodeError, EpisodeRecord, RecordWriter, RunSpec
from opsgym.report import write_report
from opsgym.report.passk import pass_at_k, pass_hat_k, passk_table, report_ks, summarize


def test_one_pass_in_five_is_likely_within_five_tries_and_never_five_times_in_a_row():
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2) and pass_hat_k(5, 1, 1) == pytest.approx(0.2)
    assert pass_at_k(5, 1, 3) == pytest.approx(0.6)  # 1 − C(4,3)/C(5,3) = 1 − 4/10
    assert pass_at_k(5, 1, 5) == 1.0 and pass_hat_k(5, 1, 5) == 0.0
    assert pass_hat_k(5, 3, 3) == pytest.approx(0.1)  # C(3,3)/C(5,3): one draw of ten is all passes


@pytest.mark.parametrize("k", [1, 3, 5])
def test_all_or_nothing_stays_all_or_nothing_for_every_k(k: int):
    assert pass_at_k(5, 5, k) == 1.0 and pass_hat_k(5, 5, k) == 1.0
    assert pass_at_k(5, 0, k) == 0.0 and pass_hat_k(5, 0, k) == 0.0


def test_the_estimator_is_unbiased_not_the_naive_power():
    # 1 − (1 − c/n)^k would say 0.488 for n=5, c=1, k=3; drawing without replacement says 0.6
    assert pass_at_k(5, 1, 3) != pytest.approx(1 - (1 - 0.2) ** 3)
    assert pass_at_k(100, 30, 10) == pytest.approx(1 - math.comb(70, 10) / math.comb(100, 10))


@pytest.mark.parametrize(("n", "c", "k", "message"), [(3, 1, 5, "k=5 is outside 1..n=3"), (5, 1, 0, "k=0"),
                                                       (5, 6, 1, "0 ≤ c ≤ n"), (0, 0, 1, "n ≥ 1")])
def test_impossible_draws_are_refused_with_a_clear_error(n: int, c: int, k: int, message: str):
    for estimator in (pass_at_k, pass_hat_k):
        with pytest.raises(ValueError, match=message):
            estimator(n, c, k)


def test_the_report_shows_1_3_5_10_and_the_largest_n():
    assert report_ks(1) == [1] and report_ks(4) == [1, 3, 4] and report_ks(5) == [1, 3, 5]
    assert report_ks(12) == [1, 3, 5, 10, 12] and report_ks(0) == []


def record(task: str, seed: int, efficacy: float | None, *, env: str = "opsgym/SRE-Lite", agent: str = "react",
           status: str = "completed") -> EpisodeRecord:
    spec = RunSpec(run_id="r", episode_key=f"{env}-{task}-{seed}-{agent}", env_id=env, task_id=task, seed=seed,
                   agent=agent)
    outcome = Outcome(task_id=task, task_version="1", domain="sre", profile="sre", seed=seed, backend="sim",
                      remediation_correct=1.0 if efficacy == 1.0 else 0.0)
    error = EpisodeError(kind="agent" if status == "agent_failure" else "infrastructure", type="E", message="x")
    return EpisodeRecord(status=status, spec=spec, outcome=outcome if status == "completed" else None,
                         reward=efficacy or 0.0, metrics={} if efficacy is None else {"TaskEfficacy": efficacy},
                         error=None if status == "completed" else error)


def suite_records() -> list[EpisodeRecord]:
    """A suite env over two tasks: A solved on every seed, B on one of five (and a crash, and an infra failure)."""
    a = [record("SRE-A", s, 1.0) for s in range(5)]
    b = [record("SRE-B", 0, 1.0), record("SRE-B", 1, 0.9999), record("SRE-B", 2, 0.3), record("SRE-B", 3, 0.0),
         record("SRE-B", 4, None, status="agent_failure"), record("SRE-B", 5, None, status="infra_failure")]
    return a + b


def test_tasks_and_their_suite_get_one_row_each_with_crashes_failed_and_infra_left_out():
    summary = summarize(suite_records())
    assert summary.ks == [1, 3, 5]
    a, b = summary.tasks
    assert (a.name, a.episodes, a.passed) == ("SRE-A", 5, 5) and a.pass_hat[5] == 1.0
    assert (b.name, b.episodes, b.passed) == ("SRE-B", 5, 1)  # 0.9999 is not solved; the infra failure is not counted
    assert b.pass_at == {1: pytest.approx(0.2), 3: pytest.approx(0.6), 5: 1.0} and b.pass_hat[5] == 0.0
    (suite,) = summary.suites
    assert (suite.scope, suite.name, suite.tasks, suite.episodes, suite.passed) == ("suite", "SRE-Lite", 2, 10, 6)
    assert suite.pass_at[1] == pytest.approx(0.6) and suite.pass_hat[3] == pytest.approx(0.5)  # (1 + 0) / 2


def test_an_episode_without_a_finite_task_efficacy_is_not_judged():
    odd = [record("SRE-A", 0, None), record("SRE-A", 1, math.inf), record("SRE-A", 2, math.nan),
           record("SRE-A", 3, 1.0), record("SRE-A", 4, 0.5)]
    (row,) = summarize(odd).tasks
    assert (row.episodes, row.passed) == (2, 1)


def test_a_suite_value_needs_every_task_to_have_k_episodes():
    records = [*suite_records(), record("SRE-C", 0, 1.0), record("SRE-C", 1, 0.0)]
    summary = summarize(records)
    c = summary.tasks[2]
    assert c.pass_at == {1: 0.5, 3: None, 5: None}
    (suite,) = summary.suites
    assert suite.pass_at[1] == pytest.approx((1 + 0.2 + 0.5) / 3) and suite.pass_at[3] is None


def test_single_task_envs_make_an_all_suite_and_agents_stay_apart():
    records = [record("SRE-1", s, 1.0, env="opsgym/SRE-1") for s in range(3)]
    records += [record("SRE-2", s, float(s == 0), env="opsgym/SRE-2") for s in range(3)]
    records += [record("SRE-1", s, 0.0, env="opsgym/SRE-1", agent="random") for s in range(3)]
    summary = summarize(records)
    assert [(r.agent, r.name) for r in summary.tasks] == [("random", "SRE-1"), ("react", "SRE-1"), ("react", "SRE-2")]
    assert [(r.agent, r.name, r.tasks) for r in summary.suites] == [("react", "all", 2)]
    assert summary.suites[0].pass_hat[3] == pytest.approx(0.5)


def test_the_terminal_table_appears_once_a_task_ran_twice_and_prints_names_as_text():
    assert passk_table([record("SRE-1", 0, 1.0)]) is None  # one episode: pass@1 is the fix rate already shown
    console = Console(record=True, width=200)
    table = passk_table([record("[bold]x[/bold]", s, 1.0) for s in range(2)])
    assert table is not None
    console.print(table)
    out = console.export_text()
    assert "pass@1" in out and "pass^2" in out and "[bold]x[/bold]" in out


def test_the_html_report_has_the_table_per_task(demo_run: Path):
    parser = TableText("passk-table")
    parser.feed(write_report(demo_run).read_text())
    header, *rows = parser.rows
    cells = {(row[0], row[1]): dict(zip(header, row, strict=True)) for row in rows}
    oracle = cells[("oracle", "none")]  # seeds 0-2 solved, seed 3's oracle crashed: n=4, c=3
    assert (oracle["scope"], oracle["name"], oracle["episodes"], oracle["passed"]) == ("task", "Double", "4", "3")
    assert (oracle["pass@1"], oracle["pass@3"], oracle["pass^3"], oracle["pass^4"]) == ("0.750", "1.000", "0.250",
                                                                                         "0.000")


def test_the_html_report_has_the_suite_rows(tmp_path: Path):
    writer = RecordWriter(tmp_path / "records.jsonl")
    for r in suite_records():
        writer.write(r)
    parser = TableText("passk-table")
    parser.feed(write_report(tmp_path).read_text())
    header, *rows = parser.rows
    suite = dict(zip(header, rows[-1], strict=True))
    assert (suite["scope"], suite["name"], suite["tasks"], suite["pass@1"], suite["pass^5"]) == (
        "suite", "SRE-Lite", "2", "0.600", "0.500")


def test_a_crash_in_a_suite_counts_against_the_task_that_seed_ran():
    crashed = record("", 1, None, status="agent_failure")  # the agent died before the suite's env said which task
    other = record("SRE-B", 1, 1.0, agent="oracle")  # another agent on the same env and seed learned it
    lonely = record("", 7, None, status="agent_failure")
    summary = summarize([record("SRE-B", 0, 1.0), crashed, other, lonely])
    react = {r.name: (r.episodes, r.passed) for r in summary.tasks if r.agent == "react"}
    assert react == {"SRE-B": (2, 1), "opsgym/SRE-Lite (task unknown)": (1, 0)}


def test_opsgym_report_and_run_print_the_table(tmp_path: Path):
    import opsgym_doubles

    run = tmp_path / "suite"
    with RecordWriter(run / "records.jsonl") as writer:
        for r in suite_records():
            writer.write(r)
    printed = CliRunner().invoke(app, ["report", str(run)], env={"COLUMNS": "200"})
    assert printed.exit_code == 0, printed.output
    suite_line = next(line for line in printed.output.splitlines() if "SRE-Lite" in line and "suite" in line)
    cells = [cell.strip() for cell in suite_line.split("│")]
    assert cells[-7:-1] == ["6", "0.600", "0.800", "1.000", "0.500", "0.500"]  # passed, pass@1, @3, @5, ^3, ^5
    ran = CliRunner().invoke(app, ["run", "--env", opsgym_doubles.ENV_ID, "-n", "2", "--out", str(tmp_path / "r"),
                                   "--no-report"], env={"COLUMNS": "200"})
    assert ran.exit_code == 0, ran.output
    assert "pass@k over seeds" in ran.output and "pass^2" in ran.output
