"""Test doubles: tiny third-party Gymnasium envs (not opsgym envs) that return what a careless env might.

Each ends the episode on its first step. The runner reaches them as ``odd_envs:odd/<Name>-v0`` (this folder is on
``sys.path`` under pytest, and spawned workers inherit it).
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from opsgym.scenario import Tool


class _OneStep(gym.Env[str, str]):
    """Says hello, and ends on the first action with ``reward`` and ``info`` (a class attribute each)."""

    metadata = {"render_modes": []}
    tools = (Tool("noop", "noop", "do nothing"),)  # what the random agent picks its verbs from
    reward: Any = 1.0
    info: dict[str, Any] = {}
    observation = "done"

    def __init__(self, max_steps: int = 5) -> None:
        self.observation_space = spaces.Text(max_length=1000)
        self.action_space = spaces.Text(max_length=1000)
        self.max_steps = max_steps

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        return "hello", {}

    def step(self, action: str) -> tuple[str, Any, bool, bool, dict[str, Any]]:
        return self.observation, self.reward, True, False, copy.deepcopy(self.info)


class NanReward(_OneStep):
    reward = float("nan")
    info = {"metrics": {"TaskEfficacy": float("nan"), "Cost": float("inf")}}


class NoOutcome(_OneStep):
    """A plain Gymnasium env: metrics, but no opsgym Outcome (so nothing says whether anything was fixed)."""

    info = {"metrics": {"TaskEfficacy": 1.0}}


class BadOutcome(_OneStep):
    info = {"outcome": {"not": "an outcome"}}


class TextReward(_OneStep):
    reward = "high"


class SurrogateObservation(_OneStep):
    observation = "bad \ud800 text"


for _cls in (NanReward, NoOutcome, BadOutcome, TextReward, SurrogateObservation):
    gym.register(id=f"odd/{_cls.__name__}-v0", entry_point=_cls)
