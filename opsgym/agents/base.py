"""The agent contract: text observation in, text action out; and the loop that binds an episode's LLM ledger."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from opsgym.llm.telemetry import ledger_of, recording

if TYPE_CHECKING:
    import gymnasium as gym

__all__ = ["Agent", "EpisodeEnd", "act", "play_episode", "reset_agent"]


@runtime_checkable
class Agent(Protocol):
    """An agent plays one episode at a time.

    ``reset`` receives the env so that privileged agents (the oracle) can ask it for the task's solution. Ordinary
    agents use only what ``act`` gets. An LLM agent records its calls with :func:`opsgym.llm.telemetry.record_call`;
    the loop (:func:`play_episode`, the runner) binds the episode's ledger around every ``reset`` and ``act``.

    Deprecated: agents written against the old contract, ``reset(*, seed, env, ledger)``, still work
    (:func:`reset_agent` passes them the episode's ledger), but new agents should not take ``ledger``.
    """

    def reset(self, *, seed: int | None = None, env: gym.Env[Any, Any] | None = None) -> None:
        """Forget the previous episode."""

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """Return the next action text (``kubectl …``, ``submit {…}``, ``edit …``)."""


def _takes_ledger(agent: Agent) -> bool:
    try:
        parameters = inspect.signature(agent.reset).parameters
    except (TypeError, ValueError):  # a builtin or C-implemented reset: it follows the current contract
        return False
    return "ledger" in parameters


def reset_agent(agent: Agent, *, seed: int | None, env: gym.Env[Any, Any]) -> None:
    """``agent.reset`` with ``env``'s ledger bound; an old-contract agent also gets it as ``ledger=``."""
    ledger = ledger_of(env)
    with recording(ledger):
        if _takes_ledger(agent):
            agent.reset(seed=seed, env=env, ledger=ledger)  # type: ignore[call-arg]
        else:
            agent.reset(seed=seed, env=env)


def act(agent: Agent, env: gym.Env[Any, Any], observation: Any, info: dict[str, Any]) -> Any:
    """One agent turn with ``env``'s episode ledger bound, so the LLM calls made in it land in that episode.

    Why per turn rather than per episode: an agent may interleave several envs in one thread, each turn then records
    into its own env's ledger.
    """
    with recording(ledger_of(env)):
        return agent.act(observation, info)


class EpisodeEnd(NamedTuple):
    """The last step of an episode, and how many steps it took."""

    observation: Any
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]
    steps: int


def play_episode(env: gym.Env[Any, Any], agent: Agent, *, seed: int | None = None,
                 max_steps: int = 100_000) -> EpisodeEnd:
    """The canonical agent loop: reset both, step until the episode ends, return the last step.

    The agent gets the env (privileged agents such as the oracle need it); its LLM calls land in the env's ledger
    (for the scoring wrapper) through the binding :func:`reset_agent` and :func:`act` make. ``max_steps`` guards
    against an env without a step budget.

    Raises:
        RuntimeError: the episode did not end within ``max_steps`` steps.
    """
    obs, info = env.reset(seed=seed)
    reset_agent(agent, seed=seed, env=env)
    for step in range(1, max_steps + 1):
        obs, reward, terminated, truncated, info = env.step(act(agent, env, obs, info))
        if terminated or truncated:
            return EpisodeEnd(obs, float(reward), terminated, truncated, info, step)
    raise RuntimeError(f"the episode did not end within {max_steps} steps; give the env a step budget")
