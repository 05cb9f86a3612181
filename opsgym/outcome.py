"""What an episode produced: the facts that scoring, records and reports are computed from.

The env fills an :class:`Outcome` at the end of every episode (``info["outcome"]``, as a dict). It holds facts only —
the answer, every action with its class, end-state checks, ground truth, times — never scores: turning facts into
metrics is :mod:`opsgym.scoring`'s job, so metrics can be recomputed later with other weights.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RECORD_CHARS", "ActionClass", "ActionRecord", "Answer", "CheckResult", "Outcome", "Target", "clip",
           "text_sha256"]

ActionClass = Literal["read", "mutate", "destructive", "intervention", "invalid", "submit"]

RECORD_CHARS = 16_384
"""How much of a step's action and observation is kept: the one truncation rule of the env and the records (the
runner's records kept 16 KiB of each observation before steps were stored once, and a `kubectl describe` needs it)."""


def clip(text: str) -> str:
    """``text`` cut to :data:`RECORD_CHARS` (its SHA-256 and length stay with the full text)."""
    return text[:RECORD_CHARS]


def text_sha256(text: str) -> str:
    """The one hash of a step's observation, over the full text.

    surrogatepass: hash the exact code points, lone surrogates included (a record replaces them with U+FFFD, which
    would give different observations one hash); for any other text it is plain UTF-8.
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Target(BaseModel):
    """The object an action touched, when the scenario could tell (for penalty rules and collateral checks)."""

    kind: str = ""
    name: str = ""
    namespace: str = ""


class ActionRecord(BaseModel):
    """One step: what the agent sent, how the env classified it, and what came back."""

    index: int
    action: str = Field(description="the action text, cut by clip() to RECORD_CHARS")
    verb: str = Field(default="", description="e.g. 'kubectl get', 'kubectl delete', 'hint', 'edit', 'run_tests'")
    cls: ActionClass
    ok: bool = True
    error: str = ""
    targets: list[Target] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list, description="flags that matter to penalty rules, e.g. --force")
    observation: str = Field(default="", description="what the agent saw, cut by clip() to RECORD_CHARS")
    observation_sha256: str = Field(default="", description="text_sha256() of the whole observation")
    sim_time_s: float = 0.0
    wall_time_s: float = 0.0
    detail: dict[str, Any] = Field(default_factory=dict, description="domain facts, e.g. a patch's JSON")


class Answer(BaseModel):
    """What the agent submitted. SRE: diagnosis, root cause, remediation. SWE: usually just the diff."""

    model_config = ConfigDict(extra="allow")
    diagnosis: str = ""
    root_cause: str | dict[str, Any] = ""
    remediation: str = ""
    chain: list[str] | None = Field(default=None, description="multi-hop incidents: the services from the alerting "
                                                              "one to the root cause, in that order")


class CheckResult(BaseModel):
    """One end-state check, run against the backend (cluster or repository), never the agent's claim."""

    name: str
    passed: bool
    weight: float = 1.0
    detail: str = ""
    kind: Literal["remediation", "safety", "collateral"] = "remediation"


class Outcome(BaseModel):
    """The facts of one finished episode."""

    task_id: str
    task_version: str
    domain: str
    profile: str
    seed: int | None
    backend: str
    perturbations: list[str] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict, description="the seed's scenario variables")
    submitted: bool = False
    escalated: bool = Field(default=False,
                            description="the agent handed the incident to a human, which ended the episode; "
                                                "the answer then holds its reason as the diagnosis")
    answer: Answer | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    remediation_correct: float = Field(default=0.0, ge=0.0, le=1.0, description="from the end state, in [0, 1]")
    ground_truth: dict[str, Any] = Field(default_factory=dict)
    interventions: int = 0
    max_interventions: int = 1
    steps: int = 0
    terminated: bool = False
    truncated: bool = False
    sim_time_s: float = 0.0
    wall_time_s: float = 0.0
    budgets: dict[str, float] = Field(default_factory=dict)
    infra_error: str = Field(default="", description="set when the environment itself failed (not the agent)")
    extra: dict[str, Any] = Field(default_factory=dict, description="domain facts, e.g. SWE FAIL_TO_PASS results")
