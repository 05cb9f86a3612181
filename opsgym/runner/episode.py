"""Playing one episode and turning it into an :class:`~opsgym.record.EpisodeRecord`, whatever happens.

This is the code every executor runs (in-process, in a worker process, in a Ray worker). It never raises: a failure
becomes a record whose error says whose fault it was. The rule: anything the env, its backend, the LLM server or the
sandbox raises is **infrastructure**; anything the agent's own code raises is the **agent's** — except an
:class:`~opsgym.errors.InfrastructureError` raised through the agent (its LLM server went away). An episode in which
an LLM call was marked ``infra_failure`` is also infrastructure: its score would measure the outage, not the agent.
So is an env that returns what the runner cannot record (an ``info["outcome"]`` that is no
:class:`~opsgym.outcome.Outcome`, a reward that is no number), and, as a last resort, a bug in the runner itself.

Envs and agents are cached per process and reused across episodes (``reset`` rebuilds the world), which is what
makes a worker fast after its first episode. An env that failed is closed and dropped, so the retry of its episode
starts from a fresh one rather than from whatever state the failure left behind.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from opsgym import plugins
from opsgym.agent_input import plain_text
from opsgym.agents.base import Agent, act, reset_agent
from opsgym.errors import InfrastructureError
from opsgym.llm.base import LLMBackend, create_backend
from opsgym.llm.telemetry import Ledger, ledger_of
from opsgym.outcome import Outcome, clip, text_sha256
from opsgym.record import EpisodeError, EpisodeRecord, ErrorKind, RunSpec, StepRecord

if TYPE_CHECKING:
    import gymnasium as gym

__all__ = ["EpisodeRunner", "StepProgress", "runtime_versions"]

StepProgress = Callable[[dict[str, Any]], None]
"""Called after every step with ``{"step", "tokens", "cost_usd"}`` (tokens and cost of that step's LLM calls)."""

MAX_STEPS_GUARD = 10_000
_ENV_STAGES = frozenset({"reset", "step", "outcome", "env"})
"""Where a failure leaves the env itself in doubt (so it is not reused)."""
_VERSIONED = ("opsgym", "gymnasium", "numpy", "pydantic", "kubernetes", "openai", "torch", "transformers", "vllm",
              "ray")


@cache
def runtime_versions() -> dict[str, str]:
    """Python, platform and the versions of the packages that can change a result (those installed)."""
    versions = {"python": platform.python_version(), "platform": platform.platform(), "host": socket.gethostname()}
    for dist in _VERSIONED:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _as_text(action: Any) -> str:
    """What a step's record says the agent did: a text action's plain characters (as the env ran them), else str()."""
    text = plain_text(action)
    return str(action) if text is None else text


class _Failure(Exception):
    """Internal: carries a classified failure out of the episode loop."""

    def __init__(self, kind: ErrorKind, where: str, exc: BaseException, step: int | None = None) -> None:
        super().__init__(str(exc))
        self.error = EpisodeError(kind=kind, type=type(exc).__name__, message=str(exc)[:4000], where=where, step=step,
                                  traceback="".join(traceback.format_exception(exc))[-8000:])


def _kind_of_agent_error(exc: BaseException) -> ErrorKind:
    return "infrastructure" if isinstance(exc, InfrastructureError) else "agent"


class EpisodeRunner:
    """Runs episodes for one process, keeping a few envs and every agent/LLM backend warm between them.

    Args:
        observation_chars: how much of the first observation a record keeps (a step keeps what
            :func:`~opsgym.outcome.clip` keeps, as the env's own record does).
        max_cached_envs: envs kept open at once (each may hold a cluster); the least recently used is closed.
        executor: the executor's name, written into each record's spec.
    """

    def __init__(self, *, observation_chars: int = 16_384, max_cached_envs: int = 4, executor: str = "serial") -> None:
        self.observation_chars = observation_chars
        self.max_cached_envs = max_cached_envs
        self.executor = executor
        self._envs: OrderedDict[str, gym.Env[Any, Any]] = OrderedDict()
        self._env_key = ""
        self._agents: dict[str, Agent] = {}
        self._llms: dict[str, LLMBackend] = {}
        self._ledger: Ledger | None = None

    # ----------------------------------------------------------------------------------------------- caches
    def _env(self, spec: RunSpec) -> gym.Env[Any, Any]:
        import gymnasium as gym

        import opsgym  # noqa: F401  (registers opsgym/* ids in this process)

        kwargs = dict(spec.env_kwargs)
        if spec.perturbation:
            kwargs["perturbation"] = spec.perturbation
        key = self._env_key = json.dumps([spec.env_id, kwargs], sort_keys=True, default=str)
        if key in self._envs:
            self._envs.move_to_end(key)
            return self._envs[key]
        env = gym.make(spec.env_id, **kwargs)
        self._envs[key] = env
        while len(self._envs) > self.max_cached_envs:
            _, old = self._envs.popitem(last=False)
            old.close()
        return env

    def _drop_env(self, error: EpisodeError) -> None:
        """Close and forget the env the episode failed in; a failure to close it is added to ``error``."""
        env = self._envs.pop(self._env_key, None)
        if env is None:
            return
        try:
            env.close()
        except Exception as exc:
            error.message += f" (closing the failed env then raised {type(exc).__name__}: {exc})"

    def _llm(self, spec: RunSpec) -> LLMBackend | None:
        if spec.llm is None:
            return None
        key = json.dumps([spec.llm, spec.llm_config], sort_keys=True, default=str)
        if key not in self._llms:
            self._llms[key] = create_backend(spec.llm, **spec.llm_config)
        return self._llms[key]

    def _agent(self, spec: RunSpec, llm: LLMBackend | None) -> Agent:
        key = json.dumps([spec.agent, spec.agent_config, spec.llm, spec.llm_config], sort_keys=True, default=str)
        if key not in self._agents:
            config = dict(spec.agent_config, **({"llm": llm} if llm is not None else {}))
            self._agents[key] = plugins.create("agent", spec.agent, **config)
        return self._agents[key]

    def close(self) -> None:
        """Close every cached env and LLM backend (a backend may own a server process)."""
        while self._envs:
            self._envs.popitem()[1].close()
        for backend in self._llms.values():
            closer = getattr(backend, "close", None)
            if callable(closer):
                closer()
        self._llms.clear()
        self._agents.clear()

    # ----------------------------------------------------------------------------------------------- episode
    def run(self, spec: RunSpec, attempt: int = 1, on_step: StepProgress | None = None) -> EpisodeRecord:
        """Play ``spec`` once and return its record (never raises for env, agent or backend failures)."""
        spec = spec.model_copy(update={"versions": runtime_versions(), "executor": self.executor})
        record = EpisodeRecord(status="completed", spec=spec, attempt=attempt, started_at=time.time(),
                               worker=f"pid {os.getpid()}@{socket.gethostname()}")
        t0 = time.perf_counter()
        self._ledger = None
        self._env_key = ""
        try:
            self._play(spec, record, on_step)
        except _Failure as failure:
            record.error = failure.error
        except Exception as exc:  # a runner bug must cost one episode (recorded, retried), never the run
            record.error = _Failure("infrastructure", "runner", exc).error
        if record.error is not None:
            record.status = "agent_failure" if record.error.kind == "agent" else "infra_failure"
            if record.error.kind == "infrastructure" and record.error.where in _ENV_STAGES:
                self._drop_env(record.error)
        ledger, self._ledger = self._ledger, None
        if ledger is not None:
            record.llm_calls = [call.model_copy(deep=True) for call in ledger.calls]
            record.llm_summary = ledger.summary()
            self._flag_llm_outage(record)
        record.finished_at = time.time()
        record.duration_s = time.perf_counter() - t0
        return record

    def _play(self, spec: RunSpec, record: EpisodeRecord, on_step: StepProgress | None) -> None:
        try:
            env = self._env(spec)
        except Exception as exc:
            raise _Failure("infrastructure", "make", exc) from exc
        try:
            llm = self._llm(spec)
        except Exception as exc:
            raise _Failure("infrastructure", "llm", exc) from exc
        if llm is not None:
            record.spec.model = self._model_identity(llm)
        try:
            agent = self._agent(spec, llm)
        except Exception as exc:
            raise _Failure(_kind_of_agent_error(exc), "agent", exc) from exc
        t_reset = time.perf_counter()
        try:
            observation, info = env.reset(seed=spec.seed)
        except Exception as exc:
            raise _Failure("infrastructure", "reset", exc) from exc
        record.reset_s = time.perf_counter() - t_reset
        record.observation0 = str(observation)[: self.observation_chars]
        ledger = self._ledger = ledger_of(env)
        try:
            reset_agent(agent, seed=spec.seed, env=env)
        except Exception as exc:
            raise _Failure(_kind_of_agent_error(exc), "agent.reset", exc) from exc
        self._loop(env, agent, ledger, observation, info, record, on_step)

    def _loop(self, env: gym.Env[Any, Any], agent: Agent, ledger: Ledger | None, observation: Any,
              info: dict[str, Any], record: EpisodeRecord, on_step: StepProgress | None) -> None:
        seen_calls = len(ledger.calls) if ledger is not None else 0
        for index in range(MAX_STEPS_GUARD):
            t_act = time.perf_counter()
            try:
                action = act(agent, env, observation, info)
            except Exception as exc:
                raise _Failure(_kind_of_agent_error(exc), "act", exc, index) from exc
            t_step = time.perf_counter()
            try:
                observation, reward, terminated, truncated, info = env.step(action)
            except Exception as exc:
                raise _Failure("infrastructure", "step", exc, index) from exc
            t_end = time.perf_counter()
            calls = ledger.calls[seen_calls:] if ledger is not None else []
            obs_text = str(observation)
            try:
                reward = float(reward)
            except (TypeError, ValueError) as exc:
                raise _Failure("infrastructure", "step", exc, index) from exc
            record.steps.append(StepRecord(
                # a str subclass is recorded as the characters the env ran, not what its own __str__ claims; the
                # env's record of the step replaces this view of it when the outcome comes (_finish)
                index=index, action=clip(_as_text(action)), observation=clip(obs_text),
                observation_sha256=text_sha256(obs_text),
                observation_chars=len(obs_text), reward=reward, agent_s=t_step - t_act, env_s=t_end - t_step,
                llm_call_ids=list(range(seen_calls, seen_calls + len(calls))),
            ))
            seen_calls += len(calls)
            record.total_reward += reward
            if on_step is not None:
                tokens = sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) for c in calls)
                on_step({"step": index, "tokens": tokens, "cost_usd": sum(c.cost_usd or 0.0 for c in calls)})
            if terminated or truncated:
                record.reward, record.terminated, record.truncated = reward, bool(terminated), bool(truncated)
                self._finish(record, info)
                return
        raise _Failure("infrastructure", "step",
                       RuntimeError(f"the env did not end the episode within {MAX_STEPS_GUARD} steps"))

    @staticmethod
    def _finish(record: EpisodeRecord, info: dict[str, Any]) -> None:
        raw = info.get("outcome")
        if raw is not None:
            try:
                outcome = raw if isinstance(raw, Outcome) else Outcome.model_validate(raw)
            except ValidationError as exc:  # the env's own contract broken: its fault, and nothing to score
                raise _Failure("infrastructure", "outcome", exc, len(record.steps) - 1) from exc
            record.outcome = outcome
            record.spec.task_id = outcome.task_id or record.spec.task_id  # a suite's env ran this task
            record.spec.task_version = outcome.task_version
            joined = [step.joined(action) for step, action in zip(record.steps, outcome.actions, strict=False)]
            record.steps[: len(joined)] = joined
            if outcome.infra_error:
                record.status = "infra_failure"
                record.error = EpisodeError(kind="infrastructure", type="EnvironmentFailure",
                                            message=outcome.infra_error, where="env")
        metrics = info.get("metrics")
        if isinstance(metrics, dict):
            record.metrics = json.loads(json.dumps(metrics, default=str))

    @staticmethod
    def _flag_llm_outage(record: EpisodeRecord) -> None:
        failed = [c for c in record.llm_calls if c.infra_failure]
        if failed and record.status != "infra_failure":
            record.status = "infra_failure"
            record.error = EpisodeError(kind="infrastructure", type="LLMInfrastructureFailure", where="llm",
                                        message=f"{len(failed)} LLM call(s) failed on the server side; first: "
                                                f"{failed[0].error}")

    @staticmethod
    def _model_identity(llm: LLMBackend) -> dict[str, Any]:
        describe = getattr(llm, "describe", None)
        if callable(describe):
            return dict(describe())
        return {k: str(getattr(llm, k)) for k in ("name", "model", "model_sha256", "revision") if hasattr(llm, k)}
