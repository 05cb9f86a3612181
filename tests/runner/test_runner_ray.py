"""`--executor ray`: the same records, retries and resume semantics, on a local Ray instance the test starts."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import opsgym_doubles
import pytest

from opsgym.record import read_records
from opsgym.runner import AgentSpec, RunPlan, execute

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'opsgym[ray]'")

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.timeout(300)  # ~13 s on 2 busy cores: Ray start-up dominates


@pytest.fixture(scope="module")
def local_ray():
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), previous]))  # Ray workers import the double
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()
    if previous is None:
        os.environ.pop("PYTHONPATH")
    else:
        os.environ["PYTHONPATH"] = previous


def test_ray_runs_every_episode_retries_a_crashed_worker_and_resumes(local_ray, tmp_path: Path):
    crash_dir = tmp_path / "crashes"
    crash_dir.mkdir()
    plan = RunPlan(envs=[opsgym_doubles.ENV_ID], seeds=[0, 1, 2, 3], agents=[AgentSpec(name="oracle")],
                   env_kwargs={"crash_seeds": [1], "crash_dir": str(crash_dir), "llm_tokens": 7})
    run = tmp_path / "run"
    result = execute(plan, run, executor="ray")
    assert [r.status for r in result.records] == ["completed"] * 4
    assert {r.spec.executor for r in result.records} == {"ray"}
    assert all(r.llm_summary["prompt_tokens"] == 21 for r in result.records)
    lines = read_records(run / "records.jsonl").records
    lost = [r for r in lines if r.status == "infra_failure"]
    assert [(r.spec.seed, r.error.type) for r in lost] == [(1, "WorkerLost")]

    again = execute(RunPlan.model_validate_json((run / "run.json").read_text()), run, executor="ray", resume=True)
    assert again.written == 0
    assert Counter(r.spec.episode_key for r in read_records(run / "records.jsonl").records
                   if r.final).most_common(1)[0][1] == 1
