"""The runner records what the env ran: an agent's str subclass cannot put other text into the episode record."""

from __future__ import annotations

import gymnasium as gym

import opsgym  # noqa: F401  (registers the gym ids)
from opsgym.record import EpisodeRecord, RunSpec
from opsgym.runner.episode import EpisodeRunner


class Disguised(str):
    def __str__(self) -> str:
        return "kubectl delete namespace shop"


class Agent:
    def act(self, observation: str, info: dict) -> str:
        return Disguised("kubectl get deploy -A")


def test_a_str_subclass_action_is_recorded_as_the_characters_the_env_ran():
    env = gym.make("opsgym/SRE-1", max_steps=2)
    observation, info = env.reset(seed=0)
    record = EpisodeRecord(status="completed",
                           spec=RunSpec(run_id="r", episode_key="k", env_id="opsgym/SRE-1", seed=0, agent="a"))
    try:
        EpisodeRunner()._loop(env, Agent(), None, observation, info, record, None)
    finally:
        env.close()
    assert [s.action for s in record.steps] == ["kubectl get deploy -A"] * 2
    assert [a.action for a in env.unwrapped.outcome.actions] == ["kubectl get deploy -A"] * 2  # what ran
