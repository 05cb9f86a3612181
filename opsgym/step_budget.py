"""What gym.make puts around OpsEnv: scoring inside its TimeLimit, and a step budget that the env itself enforces.

Gymnasium adds a TimeLimit outside whatever an id's entry point returns; the two wrappers here make sure that limit
ends an opsgym episode only through OpsEnv's own truncation, which produces the outcome that scoring needs.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec

from opsgym.scoring.wrapper import ScoringWrapper

__all__ = ["EntryPointScoring", "StepBudget"]


class StepBudget(gym.Wrapper[str, Any, str, Any], gym.utils.RecordConstructorArgs):
    """Outside gym.make's TimeLimit: OpsEnv, not the TimeLimit, ends the episode, so it always ends scored.

    ``gym.make(id, max_episode_steps=n)`` wraps the env in a TimeLimit that the entry point never sees; had it fired
    first, the truncated episode would end with no outcome and no metrics. Registered ids therefore list this wrapper
    in ``EnvSpec.additional_wrappers``, which gym.make applies after (outside) the TimeLimit. A limit other than the
    registered one was asked for explicitly: OpsEnv's budget becomes it (or ``max_steps=``, if smaller). The
    registered limit is the task's own budget, so a larger ``max_steps=`` keeps its meaning: a truncation that OpsEnv
    did not make (no outcome in ``info``) is not passed on.

    Args:
        env: what gym.make built so far (TimeLimit, checkers, the scored OpsEnv).
        registered_steps: the id's registered ``max_episode_steps``.
    """

    def __init__(self, env: gym.Env, registered_steps: int | None = None) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, registered_steps=registered_steps)
        gym.Wrapper.__init__(self, env)
        from opsgym.env import OpsEnv  # opsgym.env imports this module for EntryPointScoring

        limit = env.spec.max_episode_steps if env.spec is not None else None
        ops = env.unwrapped
        if limit is not None and limit != registered_steps and isinstance(ops, OpsEnv):
            ops._max_steps_override = min(ops._max_steps_override or limit, limit)

    def step(self, action: Any) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:  # any input: OpsEnv judges it
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated and "outcome" in info, info


class EntryPointScoring(ScoringWrapper):
    """The ScoringWrapper that :func:`make_env` applies, left out of ``env.spec``.

    Scoring belongs to the entry point, which applies it again whenever gym.make replays a spec; listed in the spec's
    wrappers, it would also make gym.make reject the registered :class:`StepBudget` behind it.
    """

    # gymnasium's Wrapper declares spec as a settable attribute; this one is read-only by design (see the docstring).
    @property
    def spec(self) -> EnvSpec | None:  # type: ignore[override]
        return self.env.spec
