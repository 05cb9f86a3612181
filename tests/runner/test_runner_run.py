"""The run loop: records for every planned episode, failures classified and retried, resume skips what is done."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import opsgym_doubles
import pytest

from opsgym.errors import OpsGymError
from opsgym.record import read_records
from opsgym.runner import AgentSpec, RunPlan, execute

ENV = opsgym_doubles.ENV_ID


def plan_for(seeds: list[int], **env_kwargs) -> RunPlan:
    return RunPlan(envs=[ENV], seeds=seeds, agents=[AgentSpec(name="oracle")], env_kwargs=env_kwargs)


def test_a_serial_run_records_steps_outcome_metrics_and_llm_calls(tmp_path: Path):
    result = execute(plan_for([0, 1], llm_tokens=50), tmp_path / "run")
    assert result.planned == 2 and len(result.records) == 2 and not result.interrupted
    record = result.records[0]
    assert record.status == "completed" and record.error is None
    assert [s.action.split()[0] for s in record.steps] == ["look", "fix", "submit"]
    assert [s.cls for s in record.steps] == ["read", "mutate", "submit"]  # classes come from the outcome
    assert [s.llm_call_ids for s in record.steps] == [[0], [1], [2]]
    assert record.calls_for_step(2)[0].output.startswith("submit")
    assert record.llm_summary["prompt_tokens"] == 150
    assert record.outcome.ground_truth == {"diagnosis": "broken", "root_cause": "config"}
    assert record.metrics["TaskEfficacy"] == 1.0 and record.metrics["inputs"] == {"steps": 3, "fixed": True}
    assert record.spec.task_version == "7" and record.spec.versions["opsgym"]
    assert record.observation0 == "alert: service 0 is down"


def test_failures_are_classified_and_only_infrastructure_is_retried(tmp_path: Path):
    plan = plan_for([0, 1, 2, 3], reset_infra_seeds=[1], bad_oracle_seeds=[2], llm_tokens=5, llm_outage_seeds=[3])
    result = execute(plan, tmp_path / "run", max_attempts=2)
    by_seed = {r.spec.seed: r for r in result.records}
    assert by_seed[0].status == "completed"
    assert (by_seed[1].status, by_seed[1].error.kind, by_seed[1].error.where) == (
        "infra_failure", "infrastructure", "reset")
    assert (by_seed[2].status, by_seed[2].error.kind, by_seed[2].error.where) == ("agent_failure", "agent",
                                                                                 "agent.reset")
    assert (by_seed[3].status, by_seed[3].error.where) == ("infra_failure", "llm")
    attempts = Counter(r.spec.seed for r in read_records(tmp_path / "run" / "records.jsonl"))
    assert attempts == {0: 1, 1: 2, 2: 1, 3: 2}  # each infra failure was tried max_attempts times, each recorded


def test_resume_runs_only_what_is_missing_and_refuses_a_different_matrix(tmp_path: Path):
    run = tmp_path / "run"
    first = execute(plan_for([0, 1]), run)
    with pytest.raises(OpsGymError, match="--resume"):
        execute(plan_for([0, 1]), run)
    with pytest.raises(OpsGymError, match="different matrix"):
        execute(plan_for([0, 1, 2]), run, resume=True)
    again = execute(RunPlan.model_validate_json((run / "run.json").read_text()), run, resume=True)
    assert again.written == 0 and len(again.records) == 2
    assert [r.spec.episode_key for r in again.records] == [r.spec.episode_key for r in first.records]


def test_worker_processes_run_in_parallel_and_a_dead_worker_costs_one_retry(tmp_path: Path):
    crash_dir = tmp_path / "crashes"
    crash_dir.mkdir()
    plan = plan_for(list(range(6)), crash_seeds=[2], crash_dir=str(crash_dir))
    result = execute(plan, tmp_path / "run", parallel=2)
    assert [r.status for r in result.records] == ["completed"] * 6
    lines = read_records(tmp_path / "run" / "records.jsonl").records
    lost = [r for r in lines if r.status == "infra_failure"]
    assert len(lost) == 1 and lost[0].spec.seed == 2 and lost[0].error.type == "WorkerLost"
    assert "exited with code 13" in lost[0].error.message
    assert {r.spec.seed: r.attempt for r in result.records}[2] == 2
    assert len({r.worker for r in lines}) >= 2  # more than one process did the work


def test_the_retry_after_an_env_failure_starts_from_a_fresh_env(tmp_path: Path):
    markers = tmp_path / "markers"
    markers.mkdir()
    # seed 0's first step breaks its env object for good; a retry (or seed 1) on that same object could never pass
    result = execute(plan_for([0, 1], break_seeds=[0], crash_dir=str(markers)), tmp_path / "run", max_attempts=2)
    assert [(r.spec.seed, r.status, r.attempt) for r in result.records] == [(0, "completed", 2), (1, "completed", 1)]
    failed = [r for r in read_records(tmp_path / "run" / "records.jsonl").records if r.status == "infra_failure"]
    assert [(r.spec.seed, r.error.where, r.error.type) for r in failed] == [(0, "step", "InfrastructureError")]


def test_an_unknown_executor_or_a_missing_ray_is_refused_before_the_run_directory_is_written(tmp_path: Path,
                                                                                           monkeypatch):
    with pytest.raises(OpsGymError, match="unknown executor 'rey'"):
        execute(plan_for([0]), tmp_path / "typo", executor="rey")
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` and find_spec see where Ray is not installed
    with pytest.raises(OpsGymError, match=r"pip install 'opsgym\[ray\]'"):
        execute(plan_for([0]), tmp_path / "no-ray", executor="ray")
    assert not (tmp_path / "typo").exists() and not (tmp_path / "no-ray").exists()
    assert [r.status for r in execute(plan_for([0]), tmp_path / "typo").records] == ["completed"]
