"""Each step is stored once: the env's action record joined with the runner's timings, reward and LLM call ids."""

from __future__ import annotations

import json
from pathlib import Path

import opsgym_doubles
import pytest

from opsgym.outcome import RECORD_CHARS, ActionRecord, text_sha256
from opsgym.record import EpisodeRecord, StepRecord, read_records
from opsgym.runner import AgentSpec, RunPlan, execute

pytestmark = pytest.mark.timeout(300)
RUNNER_FIELDS = {"reward", "agent_s", "env_s", "llm_call_ids", "observation_chars"}
ENV_FIELDS = {"cls", "verb", "targets", "flags", "detail", "observation_sha256", "sim_time_s", "wall_time_s"}


def test_a_fresh_sre_record_holds_one_step_list_with_the_runner_fields_on_it(tmp_path: Path):
    result = execute(RunPlan(envs=["opsgym/SRE-1"], seeds=[0], agents=[AgentSpec(name="oracle")]), tmp_path / "run")
    (record,) = result.records
    assert record.status == "completed" and len(record.steps) > 2
    (line,) = (tmp_path / "run" / "records.jsonl").read_text().splitlines()
    data = json.loads(line)
    assert data["version"] == 2 and "actions" not in data["outcome"]  # the steps are the only step list
    for step in data["steps"]:
        assert RUNNER_FIELDS | ENV_FIELDS <= set(step)
    assert any(step["targets"] for step in data["steps"])  # the env's structured half came along
    (back,) = read_records(tmp_path / "run" / "records.jsonl").records
    assert back.outcome == record.outcome and len(back.outcome.actions) == len(back.steps)  # what scoring reads
    for step, action in zip(back.steps, back.outcome.actions, strict=True):
        assert step.action_record() == action
        assert len(step.observation) == min(step.observation_chars, RECORD_CHARS)  # one truncation rule


def test_the_env_record_of_a_step_wins_and_the_runner_view_fills_what_it_left_unset():
    runner_view = StepRecord(index=0, action="look", observation="seen", observation_sha256=text_sha256("seen"),
                             observation_chars=4, reward=0.5, agent_s=1.0, env_s=2.0, llm_call_ids=[3])
    joined = runner_view.joined(ActionRecord(index=0, action="look", verb="look", cls="read", observation="seen",
                                             wall_time_s=1.5))
    assert (joined.cls, joined.verb, joined.wall_time_s) == ("read", "look", 1.5)
    assert joined.observation_sha256 == text_sha256("seen")  # the env set no hash: the one rule's, from the runner
    assert (joined.reward, joined.agent_s, joined.env_s, joined.llm_call_ids) == (0.5, 1.0, 2.0, [3])


def test_an_env_whose_actions_differ_from_the_steps_keeps_both_so_nothing_is_lost(tmp_path: Path):
    plan = RunPlan(envs=[opsgym_doubles.ENV_ID], seeds=[0], agents=[AgentSpec(name="oracle")])
    (record,) = execute(plan, tmp_path / "run").records
    data = json.loads((tmp_path / "run" / "records.jsonl").read_text())
    assert [a["observation_sha256"] for a in data["outcome"]["actions"]] == ["", "", ""]  # the double hashes nothing
    assert all(step["observation_sha256"] for step in data["steps"])
    assert EpisodeRecord.model_validate(data).outcome == record.outcome
