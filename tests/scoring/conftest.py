"""Fixtures for the scoring tests (helpers live in scoring_helpers.py)."""

from __future__ import annotations

import gymnasium as gym
import pytest
from scoring_helpers import make_scored_toy


@pytest.fixture(scope="session")
def toy_env_id() -> str:
    """A registered id whose env is scored, as ``gym.make("opsgym/...")`` envs are."""
    env_id = "opsgym-test/ToyIncident-v0"
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=make_scored_toy)
    return env_id
