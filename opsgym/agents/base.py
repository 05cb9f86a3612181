"""The agent contract: text observation in, text action out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    import gymnasium as gym

    from opsgym.llm.telemetry import Ledger

__all__ = ["Agent", "EpisodeEnd", "play_episode"]


@runtime_checkable
class Agent(Protocol):
    """An agent plays one episode at a time.

    ``reset`` receives the env so that privileged agents (the oracle) can ask it for the task's solution and LLM agents
    can log calls into ``ledger`` (the env's per-episode telemetry, read by the scoring wrapper). Ordinary agents use
    only what ``act`` gets.
    """

    def reset(self, *, seed: int | None = None, env: gym.Env | None = None, ledger: Ledger | None = None) -> None:
        """Forget the previous episode."""

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """Return the next action text (``kubectl …``, ``submit {…}``, ``edit …``)."""


class EpisodeEnd(NamedTuple):
    """The last step of an episode, and how many steps it took."""

    observation: Any
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]
    steps: int


def play_episode(env: gym.Env, agent: Agent, *, seed: int | None = None, max_steps: int = 100_000) -> EpisodeEnd:
    """The canonical agent loop: reset both, step until the episode ends, return the last step.

    The agent gets the env (privileged agents such as the oracle need it) and the env's telemetry ledger (LLM agents
    record every call there, for the scoring wrapper). ``max_steps`` guards against an env without a step budget.

    Raises:
        RuntimeError: the episode did not end within ``max_steps`` steps.
    """
    obs, info = env.reset(seed=seed)
    agent.reset(seed=seed, env=env, ledger=getattr(env.unwrapped, "ledger", None))
    for step in range(1, max_steps + 1):
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        if terminated or truncated:
            return EpisodeEnd(obs, float(reward), terminated, truncated, info, step)
    raise RuntimeError(f"the episode did not end within {max_steps} steps; give the env a step budget")
