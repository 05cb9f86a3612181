"""Test double: a tiny opsgym-shaped env with switchable faults, for testing the runner without a cluster.

It has what the runner relies on in a real opsgym env — Text spaces, ``unwrapped.ledger``, ``oracle_solution()``,
``tools``, ``info["outcome"]`` (an :class:`~opsgym.outcome.Outcome`) and ``info["metrics"]`` at the end — and can be
told to fail in each way the runner must classify. Importable as ``opsgym_doubles`` (this folder is on ``sys.path``
under pytest, and spawned workers inherit it); the runner reaches it as ``opsgym_doubles:opsgym-test/Double-v0``.
"""

from __future__ import annotations

import json
import os
import string
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from opsgym.errors import InfrastructureError
from opsgym.llm.telemetry import Ledger, LLMCall
from opsgym.outcome import ActionRecord, Outcome
from opsgym.scenario import Tool

ENV_ID = "opsgym_doubles:opsgym-test/Double-v0"
SOLUTION = ["look", "fix", 'submit {"diagnosis": "broken", "root_cause": "config", "remediation": "fix"}']


class DoubleEnv(gym.Env[str, str]):
    """Fixed by ``fix``, ended by ``submit``; faults are switched on per seed by keyword arguments.

    Args:
        perturbation: recorded in the outcome and prefixed to observations (so runs can vary it).
        max_steps: the step budget.
        reset_infra_seeds: ``reset`` raises InfrastructureError for these seeds (every attempt).
        crash_seeds / crash_dir: the process dies (``os._exit``) on the first step of these seeds, once per seed
            (a marker file in ``crash_dir`` remembers the crash), like a worker killed by the OOM killer.
        break_seeds: the first step of these seeds (once per seed, a marker file in ``crash_dir``) raises
            InfrastructureError and leaves this env object broken — every later ``reset`` of it raises too, as an env
            whose cluster connection died would.
        bad_oracle_seeds: ``oracle_solution`` raises, so the oracle agent fails in ``agent.reset``.
        llm_tokens: each step logs a fake LLM call with this many prompt tokens into the ledger.
        llm_outage_seeds: for these seeds the fake call is an infrastructure failure (server unreachable).
        gate / gate_from_seed: episodes with seed ≥ gate_from_seed wait in ``step`` until the file ``gate`` exists.
    """

    metadata = {"render_modes": []}

    def __init__(self, perturbation: str | None = None, max_steps: int = 5, reset_infra_seeds: list[int] = (),
                 crash_seeds: list[int] = (), crash_dir: str = "", break_seeds: list[int] = (),
                 bad_oracle_seeds: list[int] = (),
                 llm_tokens: int = 0, llm_outage_seeds: list[int] = (), gate: str = "", gate_from_seed: int = 0):
        self.observation_space = spaces.Text(max_length=4096, min_length=0, charset=string.printable)
        self.action_space = spaces.Text(max_length=4096, min_length=0, charset=string.printable)
        self.perturbation, self.max_steps = perturbation, max_steps
        self.reset_infra_seeds, self.bad_oracle_seeds = set(reset_infra_seeds), set(bad_oracle_seeds)
        self.crash_seeds, self.crash_dir = set(crash_seeds), crash_dir
        self.break_seeds, self.broken = set(break_seeds), False
        self.llm_tokens, self.llm_outage_seeds = llm_tokens, set(llm_outage_seeds)
        self.gate, self.gate_from_seed = gate, gate_from_seed
        self.tools = (Tool("look", "look", "look around"), Tool("fix", "fix", "fix it"),
                      Tool("submit", "submit {json}", "answer"))
        self.ledger = Ledger()

    def _obs(self, text: str) -> str:
        return f"[{self.perturbation}] {text}" if self.perturbation else text

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self.seed_ = int(seed or 0)
        if self.seed_ in self.reset_infra_seeds or self.broken:
            raise InfrastructureError(f"double: cluster unreachable for seed {self.seed_}")
        self.ledger.clear()
        self.fixed, self.steps, self.actions = False, 0, []
        return self._obs(f"alert: service {self.seed_} is down"), {"seed": self.seed_}

    def oracle_solution(self) -> list[str]:
        if self.seed_ in self.bad_oracle_seeds:
            raise ValueError(f"double: no solution for seed {self.seed_}")
        return list(SOLUTION)

    def _wait_for_gate(self) -> None:
        if self.gate and self.seed_ >= self.gate_from_seed:
            while not Path(self.gate).exists():
                time.sleep(0.01)

    def _first_time(self, seeds: set[int], what: str) -> bool:
        marker = Path(self.crash_dir) / f"{what}-{self.seed_}"
        if self.seed_ not in seeds or marker.exists():
            return False
        marker.touch()
        return True

    def _maybe_crash(self) -> None:
        if self._first_time(self.crash_seeds, "crashed"):
            os._exit(13)
        if self._first_time(self.break_seeds, "broke"):
            self.broken = True
            raise InfrastructureError(f"double: connection lost in step of seed {self.seed_}")

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self._wait_for_gate()
        self._maybe_crash()
        if self.llm_tokens:
            outage = self.seed_ in self.llm_outage_seeds
            self.ledger.record(LLMCall(backend="double", model="double-1", messages=[{"role": "user", "content": "x"}],
                                       output=action, prompt_tokens=self.llm_tokens, cached_prompt_tokens=0,
                                       completion_tokens=10, prefill_s=0.01, decode_s=0.02, latency_s=0.03,
                                       cost_usd=0.001, error="connection refused" if outage else "",
                                       infra_failure=outage))
        self.steps += 1
        verb = action.split(" ", 1)[0]
        self.fixed = self.fixed or verb == "fix"
        cls = {"look": "read", "fix": "mutate", "submit": "submit"}.get(verb, "invalid")
        obs = self._obs(f"did {verb}")
        self.actions.append(ActionRecord(index=len(self.actions), action=action, verb=verb, cls=cls, observation=obs))
        terminated = verb == "submit"
        truncated = not terminated and self.steps >= self.max_steps
        info: dict[str, Any] = {"seed": self.seed_}
        reward = 0.0
        if terminated or truncated:
            answer = json.loads(action.split(" ", 1)[1]) if terminated else None
            correct = 1.0 if self.fixed else 0.0
            outcome = Outcome(task_id="Double", task_version="7", domain="sre", profile="sre", seed=self.seed_,
                              backend="double", perturbations=[self.perturbation] if self.perturbation else [],
                              submitted=terminated, answer=answer, actions=self.actions, remediation_correct=correct,
                              ground_truth={"diagnosis": "broken", "root_cause": "config"}, steps=self.steps,
                              terminated=terminated, truncated=truncated)
            reward = 0.5 + 0.5 * correct if terminated else 0.0
            info["outcome"] = outcome.model_dump(mode="json")
            info["metrics"] = {"TaskEfficacy": reward, "Accuracy": correct, "Efficiency": 1.0 / self.steps,
                               "inputs": {"steps": self.steps, "fixed": self.fixed}}
        return obs, reward, terminated, truncated, info


gym.register("opsgym-test/Double-v0", entry_point="opsgym_doubles:DoubleEnv")
