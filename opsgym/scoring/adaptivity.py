"""Adaptivity by paired episodes: the same task and seed, unperturbed (D_0) and under each perturbation (D_i).

``opsgym.scoring.adaptivity(env_id, agent, perturbations, seeds)`` plays every seed once on D_0 and once per
perturbation, pairs TaskEfficacy(D_i) with TaskEfficacy(D_0) of the same seed, and averages the ratios as in the seed
paper (§2.2.3). Pairing by seed matters: the seed fixes the scenario's variables, so a ratio compares the agent with
itself on the same incident, differing only in how the inputs are presented.

When TaskEfficacy(D_0) = 0 the ratio is undefined (the agent failed the unperturbed task, so there is no robustness
to measure): that term is kept in the report with its reason and left out of the mean; if every term is undefined,
Adaptivity is ``None`` with the reason (see :func:`opsgym.scoring.metrics.adaptivity`).

(The package exposes the function :func:`adaptivity` as ``opsgym.scoring.adaptivity``; import this module's other
names with ``from opsgym.scoring.adaptivity import ...``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from pydantic import BaseModel, Field

from opsgym import plugins
from opsgym.agents.base import play_episode as agent_loop
from opsgym.errors import ScoringConfigError
from opsgym.scoring import metrics as m

__all__ = ["AdaptivityReport", "Episode", "adaptivity", "play_episode"]

MAX_EPISODE_STEPS = 10_000
"""A guard for envs without a step budget of their own (opsgym envs truncate at their ``max_steps``)."""


class Episode(BaseModel):
    """One played episode of the paired design."""

    seed: int
    perturbation: str | None
    task_efficacy: float | None
    steps: int
    metrics: dict[str, Any] = Field(default_factory=dict, exclude=True)


class AdaptivityReport(BaseModel):
    """Adaptivity with every term and episode, so a report can show which variant hurt and why."""

    env_id: str
    agent: str
    perturbations: list[str]
    seeds: list[int]
    value: float | None
    reason: str = ""
    defined: int
    undefined: int
    terms: list[dict[str, Any]]
    episodes: list[Episode]


def _make_agent(agent: Any) -> Any:
    if isinstance(agent, str):
        return plugins.create("agent", agent)
    return agent


def play_episode(env: gym.Env, agent: Any, seed: int, *, metrics_key: str = "metrics") -> tuple[dict[str, Any], int]:
    """Play one episode to its end; return the metrics record and the number of steps."""
    try:
        end = agent_loop(env, agent, seed=seed, max_steps=MAX_EPISODE_STEPS)
    except RuntimeError as exc:
        raise ScoringConfigError(str(exc)) from None
    if metrics_key not in end.info:
        raise ScoringConfigError(f"the env gave no info[{metrics_key!r}] at the end of the episode; "
                                 "make it with scoring on (gym.make(id) does so for opsgym ids)")
    return end.info[metrics_key], end.steps


def adaptivity(env_id: str, agent: Any, perturbations: Sequence[str], seeds: Sequence[int], *,
               metrics_key: str = "metrics", **make_kwargs: Any) -> AdaptivityReport:
    """Run the paired episodes and compute Adaptivity = (1/k)·Σ TaskEfficacy(D_i)/TaskEfficacy(D_0).

    Args:
        env_id: a Gymnasium id (``"opsgym/SRE-1"``); made with ``perturbation=<name>`` for each variant.
        agent: a registered agent name or an agent object (``reset(seed=, env=)`` and ``act(obs, info)``).
        perturbations: the variants D_1..D_k; each may compose several with ``+`` (``"reorder-fields+noise"``).
        seeds: the seeds to pair on; every seed is played once on D_0 and once per variant.
        make_kwargs: passed to ``gym.make`` for every variant (``backend=``, ``max_steps=``, ``profile=`` …).
    """
    if not perturbations:
        raise ScoringConfigError("adaptivity needs at least one perturbation, e.g. ['reorder-fields', 'noise']")
    if not seeds:
        raise ScoringConfigError("adaptivity needs at least one seed")
    player = _make_agent(agent)
    episodes: list[Episode] = []
    for variant in (None, *perturbations):
        kwargs = dict(make_kwargs) | ({"perturbation": variant} if variant else {})
        env = gym.make(env_id, **kwargs)
        try:
            for seed in seeds:
                record, steps = play_episode(env, player, int(seed), metrics_key=metrics_key)
                episodes.append(Episode(seed=int(seed), perturbation=variant, task_efficacy=record["TaskEfficacy"],
                                        steps=steps, metrics=record))
        finally:
            env.close()
    base = {e.seed: e.task_efficacy or 0.0 for e in episodes if e.perturbation is None}
    variants = [e for e in episodes if e.perturbation is not None]
    score = m.adaptivity([(base[e.seed], e.task_efficacy or 0.0) for e in variants])
    terms = [{"seed": e.seed, "perturbation": e.perturbation, "base": t.base, "perturbed": t.perturbed,
              "ratio": t.ratio, "term": t.term, "reason": t.reason} for e, t in zip(variants, score.terms, strict=True)]
    return AdaptivityReport(env_id=env_id, agent=agent if isinstance(agent, str) else type(agent).__name__,
                            perturbations=list(perturbations), seeds=[int(s) for s in seeds], value=score.value,
                            reason=score.reason, defined=score.defined, undefined=score.undefined, terms=terms,
                            episodes=episodes)
