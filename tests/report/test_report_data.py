"""Statistics, `opsgym compare` and `opsgym export`: numbers users paste into papers, checked against references."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from report_runs import make_run
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from opsgym.cli import app
from opsgym.errors import OpsGymError
from opsgym.report.compare import compare_runs
from opsgym.report.export import export_episodes
from opsgym.report.stats import mean_ci, welch


def test_mean_ci_is_the_student_t_interval():
    ci = mean_ci([1.0, 2.0, 3.0, 4.0, 10.0])
    reference = scipy_stats.t.interval(0.95, 4, loc=4.0, scale=scipy_stats.sem([1, 2, 3, 4, 10]))
    assert (ci.mean, ci.n) == (4.0, 5)
    assert ci.low == pytest.approx(reference[0]) and ci.high == pytest.approx(reference[1])
    assert mean_ci([0.3]).half_width == 0 and mean_ci([]).n == 0 and math.isnan(mean_ci([None]).mean)


def test_welch_matches_the_reference_implementation_and_handles_constant_samples():
    a, b = [0.1, 0.4, 0.35, 0.2, 0.5], [0.6, 0.9, 0.7, 0.95]
    ours = welch(a, b)
    ref = scipy_stats.ttest_ind(b, a, equal_var=False)
    assert ours.t == pytest.approx(ref.statistic) and ours.p == pytest.approx(ref.pvalue)
    assert ours.delta == pytest.approx(sum(b) / 4 - sum(a) / 5)
    assert welch([1, 1, 1], [1, 1]).p == 1.0 and welch([1, 1, 1], [0, 0]).p == 0.0
    assert math.isnan(welch([1], [0, 1]).p)


@pytest.fixture(scope="module")
def worse_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same matrix with a 2-step budget: the oracle's 3-step solution is cut off before it can submit."""
    return make_run(tmp_path_factory.mktemp("worse") / "run", max_steps=2)


def test_compare_tests_each_cell_and_metric_with_welch(demo_run: Path, worse_run: Path):
    rows = {(c.cell[1], c.cell[2], c.metric): c for c in compare_runs(demo_run, worse_run)}
    oracle = rows[("oracle", "none", "reward")]
    assert (oracle.mean_a, oracle.mean_b, oracle.test.delta) == (0.75, 0.0, -0.75)
    # 4 episodes a side, one of A's crashed: t = -3 on 3 degrees of freedom, p ≈ 0.058
    assert oracle.test.p == pytest.approx(scipy_stats.ttest_ind([0, 0, 0, 0], [1, 1, 1, 0], equal_var=False).pvalue)
    assert not oracle.test.significant(0.05) and oracle.test.significant(0.10)
    unchanged = rows[("oracle", "none", "metrics.Accuracy")]  # the oracle still fixes before the budget ends
    assert unchanged.test.delta == 0.0 and not unchanged.test.significant()
    with pytest.raises(OpsGymError, match="not in both runs"):
        compare_runs(demo_run, worse_run, metrics=["NoSuchMetric"])


def test_cli_compare_prints_deltas_with_p_values(demo_run: Path, worse_run: Path):
    runner = CliRunner()
    strict = runner.invoke(app, ["compare", str(demo_run), str(worse_run), "--metric", "reward"],
                           env={"COLUMNS": "200"})
    loose = runner.invoke(app, ["compare", str(demo_run), str(worse_run), "--metric", "reward", "--alpha", "0.1"],
                          env={"COLUMNS": "200"})
    assert strict.exit_code == loose.exit_code == 0, strict.output
    assert "-0.750" in strict.output and "0.0577" in strict.output
    def oracle_row(output: str) -> str:
        return next(line for line in output.splitlines() if "oracle" in line and "none" in line)

    assert "n.s." in oracle_row(strict.output)
    assert "significant" in oracle_row(loose.output)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_one_row_per_episode_with_scores_and_raw_inputs(demo_run: Path, tmp_path: Path, fmt: str):
    path = export_episodes(demo_run, fmt, tmp_path / f"episodes.{fmt}")
    frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    assert len(frame) == 16 and frame["episode_key"].is_unique
    assert {"metrics.TaskEfficacy", "metrics.inputs.steps", "llm.prompt_tokens", "status", "seed"} <= set(frame)
    crashed = frame[frame["status"] == "agent_failure"]
    assert len(crashed) == 2 and (crashed["metrics.TaskEfficacy"] == 0).all()
    assert frame.loc[frame["status"] == "completed", "llm.prompt_tokens"].gt(0).all()


def test_export_refuses_an_unknown_format(demo_run: Path):
    with pytest.raises(OpsGymError, match="csv, parquet"):
        export_episodes(demo_run, "xlsx")
