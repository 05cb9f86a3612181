"""The agent contract: text observation in, text action out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import gymnasium as gym

    from opsgym.llm.telemetry import Ledger

__all__ = ["Agent"]


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
