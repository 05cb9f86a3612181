"""Step budgets and gym.make's TimeLimit: the id shows the budget, and a truncated episode is still scored.

Gymnasium wraps every env made with a ``max_episode_steps`` in a TimeLimit outside the entry point; had it ended the
episode before OpsEnv did, the last step would carry no outcome and no metrics.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import opsgym  # noqa: F401  (registers the gym ids)
from opsgym import plugins


def play_help_until_the_end(env: gym.Env) -> tuple[int, bool, dict]:
    env.reset(seed=0)
    for step in range(1, 200):
        _, _, terminated, truncated, info = env.step("help")
        if terminated or truncated:
            return step, truncated, info
    raise AssertionError("the episode never ended")


def test_registered_ids_carry_the_task_step_budget():
    assert gym.spec("opsgym/SRE-1").max_episode_steps == plugins.get("task", "SRE-1").factory.max_steps
    suite = [e.factory.max_steps for e in plugins.entries("task").values() if "SWE-Lite" in e.factory.suites]
    assert gym.spec("opsgym/SWE-Lite").max_episode_steps == max(suite)
    env = gym.make("opsgym/SRE-1")
    try:
        assert env.spec.max_episode_steps == env.unwrapped.max_steps == 30
    finally:
        env.close()


@pytest.mark.parametrize(("kwargs", "steps"), [({}, 30), ({"max_episode_steps": 5}, 5),
                                                ({"max_episode_steps": 40}, 40), ({"max_episode_steps": -1}, 30),
                                                ({"max_steps": 4}, 4), ({"max_steps": 45}, 45),
                                                ({"max_steps": 60, "max_episode_steps": 7}, 7)])
def test_a_truncated_episode_ends_with_an_outcome_and_metrics_whatever_sets_the_budget(kwargs, steps):
    env = gym.make("opsgym/SRE-1", **kwargs)
    try:
        ended_at, truncated, info = play_help_until_the_end(env)
        assert (ended_at, truncated) == (steps, True)
        assert info["outcome"]["steps"] == steps and info["outcome"]["truncated"] is True
        assert "TaskEfficacy" in info["metrics"]
        if kwargs.get("max_episode_steps", -1) != -1:
            assert env.spec.max_episode_steps == kwargs["max_episode_steps"]
    finally:
        env.close()


def test_a_spec_replayed_by_gym_make_keeps_its_budget_and_its_scoring():
    first = gym.make("opsgym/SRE-1", max_episode_steps=3)
    again = gym.make(first.spec)
    try:
        ended_at, _, info = play_help_until_the_end(again)
        assert ended_at == 3 and "metrics" in info
    finally:
        first.close()
        again.close()


def test_unscored_envs_from_gym_make_also_truncate_with_an_outcome():
    env = gym.make("opsgym/SRE-1", scoring=False, max_episode_steps=2)
    try:
        ended_at, _, info = play_help_until_the_end(env)
        assert ended_at == 2 and info["outcome"]["truncated"] is True and "metrics" not in info
    finally:
        env.close()
