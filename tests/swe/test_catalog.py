"""Every shipped SWE task (envs/swe-*) is a real task: its tests fail before the gold patch and pass after it, an
empty patch resolves nothing, the oracle resolves it through ``gym.make`` and the agent actions, a random agent does
not."""

from __future__ import annotations

import gymnasium as gym
import pytest

import opsgym  # noqa: F401  (registers the gym ids)
from opsgym.agents.base import play_episode
from opsgym.agents.scripted import OracleAgent, RandomAgent
from opsgym.swe.catalog import base_tree, oracle_solution
from opsgym.swe.evaluate import grade
from opsgym.swe.patches import git_apply
from opsgym.swe.sandbox import Limits, Sandbox
from opsgym.swe.workspace import Workspace
from opsgym.tasks import catalog_folders, load_task

from .conftest import needs_bwrap

pytestmark = needs_bwrap

FOLDERS = [f for f in catalog_folders() if f.name.startswith("swe-")]


def test_the_catalog_has_at_least_twelve_swe_tasks_in_the_lite_suite():
    tasks = [load_task(f) for f in FOLDERS]
    assert len(tasks) >= 12
    assert all(t.domain == "swe" and "SWE-Lite" in t.suites and t.id.startswith("SWE-") for t in tasks)
    assert len({t.swe.instance_id for t in tasks}) == len(tasks)


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox("bwrap", limits=Limits(timeout_s=120))
    yield box
    box.close()


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_tests_fail_before_the_gold_patch_and_an_empty_patch_resolves_nothing(folder, sandbox):
    task = load_task(folder)
    assert task.swe.FAIL_TO_PASS and task.swe.PASS_TO_PASS
    assert oracle_solution(task)[-1] == "submit"  # the gold patch parses and applies to the base tree
    base = base_tree(task)
    ws = Workspace(base, owner=sandbox.owner)
    try:
        patched = ws.copy_from(base, ws.scratch("gold-check"))
        applied = git_apply(patched, task.swe.patch_text(task.path, "patch"))
        assert applied.returncode == 0, applied.stderr
        evaluation = grade(task, base, ws, sandbox, [], timeout_s=300)
    finally:
        ws.close()
    extra = evaluation.extra
    assert extra["resolution"] == "RESOLVED_NO" and evaluation.remediation_correct == 0.0
    assert extra["f2p"]["success"] == [], f"FAIL_TO_PASS tests pass without the fix: {extra['f2p']['success']}"
    assert extra["p2p"]["failure"] == {}, f"PASS_TO_PASS tests fail at the base: {extra['p2p']['failure']}"


def _play(env_id: str, agent, seed: int, **kwargs):
    env = gym.make(env_id, **kwargs)
    try:
        end = play_episode(env, agent, seed=seed)
    finally:
        env.close()
    return end.reward, end.info


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_the_oracle_resolves_it_through_gym_make(folder):
    task = load_task(folder)
    reward, info = _play(task.gym_id, OracleAgent(), seed=0)
    outcome = info["outcome"]
    assert outcome["extra"]["resolution"] == "RESOLVED_FULL", outcome["checks"]
    assert outcome["remediation_correct"] == 1.0 and reward > 0
    assert outcome["actions"][-1]["cls"] == "submit"
    assert all(a["cls"] in ("mutate", "submit") for a in outcome["actions"])  # edits to code, never to tests


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_a_random_agent_resolves_nothing(folder):
    task = load_task(folder)
    _, info = _play(task.gym_id, RandomAgent(), seed=3, max_steps=6, scoring=False)
    assert info["outcome"]["extra"]["resolution"] != "RESOLVED_FULL"
    assert info["outcome"]["remediation_correct"] < 1.0
