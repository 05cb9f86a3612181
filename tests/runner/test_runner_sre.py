"""The README's main job on the real SRE envs: `opsgym run` over a glob with two agents in parallel, then a report."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsgym.cli import app
from opsgym.record import read_records

pytestmark = pytest.mark.timeout(300)


def test_run_over_the_sre_suite_with_oracle_and_random_in_parallel_then_report(tmp_path: Path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["run", "--env", "opsgym/SRE-[0-9]*", "--agent", "oracle", "--agent", "random",
                                      "--episodes", "1", "--parallel", "2", "--out", str(out)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    records = read_records(out / "records.jsonl").records
    envs = sorted({r.spec.env_id for r in records})
    assert len(envs) >= 3 and all(e.startswith("opsgym/SRE-") for e in envs)
    assert len(records) == 2 * len(envs) and {r.status for r in records} == {"completed"}
    for record in records:
        assert record.outcome.task_id == record.spec.env_id.split("/")[1] == record.spec.task_id
        assert 0.0 <= record.metrics["TaskEfficacy"] <= 1.0 and "inputs" in record.metrics
        assert record.reward == pytest.approx(record.metrics["reward"])
        assert record.spec.versions["gymnasium"] and record.spec.executor == "process"
        assert all(s.cls for s in record.steps)  # every step classified by the env
    oracle = next(r for r in records if r.spec.agent == "oracle" and r.spec.env_id == "opsgym/SRE-1")
    assert oracle.steps[-1].action.startswith("submit") and oracle.terminated
    assert any(s.cls == "mutate" for s in oracle.steps)
    table_rows = [line for line in result.output.splitlines() if "SRE-1" in line and "oracle" in line]
    assert table_rows and "100%" in table_rows[0]  # the summary table: the oracle fixed every SRE-1 episode
    assert (out / "report.html").stat().st_size > 100_000  # written at the end of the run (plotly inlined)
