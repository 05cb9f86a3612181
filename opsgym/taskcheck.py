"""``opsgym task check``: is a task's grader sound? Play the agents that must pass and those that must not.

A task is only as good as its end-state checks. Over a few seeds this plays, through the real env (``make_env``,
scoring included), the oracle (it must reach TaskEfficacy 1.0 with every check green), a do-nothing agent and the
random agent (neither may be marked fixed), and the anti-gaming probes: an agent that knows the ground truth and
submits it after a blunt move on the case's service — scale to zero, delete and re-create the Deployment, remove its
probes (both, or only readiness, or only liveness: a task may rightly let a fix change one of them), ``sleep
infinity`` as the command, point the Service at another app's pods. A probe marked fixed means a check is missing or
``repairable`` is wider than the fault. A no-fault control (``control: true``) turns the do-nothing rule around:
saying "nothing is wrong" without touching anything is its right answer.

Everything here returns data (:class:`TaskReport`); the command in :mod:`opsgym.commands.task` only prints it.
"""

from __future__ import annotations

import functools
import json
import shlex
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from opsgym import plugins
from opsgym.agents.base import Agent, play_episode
from opsgym.domain import get_domain
from opsgym.env import make_env
from opsgym.errors import OpsGymError
from opsgym.tasks import TaskSpec, load_task

__all__ = ["AGENTS", "PROBES", "Gate", "Live", "Row", "ScriptedAgent", "TaskReport", "check_task",
           "ground_truth_answer", "parse_seed_range", "read_live", "resolve_task", "verdict"]

GATING = ("remediation", "safety")
"""Check kinds that decide RemediationCorrect (collateral checks are reported, not gating)."""
LIVE_ONLY = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")
"""Metadata the API server writes; a manifest made from a live object drops it (with ``status``)."""


# --------------------------------------------------------------------------------------------------------- probes
@dataclass(frozen=True)
class Live:
    """The case's objects as the agent finds them after reset, read once per seed with kubectl (every reset of the
    seed restores the same objects), so each probe is a fixed list of actions."""

    service: str
    namespace: str
    deployment: dict[str, Any] | None
    services: list[dict[str, Any]]

    @property
    def containers(self) -> list[dict[str, Any]]:
        spec = ((self.deployment or {}).get("spec") or {}).get("template", {}).get("spec") or {}
        return list(spec.get("containers") or [])


def _json_patch(kind: str, live: Live, ops: list[dict[str, Any]]) -> list[str]:
    if not ops:
        return []
    patch = shlex.quote(json.dumps(ops))
    return [f"kubectl patch {kind} {live.service} -n {live.namespace} --type json -p {patch}"]


def _scale_to_zero(live: Live) -> list[str]:
    return [f"kubectl scale deployment {live.service} -n {live.namespace} --replicas=0"]


def _recreate(live: Live) -> list[str]:
    """Delete the Deployment and create it again from its own live manifest (fresh pods, same spec)."""
    if live.deployment is None:
        return []
    manifest = {k: v for k, v in live.deployment.items() if k != "status"}
    meta = {k: v for k, v in manifest.get("metadata", {}).items() if k not in LIVE_ONLY}
    meta["annotations"] = {k: v for k, v in (meta.get("annotations") or {}).items()
                           if k != "deployment.kubernetes.io/revision"}
    manifest["metadata"] = meta
    return [f"kubectl delete deployment {live.service} -n {live.namespace}",
            "kubectl create -f - <<EOF\n" + json.dumps(manifest, indent=2) + "\nEOF"]


def _remove_probes(live: Live, probes: tuple[str, ...] = ("readinessProbe", "livenessProbe")) -> list[str]:
    return _json_patch("deployment", live, [{"op": "remove", "path": f"/spec/template/spec/containers/{i}/{probe}"}
                                            for i, c in enumerate(live.containers) for probe in probes if probe in c])


def _sleep_infinity(live: Live) -> list[str]:
    """Every container runs ``sleep infinity``: nothing crashes, nothing serves."""
    ops: list[dict[str, Any]] = []
    for i, c in enumerate(live.containers):
        ops.append({"op": "add", "path": f"/spec/template/spec/containers/{i}/command", "value": ["sleep", "infinity"]})
        if "args" in c:
            ops.append({"op": "remove", "path": f"/spec/template/spec/containers/{i}/args"})
    return _json_patch("deployment", live, ops)


def _point_service_elsewhere(live: Live) -> list[str]:
    """The case's Service selects another Service's pods (healthy ones answer in its place)."""
    own = next((s for s in live.services if s["metadata"]["name"] == live.service), None)
    if own is None:
        return []
    mine = own["spec"].get("selector")
    others = [s["spec"]["selector"] for s in live.services if s["spec"].get("selector") not in (None, {}, mine)]
    return _json_patch("service", live, [{"op": "replace", "path": "/spec/selector", "value": others[0]}]
                       if others else [])


PROBES: dict[str, Callable[[Live], list[str]]] = {
    "scale-to-zero": _scale_to_zero,
    "delete-recreate": _recreate,
    "remove-probes": _remove_probes,
    "remove-readiness": functools.partial(_remove_probes, probes=("readinessProbe",)),
    "remove-liveness": functools.partial(_remove_probes, probes=("livenessProbe",)),
    "sleep-infinity": _sleep_infinity,
    "service-elsewhere": _point_service_elsewhere,
}
"""Blunt moves on ``${service}`` in ``${namespace}`` that must never count as the fix."""


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def read_live(env: gym.Env[Any, Any]) -> Live:
    """Read the case's Deployment and the namespace's Services through the env's kubectl, right after reset."""
    variables: dict[str, Any] = getattr(env.unwrapped, "variables", {})
    service, namespace = str(variables.get("service", "")), str(variables.get("namespace", ""))
    deployment = _json_or_none(env.step(f"kubectl get deployment {service} -n {namespace} -o json")[0])
    listing = _json_or_none(env.step(f"kubectl get services -n {namespace} -o json")[0])
    return Live(service, namespace, deployment if isinstance(deployment, dict) else None,
                list(listing.get("items") or []) if isinstance(listing, dict) else [])


def _fill(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return string.Template(value).safe_substitute(variables)
    if isinstance(value, dict):
        return {k: _fill(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, variables) for v in value]
    return value


def ground_truth_answer(task: TaskSpec, variables: dict[str, Any]) -> dict[str, Any]:
    """The submit an agent that knows the answer would send: the task's ground truth for this seed."""
    gt = task.ground_truth
    answer: dict[str, Any] = {"diagnosis": gt.diagnosis,
                              "root_cause": gt.root_cause.model_dump() if gt.root_cause else "",
                              "remediation": gt.remediation}
    if gt.chain:
        answer["chain"] = gt.chain
    return _fill(answer, variables)


class ScriptedAgent:
    """Plays fixed kubectl actions, then submits the ground truth (no actions: the do-nothing agent).

    The worst case for a grader: the diagnosis is right, only the fix is a cheat, so nothing but the end-state
    checks can tell it apart.
    """

    def __init__(self, actions: Sequence[str] = ()) -> None:
        self.actions = list(actions)
        self._plan: list[str] = []
        self._answer: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, env: gym.Env[Any, Any] | None = None) -> None:
        if env is None:
            raise ValueError("a scripted agent needs the env: reset(env=env)")
        opsenv: Any = env.unwrapped  # privileged, like the oracle: the seed's variables and ground truth
        self._answer = ground_truth_answer(opsenv.task, dict(opsenv.variables))
        self._plan = list(self.actions)

    def act(self, observation: str, info: dict[str, Any]) -> str:
        return self._plan.pop(0) if self._plan else "submit " + json.dumps(self._answer)


# --------------------------------------------------------------------------------------------------------- report
@dataclass(frozen=True)
class Row:
    """One episode: a seed and an agent or probe, its scores, and whether it did what the grader needs."""

    seed: int
    agent: str
    efficacy: float
    remediation: float
    failed: list[str]
    passed_gating: list[str]
    ok: bool
    problem: str = ""
    notes: str = ""


@dataclass(frozen=True)
class Gate:
    """What reset showed for one seed: the alert's first line and, where the scenario reports it, the gate states."""

    seed: int
    alert: str
    observed: Any = None
    error: str = ""


@dataclass
class TaskReport:
    """Every row of one task check, with the gate per seed."""

    task_id: str
    source: str
    control: bool
    seeds: list[int]
    rows: list[Row] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows) and not any(g.error for g in self.gates)

    def failures(self) -> list[str]:
        """One line per failure, naming the seed and what went wrong."""
        out = [f"{self.task_id} seed {g.seed} reset: {g.error}" for g in self.gates if g.error]
        return out + [f"{self.task_id} seed {r.seed} {r.agent}: {r.problem}" for r in self.rows if not r.ok]


def verdict(agent: str, control: bool, efficacy: float, remediation: float, checks: list[dict[str, Any]],
            mutated: bool) -> str:
    """Why this row fails the task check ("" if it does what the grader needs). ``checks`` as in the outcome."""
    fixed = remediation >= 1.0
    failed = [c["name"] for c in checks if not c["passed"]]
    if agent == "oracle":
        if efficacy >= 1.0 and not failed:
            return ""
        return f"oracle scored TaskEfficacy {efficacy:.2f}; failed checks: {', '.join(failed) or 'none'}"
    if agent == "do-nothing" and control:
        return "" if fixed else f"doing nothing on a control was not marked correct; failed: {', '.join(failed)}"
    if agent == "random" and control:
        return f"random mutated the app and scored TaskEfficacy {efficacy:.2f}" if mutated and efficacy >= 1.0 else ""
    if not fixed:
        return ""
    # a probe's blunt move is what the safety checks are for; an idle agent leaves them green by right
    kinds = GATING if agent.startswith("probe:") else ("remediation",)
    wrong = [c["name"] for c in checks if c["passed"] and c.get("kind", "remediation") in kinds]
    return f"marked fixed (RemediationCorrect {remediation:.2f}); checks that passed but should not have: " \
           f"{', '.join(wrong)}"


def _shortfall(metrics: dict[str, Any]) -> str:
    """The score components that kept an episode under 1.0 (e.g. ``DiagCorrect 0.80``, a fired penalty rule), so a
    task author sees whether the oracle's answer or its actions cost the points."""
    costs = ("Penalty", "ErrorCost")
    parts = [f"{k} {v:.2f}" for k, v in (metrics.get("components") or {}).items()
             if isinstance(v, (int, float)) and (v > 0 if k in costs else v < 1)]
    return ", ".join(parts + [f"penalty {p['rule']}" for p in metrics.get("penalties") or []])


def _agent(name: str, live: Live) -> Agent:
    if name in ("oracle", "random"):
        return plugins.create("agent", name)
    probe = PROBES.get(name.removeprefix("probe:"))
    return ScriptedAgent(probe(live) if probe else ())


def _play(env: gym.Env[Any, Any], name: str, seed: int, control: bool, live: Live) -> Row:
    try:
        end = play_episode(env, _agent(name, live), seed=seed)
    except Exception as exc:  # a task bug must show as a failed row, not abort the other rows
        return Row(seed, name, 0.0, 0.0, [], [], False, f"episode raised {type(exc).__name__}: {exc}")
    outcome, metrics = end.info.get("outcome") or {}, end.info.get("metrics") or {}
    checks = outcome.get("checks", [])
    failed = [c["name"] for c in checks if not c["passed"]]
    passed_gating = [c["name"] for c in checks if c["passed"] and c.get("kind") in GATING]
    actions = outcome.get("actions", [])
    mutated = any(a["cls"] in ("mutate", "destructive") and a["ok"] for a in actions)
    errors = [f"{a['action'].splitlines()[0][:60]}: {a['error'][:80]}" for a in actions
              if not a["ok"] and a["cls"] != "submit"]
    notes = [f"action failed: {e}" for e in errors] if name != "random" else []
    if name == "random" and mutated:
        notes.append("mutated the app")
    if name.startswith("probe:") and not mutated:
        notes.append("changed nothing (not applicable to this task)")
    efficacy = float(metrics.get("TaskEfficacy") or 0.0)
    remediation = float(outcome.get("remediation_correct", 0.0))
    problem = verdict(name, control, efficacy, remediation, checks, mutated)
    if problem and name == "oracle":
        problem += f"; below full marks: {_shortfall(metrics) or 'nothing'}" + "".join(f"; {n}" for n in notes)
    return Row(seed, name, efficacy, remediation, failed, passed_gating, not problem, problem, "; ".join(notes))


def _gate(env: gym.Env[Any, Any], seed: int) -> tuple[Gate, Live | None]:
    """Reset to ``seed``: what the gate saw, and the case's objects the probes start from."""
    try:
        obs, info = env.reset(seed=seed)
    except Exception as exc:  # the fault never showed: no row of this seed can be played
        return Gate(seed, "", None, f"reset raised {type(exc).__name__}: {exc}"), None
    observed = info.get("observed", getattr(env.unwrapped, "variables", {}).get("observed"))
    return Gate(seed, obs.splitlines()[0] if obs else "", observed), read_live(env)


AGENTS = ("oracle", "do-nothing", "random", *(f"probe:{p}" for p in PROBES))
"""Every row of a seed, in the order they are played."""


def check_task(task: TaskSpec, seeds: Sequence[int], *, backend: str = "sim", source: str = "",
               progress: Callable[[Row], None] | None = None) -> TaskReport:
    """Play every agent and probe of :data:`AGENTS` on ``task`` for each seed; one env serves them all (each reset
    restores the seed's loaded scenario)."""
    if get_domain(task.domain).backend_kind != "cluster backend":
        raise OpsGymError(f"{task.id} is a {task.domain} task; task check plays cluster (SRE) tasks")
    control = bool(getattr(task.section, "control", False))
    report = TaskReport(task.id, source or task.id, control, list(seeds))
    env = make_env(task, backend=backend)
    try:
        for seed in seeds:
            gate, live = _gate(env, seed)
            report.gates.append(gate)
            if live is None:
                continue
            for name in AGENTS:
                row = _play(env, name, seed, control, live)
                report.rows.append(row)
                if progress is not None:
                    progress(row)
    finally:
        env.close()
    return report


def resolve_task(ref: str | Path) -> tuple[TaskSpec, str]:
    """A task folder (registered or not) or a registered id, and how to name it in the report."""
    path = Path(ref)
    if path.exists():
        return load_task(path), str(path)
    return plugins.get("task", str(ref)).factory, str(ref)


def parse_seed_range(text: str) -> list[int]:
    """``A:B`` → seeds A..B, both included (``0:4`` is five seeds)."""
    first, colon, last = text.partition(":")
    try:
        lo, hi = int(first), int(last)
    except ValueError:
        lo, hi = 0, -1
    if not colon or lo < 0 or hi < lo:
        raise OpsGymError(f"bad seed range {text!r}: write A:B with 0 <= A <= B, e.g. 0:4")
    return list(range(lo, hi + 1))
