"""Test helpers for scoring: hand-made outcomes, and a tiny env that ends with one (no cluster needed)."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym

from opsgym import plugins
from opsgym.env import CHARSET
from opsgym.outcome import ActionRecord, Answer, CheckResult, Outcome, Target
from opsgym.runtime.opsgym_runtime import format_line
from opsgym.scoring import ScoringWrapper

GROUND_TRUTH = {
    "diagnosis": "checkout cannot reach the payment service",
    "diagnosis_keywords": [["checkout"], ["unreachable", "refused", "cannot reach"]],
    "root_cause": {"kind": "Deployment", "name": "payment", "field": "spec.replicas", "namespace": ""},
    "root_cause_keywords": [["replicas", "scaled"]],
    "remediation": "kubectl scale deploy/payment --replicas=1",
}


def action(index: int, text: str, cls: str = "read", *, ok: bool = True, targets: list[Target] | None = None,
           flags: list[str] | None = None, observation: str = "", detail: dict[str, Any] | None = None,
           wall: float = 0.01) -> ActionRecord:
    """An action as an env would record it."""
    return ActionRecord(index=index, action=text, cls=cls, ok=ok, targets=targets or [], flags=flags or [],
                        observation=observation, detail=detail or {}, wall_time_s=wall, sim_time_s=5.0)


def outcome(*, actions: list[ActionRecord] | None = None, checks: list[CheckResult] | None = None,
            answer: dict[str, Any] | None = None, remediation: float = 1.0, interventions: int = 0,
            extra: dict[str, Any] | None = None, **kw: Any) -> Outcome:
    """A finished SRE episode; every fact can be overridden."""
    fields: dict[str, Any] = dict(
        task_id="TOY-1", task_version="1", domain="sre", profile="sre", seed=0, backend="sim",
        submitted=answer is not None, answer=Answer.model_validate(answer) if answer is not None else None,
        actions=actions or [], checks=checks or [CheckResult(name="payment ready", passed=remediation == 1.0)],
        remediation_correct=remediation, ground_truth=GROUND_TRUTH, interventions=interventions,
        max_interventions=3, steps=len(actions or []), terminated=True, sim_time_s=60.0, wall_time_s=2.0,
        budgets={"time_to_solution_s": 300.0, "memory_mb": 1e6, "throughput_eps_per_min": 1.0,
                 "inference_cost_usd": 0.10, "infra_cost_usd": 0.05, "error_cost_usd": 1.0},
        extra=extra or {},
    )
    fields.update(kw)
    return Outcome(**fields)


GOOD_ANSWER = {"diagnosis": "checkout errors: payment unreachable (connection refused)",
               "root_cause": {"kind": "deploy", "name": "payment", "field": "replicas"},
               "remediation": "scaled payment back to 1 replica"}


# ------------------------------------------------------------------------------------------------ a tiny env
DEPENDENCIES = ("payment", "cart", "shipping")


class ToyIncidentEnv(gym.Env):
    """checkout fails because one dependency is down; the logs (JSON lines) say which. Used to test the wrapper
    and Adaptivity end to end without a cluster: it applies perturbations to every observation like OpsEnv does."""

    metadata = {"render_modes": []}

    def __init__(self, perturbation: str | None = None, max_steps: int = 8) -> None:
        self.observation_space = gym.spaces.Text(4096, charset=CHARSET)
        self.action_space = gym.spaces.Text(4096, charset=CHARSET)
        names = [n for n in (perturbation or "").split("+") if n]
        self.perturbations = [plugins.create("perturbation", n) for n in names]
        self.perturbation_names = names
        self.max_steps = max_steps

    def _obs(self, text: str) -> str:
        for p in self.perturbations:
            text = p.observation(text)
        return text

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.seed_ = int(seed or 0)
        for p in self.perturbations:
            p.reset(self.seed_)
        self.down = DEPENDENCIES[self.seed_ % len(DEPENDENCIES)]
        self.fixed: str | None = None
        self.actions: list[ActionRecord] = []
        self.interventions = 0
        return self._obs("ALERT checkout error rate high. Actions: logs, restore NAME, hint, submit {json}"), {}

    def _logs(self) -> str:
        lines = [format_line("json", 1700000000 + i, "info", "checkout", "order placed", {"order": i})
                 for i in range(3)]
        lines.append(format_line("json", 1700000010, "error", "checkout", "dependency unreachable",
                                 {"dependency": self.down, "latency_ms": 2500}))
        return "\n".join(lines)

    def step(self, action: str):
        verb, _, rest = action.partition(" ")
        cls, obs = "read", ""
        if verb == "logs":
            obs = self._logs()
        elif verb == "restore":
            cls, self.fixed, obs = "mutate", rest.strip(), f"restored {rest.strip()}"
        elif verb == "hint":
            cls, obs = "intervention", f"Hint: look at {self.down}"
            self.interventions += 1
        elif verb == "submit":
            cls, obs = "submit", "submitted"
        else:
            cls, obs = "invalid", "unknown action"
        obs = self._obs(obs)
        self.actions.append(action_record := ActionRecord(index=len(self.actions), action=action, cls=cls,
                                                          observation=obs, wall_time_s=0.001, sim_time_s=5.0))
        terminated = action_record.cls == "submit"
        truncated = not terminated and len(self.actions) >= self.max_steps
        info: dict[str, Any] = {}
        if terminated or truncated:
            answer = json.loads(rest) if terminated and rest.strip() else None
            truth = {"diagnosis_keywords": [["unreachable", "down"]],
                     "root_cause": {"kind": "Deployment", "name": self.down, "field": "", "namespace": ""}}
            info["outcome"] = Outcome(
                task_id="TOY-1", task_version="1", domain="sre", profile="sre", seed=self.seed_, backend="sim",
                perturbations=self.perturbation_names, submitted=answer is not None,
                answer=Answer.model_validate(answer) if answer else None, actions=self.actions,
                checks=[CheckResult(name=f"{self.down} restored", passed=self.fixed == self.down)],
                remediation_correct=1.0 if self.fixed == self.down else 0.0, ground_truth=truth,
                interventions=self.interventions, max_interventions=2, steps=len(self.actions),
                terminated=terminated, truncated=truncated, sim_time_s=5.0 * len(self.actions), wall_time_s=0.01,
            ).model_dump(mode="json")
        return obs, 0.0, terminated, truncated, info


def submit(name: str) -> str:
    return "submit " + json.dumps({"diagnosis": f"{name} is down, checkout calls are unreachable",
                                   "root_cause": {"kind": "Deployment", "name": name}, "remediation": "restore"})


class ToyOracle:
    """Privileged: knows which dependency is down."""

    def reset(self, *, seed=None, env=None, ledger=None):
        self.plan = [f"restore {env.unwrapped.down}", submit(env.unwrapped.down)]

    def act(self, observation, info):
        return self.plan.pop(0)


class FieldGrepper:
    """Reads the logs and greps the JSON field "dependency" — brittle under schema and format drift."""

    def reset(self, *, seed=None, env=None, ledger=None):
        self.step = 0

    def act(self, observation, info):
        import re

        self.step += 1
        if self.step == 1:
            return "logs"
        if self.step == 2:
            found = re.search(r'"dependency": "(\w+)"', observation)
            self.guess = found.group(1) if found else "unknown"
            return f"restore {self.guess}"
        return submit(self.guess)


def make_scored_toy(**kwargs: Any) -> gym.Env:
    scoring = {k: kwargs.pop(k) for k in ("profile", "weights", "reward_metric") if k in kwargs}
    return ScoringWrapper(ToyIncidentEnv(**kwargs), **scoring)
