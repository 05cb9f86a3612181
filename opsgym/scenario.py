"""The domain half of an env: what the world is, which actions act on it, and how its end state is judged.

:class:`opsgym.env.OpsEnv` owns what every task shares (spaces, step budget, ``submit``/``hint``/``ask``/``escalate``,
invalid input, the outcome); a :class:`Scenario` owns the domain (a Kubernetes cluster for SRE, a sandboxed repository
for SWE). Scenarios never raise for agent input: a bad action comes back as an :class:`ActionResult` with ``ok=False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from opsgym.outcome import ActionClass, Answer, CheckResult, Target

__all__ = ["ActionResult", "Evaluation", "Scenario", "Tool"]


@dataclass(frozen=True)
class Tool:
    """A verb the agent may use, with its usage line (shown in the first observation and on bad input)."""

    verb: str
    usage: str
    summary: str
    aliases: tuple[str, ...] = ()
    """Other first words that route an action to this tool without being verbs of their own (``cat`` for
    ``cat <<EOF | kubectl apply -f -``): agents that pick from the verbs do not see them."""


@dataclass
class ActionResult:
    """What one domain action did."""

    observation: str
    cls: ActionClass
    verb: str = ""
    ok: bool = True
    error: str = ""
    targets: list[Target] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    sim_cost_s: float = 5.0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """The end state, judged by the backend: checks and the RemediationCorrect input in [0, 1]."""

    checks: list[CheckResult]
    remediation_correct: float
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Scenario(Protocol):
    """A domain's world. Built by ``scenario_class(task, backend=..., **options)``."""

    tools: tuple[Tool, ...]

    def reset(self, seed: int) -> tuple[str, dict[str, Any]]:
        """Build the episode's world for ``seed``; return the alert/problem text and the seed's variables."""

    def execute(self, action: str) -> ActionResult:
        """Run one domain action (its verb is one of ``tools``). Never raises for agent input."""

    def observe_answer(self, answer: Answer) -> None:
        """See the submitted answer before evaluation (SWE uses it to know a diff was submitted). May do nothing."""

    def evaluate(self) -> Evaluation:
        """Judge the end state (cluster or repository), never the agent's claim."""

    def now(self) -> float:
        """The world's clock in seconds (virtual on the embedded cluster, wall elsewhere)."""

    def close(self) -> None:
        """Release the world (cluster namespace, workspace, sandbox processes)."""
