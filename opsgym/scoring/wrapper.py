"""ScoringWrapper: turns an episode's outcome into the unified metrics, the way RecordEpisodeStatistics records stats.

It passes observations, actions and infos through untouched. Only on the step that ends an episode (terminated or
truncated) does it read ``info["outcome"]`` (an :class:`~opsgym.outcome.Outcome` or its dict), score it, write the
metrics record to ``info[metrics_key]`` and make the terminal reward the chosen metric (TaskEfficacy by default).
It works around any env that provides that outcome, not only opsgym's; with an :class:`~opsgym.env.OpsEnv` inside it
also reads the task's ``profile_overrides`` and the episode's LLM :class:`~opsgym.llm.telemetry.Ledger`.
"""

from __future__ import annotations

import time
from typing import Any, SupportsFloat

import gymnasium as gym

from opsgym.errors import ScoringConfigError
from opsgym.llm.telemetry import ledger_of
from opsgym.scoring.judge import Judge, make_judge
from opsgym.scoring.profiles import DEFAULT_PROFILE, Overrides, Profile, resolve_profile
from opsgym.scoring.scorer import METRIC_NAMES, ErrorPrices, compute, gather_inputs

__all__ = ["ScoringWrapper"]


class ScoringWrapper(gym.Wrapper):
    """Adds the seed's unified metrics to every finished episode.

    Args:
        env: the env to score; it must put the episode's outcome in ``info["outcome"]`` on the final step.
        profile: a profile name (``sre``, ``ciso``, ``finops``, ``swe``), a :class:`Profile` or an inline mapping;
            default: the outcome's own profile (the task's).
        judge: an LLM judge for free-text answers — a :class:`Judge`, an ``--llm`` spec such as ``"hf-naive"``, or a
            backend object; ``None`` records that no judge was used.
        metrics_key: the info key the record is written to (only on the final step).
        reward_metric: the metric that becomes the terminal reward (one of :data:`METRIC_NAMES`).
        weights: per-run overrides in the profile's shape, merged over the task's ``profile_overrides``.
        price: a price name or :class:`opsgym.llm.pricing.Price` for calls that carry no cost (e.g. ``"gpt-4o"``).
        error_prices: what an unresolved incident and a harmful action cost (ErrorCost).
        episodes_per_min: a measured throughput (a parallel runner knows it; one episode alone does not).
    """

    def __init__(self, env: gym.Env, profile: str | Profile | dict[str, Any] | None = None,
                 judge: Judge | str | Any | None = None, metrics_key: str = "metrics",
                 reward_metric: str = "TaskEfficacy", weights: Overrides | None = None, *, price: Any = None,
                 error_prices: ErrorPrices | None = None, episodes_per_min: float | None = None) -> None:
        super().__init__(env)
        if reward_metric not in METRIC_NAMES:
            raise ScoringConfigError(f"reward_metric {reward_metric!r} is not one of {', '.join(METRIC_NAMES)}")
        self.profile = profile
        self.weights = weights
        self.judge = make_judge(judge)
        self.metrics_key = metrics_key
        self.reward_metric = reward_metric
        self.price = price
        self.error_prices = error_prices
        self.episodes_per_min = episodes_per_min
        self.last_metrics: dict[str, Any] | None = None
        self.last_scoring_s = 0.0
        self._scored = False
        task = getattr(env.unwrapped, "task", None)
        self._resolve(getattr(task, "profile", None) or DEFAULT_PROFILE, getattr(task, "id", None))  # fail fast

    def _task_overrides(self, task_id: str | None) -> Overrides | None:
        task = getattr(self.env.unwrapped, "task", None)
        if task is None or (task_id is not None and getattr(task, "id", None) != task_id):
            return None
        return getattr(task, "profile_overrides", None) or None

    def _resolve(self, default: str, task_id: str | None) -> Profile:
        return resolve_profile(self.profile, default=default, task_overrides=self._task_overrides(task_id),
                               run_overrides=self.weights)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        self._scored = False
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not (terminated or truncated):
            return obs, reward, terminated, truncated, info
        if self._scored:  # stepping a finished episode again: repeat the record, do not score twice
            if self.last_metrics is not None:
                info[self.metrics_key] = self.last_metrics
            return obs, reward, terminated, truncated, info
        if "outcome" not in info:
            raise ScoringConfigError(
                "ScoringWrapper needs info['outcome'] on the step that ends an episode; the wrapped env "
                f"{self.env.unwrapped!r} did not provide it (see opsgym.outcome.Outcome)")
        if self.metrics_key in info:
            raise ScoringConfigError(f"info already has a {self.metrics_key!r} key; pass another metrics_key")
        record = self.score(info["outcome"])
        info[self.metrics_key] = record
        return obs, float(record["reward"]), terminated, truncated, info

    def score(self, outcome: Any) -> dict[str, Any]:
        """Score one outcome (``Outcome`` or its dict) now; also what :meth:`step` calls at the end of an episode."""
        t0 = time.perf_counter()
        data = outcome if isinstance(outcome, dict) else outcome.model_dump(mode="json")
        ledger = ledger_of(self.env)  # the episode's ledger, read where the runner reads it
        llm = ledger.summary() if ledger is not None and ledger.calls else None
        inputs = gather_inputs(data, llm=llm, judge=self.judge, price=self.price, error_prices=self.error_prices,
                               episodes_per_min=self.episodes_per_min)
        profile = self._resolve(data.get("profile") or DEFAULT_PROFILE, data.get("task_id"))
        record = compute(inputs, profile, reward_metric=self.reward_metric)
        self.last_scoring_s = time.perf_counter() - t0
        record["scoring_s"] = self.last_scoring_s
        self.last_metrics = record
        self._scored = True
        return record
