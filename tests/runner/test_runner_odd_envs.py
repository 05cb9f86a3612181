"""Third-party envs that return odd values: every episode still ends as a record that can be read back.

A NaN reward, an ``info["outcome"]`` that is no Outcome, a reward that is no number, an observation with a lone
surrogate: each is the env's business, so it may cost its own episode (as an infrastructure failure) but never the
run, and whatever is recorded must read back — or ``--resume`` would run "done" episodes again.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import odd_envs  # noqa: F401  (registers odd/* ids here; workers import it from the env id)
import pytest

from opsgym.record import RunSpec, read_records
from opsgym.runner import AgentSpec, RunPlan, execute

pytestmark = pytest.mark.filterwarnings("ignore:.*WARN.*:UserWarning")  # Gymnasium's checker sees the oddities too


def plan_for(name: str, seeds: list[int]) -> RunPlan:
    return RunPlan(envs=[f"odd_envs:odd/{name}-v0"], seeds=seeds, agents=[AgentSpec(name="random")])


@pytest.mark.parametrize("parallel", [1, 2], ids=["in-process", "worker-processes"])
def test_a_nan_reward_is_recorded_read_back_and_not_rerun_by_resume(tmp_path: Path, parallel: int):
    run = tmp_path / "run"
    result = execute(plan_for("NanReward", [0, 1]), run, parallel=parallel)
    assert [r.status for r in result.records] == ["completed", "completed"]
    read = read_records(run / "records.jsonl")
    assert read.problems == [] and len(read.records) == 2
    for record in read.records:
        assert math.isnan(record.reward) and math.isnan(record.steps[0].reward)
        assert math.isnan(record.metrics["TaskEfficacy"]) and record.metrics["Cost"] == math.inf
    again = execute(RunPlan.model_validate_json((run / "run.json").read_text()), run, resume=True)
    assert again.written == 0 and len(again.records) == 2


@pytest.mark.parametrize(("env", "where"), [("BadOutcome", "outcome"), ("TextReward", "step")])
def test_an_env_that_breaks_its_contract_costs_its_episode_not_the_run(tmp_path: Path, env: str, where: str):
    result = execute(plan_for(env, [0, 1]), tmp_path / "run", max_attempts=2)
    assert [(r.status, r.error.kind, r.error.where) for r in result.records] == [
        ("infra_failure", "infrastructure", where)] * 2
    read = read_records(tmp_path / "run" / "records.jsonl")
    assert read.problems == [] and len(read.records) == 4  # every attempt recorded, each retried once


def test_an_observation_with_a_lone_surrogate_is_recorded_with_a_replacement_character(tmp_path: Path):
    result = execute(plan_for("SurrogateObservation", [0]), tmp_path / "run")
    assert [r.status for r in result.records] == ["completed"]
    (record,) = read_records(tmp_path / "run" / "records.jsonl").records
    step = record.steps[0]
    assert step.observation == "bad \ufffd text"
    assert step.observation_sha256 == hashlib.sha256("bad \ud800 text".encode("utf-8", "surrogatepass")).hexdigest()


def test_a_record_the_parent_cannot_read_becomes_an_infrastructure_failure_of_its_episode():
    from opsgym.runner.executors import received_record

    spec = RunSpec(run_id="r", episode_key="k", env_id="odd/NanReward-v0", seed=3, agent="random")
    record = received_record('{"schema": "opsgym.episode", "status": "done?"}', spec, 2, "pid 1@host")
    assert (record.status, record.attempt, record.spec.seed) == ("infra_failure", 2, 3)
    assert record.error.type == "UnreadableRecord" and "could not be read back" in record.error.message
