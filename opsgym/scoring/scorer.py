"""Outcome + telemetry → metrics record, in two steps so any metric can be recomputed with other weights.

:func:`gather_inputs` does everything that needs the episode (structured matching, the judge, penalty rules, time,
memory, LLM telemetry, prices) and returns :class:`ScoringInputs` — facts only, no weights. :func:`compute` turns
inputs and a :class:`~opsgym.scoring.profiles.Profile` into the scores; it is pure and cheap, and :func:`recompute`
calls it on a stored record. Every record keeps its inputs beside its scores.

Definitions this module fixes (documented in the record as ``*_method`` fields):

* time to solution: on a virtual clock (the embedded cluster) the world's simulated time plus the agent's own wall
  time between steps; on a real clock, the episode's wall time. ``Outcome.sim_time_s`` is already the agent's: a
  scenario's clock (``Scenario.now``) leaves out the time it spends judging the end state, so nothing more is taken
  off here (it once was, twice: every SRE episode's time to solution came out as the agent's wall time alone).
* throughput: a single episode's rate, 60 / wall seconds (a parallel runner may pass its measured rate instead).
* peak memory: the scoring process's peak RSS (agent and in-process models included), or ``extra["peak_memory_mb"]``.
* inference cost: the ledger's ``cost_usd``; else tokens or time × the chosen price; unknown with no LLM calls.
* infra cost: ``extra["infra_cost_usd"]`` or per-action ``detail["infra_cost_usd"]``; 0 when no action could add
  infrastructure (only kubectl scaling or resource changes can, see
  :func:`~opsgym.scoring.actions.may_add_infrastructure`); unknown when such actions happened without a price.
* error cost: ``unresolved_incident_usd × (1 − RemediationCorrect) + harmful_action_usd × Penalty``.
* DiagCorrect and RootCauseCorrect in Accuracy: the answer's grade (``DiagGraded``, ``RootCauseGraded``: structured
  or judged, times entity precision over ``outcome.extra["entities"]``) times ``AnswerCredit``, the share of it an
  episode keeps given RemediationCorrect (the profile's ``unresolved.answer_credit``, see
  :func:`~opsgym.scoring.metrics.answer_credit`).
* DiagRecall, RootCauseRecall (entity recall) and ChainMatch, ChainExact (:mod:`~opsgym.scoring.chain`, for tasks whose
  ground truth names a propagation chain): reported among the components, read by no score.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from opsgym.errors import ScoringConfigError
from opsgym.outcome import Outcome
from opsgym.scoring import metrics as m
from opsgym.scoring.actions import may_add_infrastructure, parse_action
from opsgym.scoring.chain import ChainMatch, chain_match
from opsgym.scoring.correctness import Correctness, diag_correct, root_cause_correct
from opsgym.scoring.judge import Judge
from opsgym.scoring.penalties import Firing, evaluate_rules
from opsgym.scoring.profiles import Overrides, Profile, resolve_profile
from opsgym.tasks import Budgets

__all__ = ["METRICS_VERSION", "METRIC_NAMES", "ErrorPrices", "MetricsRecord", "ScoringInputs", "compute",
           "gather_inputs", "recompute"]

METRICS_VERSION = 1
"""Version of the metrics record (:class:`MetricsRecord`: ``info["metrics"]``, ``EpisodeRecord.metrics``).

Not the episode record's :data:`opsgym.record.RECORD_VERSION`: the two change for different reasons (a new score or
input here; a new step layout there), so each has its own number."""
METRIC_NAMES = ("TaskEfficacy", "Accuracy", "Usefulness", "CompEff", "EconEff", "OpEff", "Efficiency")


class ErrorPrices(BaseModel):
    """What mistakes cost, for ErrorCost (USD)."""

    unresolved_incident_usd: float = Field(default=0.5, ge=0, description="× (1 − RemediationCorrect)")
    harmful_action_usd: float = Field(default=0.5, ge=0, description="× Penalty_operational")


class ScoringInputs(BaseModel):
    """The raw facts every score is computed from (no weights)."""

    task_id: str
    seed: int | None
    domain: str
    default_profile: str
    perturbations: list[str] = Field(default_factory=list)
    diag: Correctness
    root_cause: Correctness
    chain: ChainMatch | None = Field(default=None, description="how much of ground_truth.chain the answer traces "
                                     "(informational: no score reads it)")
    remediation_correct: float
    remediation_source: str = "end-state checks of the backend"
    checks: list[dict[str, Any]] = Field(default_factory=list)
    firings: list[Firing] = Field(default_factory=list)
    interventions: int
    max_interventions: int
    sim_time_s: float
    wall_time_s: float
    agent_time_s: float
    virtual_clock: bool
    time_to_solution_s: float
    time_method: str
    episodes_per_min: float | None
    throughput_method: str
    peak_memory_mb: float | None
    memory_method: str
    llm: dict[str, Any] | None = Field(default=None, description="the episode's Ledger.summary(); None = unknown")
    inference_cost_usd: float | None
    inference_method: str
    infra_cost_usd: float | None
    infra_method: str
    error_prices: ErrorPrices = Field(default_factory=ErrorPrices)
    budgets: dict[str, float]


class MetricsRecord(BaseModel):
    """What :func:`compute` produces: the seven scores, the reward, and everything needed to recompute them.

    ``info["metrics"]`` and records keep it as its plain dict (Gymnasium infos are dicts); validate a stored one with
    ``MetricsRecord.model_validate``. Extra keys are kept: the scoring wrapper adds ``scoring_s``.
    """

    model_config = ConfigDict(extra="allow")

    version: int = METRICS_VERSION
    TaskEfficacy: float | None
    Accuracy: float | None
    Usefulness: float | None
    CompEff: float | None
    EconEff: float | None
    OpEff: float | None
    Efficiency: float | None
    reward_metric: str
    reward: float
    profile: dict[str, Any] = Field(description="the resolved profile the scores were computed with")
    components: dict[str, Any] = Field(description="DiagCorrect, Penalty, LatencyScore … (None = unknown)")
    penalties: list[dict[str, Any]] = Field(description="fired rules: rule, weight, actions, checks, details")
    unknown: list[str] = Field(description="inputs that were unknown (scored neutrally)")
    judge: dict[str, Any] | None = None
    inputs: dict[str, Any] = Field(description="ScoringInputs as JSON: what recompute() starts from")


def _peak_memory_mb(outcome: Outcome) -> tuple[float | None, str]:
    if isinstance(outcome.extra.get("peak_memory_mb"), (int, float)):
        return float(outcome.extra["peak_memory_mb"]), "reported by the scenario (extra.peak_memory_mb)"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024 if sys.platform == "darwin" else 1024), "peak RSS of the scoring process"


def _inference_cost(llm: dict[str, Any] | None, price: Any) -> tuple[float | None, str]:
    if not llm or not llm.get("requests"):
        return None, "unknown: no LLM calls were recorded through opsgym's backends"
    if llm.get("cost_usd") is not None:
        return float(llm["cost_usd"]), "sum of the ledger's per-call cost_usd"
    from opsgym.llm.pricing import get_price

    p = get_price(price)
    if p is None:
        return None, "unknown: the calls carry no cost and no price was given"
    if p.usd_per_hour is not None and llm.get("latency_s") is not None:
        return p.time_cost(llm["latency_s"]), f"LLM busy time × {p.usd_per_hour} $/h"
    if llm.get("prompt_tokens") is not None and llm.get("completion_tokens") is not None:
        cost = p.tokens_cost(llm["prompt_tokens"], llm.get("cached_prompt_tokens") or 0, llm["completion_tokens"])
        if cost is not None:
            return cost, "tokens × per-token price"
    return None, "unknown: the ledger lacks the tokens or times the price needs"


def _infra_cost(outcome: Outcome) -> tuple[float | None, str]:
    if isinstance(outcome.extra.get("infra_cost_usd"), (int, float)):
        return float(outcome.extra["infra_cost_usd"]), "reported by the scenario (extra.infra_cost_usd)"
    priced = [a.detail["infra_cost_usd"] for a in outcome.actions
              if a.ok and isinstance(a.detail.get("infra_cost_usd"), (int, float))]
    if priced:
        return float(sum(priced)), "sum of the actions' detail.infra_cost_usd"
    costly = [a.index for a in outcome.actions if may_add_infrastructure(parse_action(a))]
    if costly:
        return None, f"unknown: actions {costly} may add infrastructure but carry no price"
    return 0.0, "no action could add infrastructure"


def gather_inputs(outcome: Outcome | Mapping[str, Any], *, llm: dict[str, Any] | None = None,
                  judge: Judge | None = None, price: Any = None, error_prices: ErrorPrices | None = None,
                  episodes_per_min: float | None = None) -> ScoringInputs:
    """Collect the facts of one finished episode. ``llm`` is the episode Ledger's ``summary()`` when there is one."""
    o = outcome if isinstance(outcome, Outcome) else Outcome.model_validate(outcome)
    answer = o.answer.model_dump() if o.answer is not None else None
    step_wall = sum(a.wall_time_s for a in o.actions)
    agent_time = max(0.0, o.wall_time_s - step_wall)
    virtual = bool(o.extra.get("virtual_time", o.backend == "sim"))
    if virtual:
        tts = max(0.0, o.sim_time_s) + agent_time
        time_method = "simulated world time (end-state judging left out by the scenario) + the agent's wall time " \
                      "between steps"
    else:
        tts, time_method = o.wall_time_s, "episode wall time"
    if episodes_per_min is None:
        episodes_per_min = 60.0 / o.wall_time_s if o.wall_time_s > 0 else None
        throughput_method = "one episode: 60 / wall seconds"
    else:
        throughput_method = "measured by the caller"
    memory, memory_method = _peak_memory_mb(o)
    inference, inference_method = _inference_cost(llm, price)
    infra, infra_method = _infra_cost(o)
    candidates = [str(e) for e in o.extra.get("entities") or [] if isinstance(e, str)]
    return ScoringInputs(
        task_id=o.task_id, seed=o.seed, domain=o.domain, default_profile=o.profile, perturbations=o.perturbations,
        diag=diag_correct(answer, o.ground_truth, judge, candidates),
        root_cause=root_cause_correct(answer, o.ground_truth, judge, candidates),
        chain=chain_match(answer, o.ground_truth),
        remediation_correct=o.remediation_correct, checks=[c.model_dump() for c in o.checks],
        firings=evaluate_rules(o), interventions=o.interventions, max_interventions=o.max_interventions,
        sim_time_s=o.sim_time_s, wall_time_s=o.wall_time_s, agent_time_s=agent_time, virtual_clock=virtual,
        time_to_solution_s=tts, time_method=time_method, episodes_per_min=episodes_per_min,
        throughput_method=throughput_method, peak_memory_mb=memory, memory_method=memory_method, llm=llm,
        inference_cost_usd=inference, inference_method=inference_method, infra_cost_usd=infra,
        infra_method=infra_method, error_prices=error_prices or ErrorPrices(), budgets=dict(o.budgets),
    )


def _budget(inputs: ScoringInputs, key: str) -> float:
    return float(inputs.budgets.get(key, Budgets.model_fields[key].default))


def compute(inputs: ScoringInputs, profile: Profile, *, reward_metric: str = "TaskEfficacy") -> dict[str, Any]:
    """Every score for ``inputs`` under ``profile``: a :class:`MetricsRecord`, as its JSON-ready dict."""
    w, name = profile.weights, profile.name
    fired: dict[str, dict[str, Any]] = {}
    for f in inputs.firings:
        entry = fired.setdefault(f.rule, {"rule": f.rule, "weight": profile.penalties[f.rule], "actions": [],
                                          "checks": [], "details": []})
        if f.action_index is not None:
            entry["actions"].append(f.action_index)
        if f.check is not None:
            entry["checks"].append(f.check)
        entry["details"].append(f.detail)
    pen = m.penalty([e["weight"] for e in fired.values()])
    credit = m.answer_credit(inputs.remediation_correct, profile.unresolved_answer_credit)
    diag = None if inputs.diag.score is None else inputs.diag.score * credit
    rca = None if inputs.root_cause.score is None else inputs.root_cause.score * credit
    acc = m.accuracy(diag, rca, inputs.remediation_correct, w["accuracy"], profile=name)
    use = m.usefulness(pen)
    efficacy = m.task_efficacy(acc, use, w["task_efficacy"], profile=name)
    error_cost = (inputs.error_prices.unresolved_incident_usd * (1.0 - inputs.remediation_correct)
                  + inputs.error_prices.harmful_action_usd * pen)
    comp = m.comp_eff(inputs.time_to_solution_s, inputs.peak_memory_mb, inputs.episodes_per_min, w["comp_eff"],
                      budget_s=_budget(inputs, "time_to_solution_s"), budget_mb=_budget(inputs, "memory_mb"),
                      budget_eps_per_min=_budget(inputs, "throughput_eps_per_min"), profile=name)
    econ = m.econ_eff(inputs.inference_cost_usd, inputs.infra_cost_usd, error_cost, w["econ_eff"],
                      inference_budget_usd=_budget(inputs, "inference_cost_usd"),
                      infra_budget_usd=_budget(inputs, "infra_cost_usd"),
                      error_budget_usd=_budget(inputs, "error_cost_usd"), profile=name)
    op = m.op_eff(inputs.interventions, inputs.max_interventions)
    eff = m.efficiency(comp, econ, op, w["efficiency"], profile=name)
    scores = {"TaskEfficacy": efficacy, "Accuracy": acc, "Usefulness": use, "CompEff": comp, "EconEff": econ,
              "OpEff": op, "Efficiency": eff}
    if reward_metric not in scores:
        raise ScoringConfigError(f"reward_metric {reward_metric!r} is not one of {', '.join(METRIC_NAMES)}")
    unknown = [k for k, v in (("DiagCorrect", inputs.diag.score), ("RootCauseCorrect", inputs.root_cause.score),
                              ("PeakMemory", inputs.peak_memory_mb), ("InferenceCost", inputs.inference_cost_usd),
                              ("InfraCost", inputs.infra_cost_usd), ("Throughput", inputs.episodes_per_min))
               if v is None]
    components = {
        "DiagCorrect": diag, "RootCauseCorrect": rca, "RemediationCorrect": inputs.remediation_correct,
        "DiagGraded": inputs.diag.score, "RootCauseGraded": inputs.root_cause.score, "AnswerCredit": credit,
        "DiagPrecision": _entity(inputs.diag, "precision"), "DiagRecall": _entity(inputs.diag, "recall"),
        "RootCausePrecision": _entity(inputs.root_cause, "precision"),
        "RootCauseRecall": _entity(inputs.root_cause, "recall"),
        "ChainMatch": inputs.chain.score if inputs.chain else None,
        "ChainExact": inputs.chain.exact if inputs.chain else None, "Penalty": pen,
        "LatencyScore": m.latency_score(inputs.time_to_solution_s, _budget(inputs, "time_to_solution_s")),
        "MemoryScore": m.memory_score(inputs.peak_memory_mb, _budget(inputs, "memory_mb")),
        "ThroughputScore": m.throughput_score(inputs.episodes_per_min, _budget(inputs, "throughput_eps_per_min")),
        "InferenceCostScore": m.cost_score(inputs.inference_cost_usd, _budget(inputs, "inference_cost_usd")),
        "InfraCostScore": m.cost_score(inputs.infra_cost_usd, _budget(inputs, "infra_cost_usd")),
        "ErrorCostScore": m.cost_score(error_cost, _budget(inputs, "error_cost_usd")), "ErrorCost": error_cost,
    }
    return MetricsRecord.model_validate({
        **scores, "reward_metric": reward_metric, "reward": scores[reward_metric] or 0.0,
        "profile": profile.model_dump(), "components": components, "penalties": list(fired.values()),
        "unknown": unknown, "judge": _judge_summary(inputs), "inputs": inputs.model_dump(mode="json"),
    }).model_dump()


def _entity(correctness: Correctness, measure: Literal["precision", "recall"]) -> float | None:
    """Entity precision or recall of a free-text answer; None for an object answer or an episode without entities."""
    entities = correctness.entities
    return None if entities is None else entities.precision if measure == "precision" else entities.recall


def _judge_summary(inputs: ScoringInputs) -> dict[str, Any] | None:
    verdicts = {k: c.judge.model_dump() for k, c in (("diag", inputs.diag), ("root_cause", inputs.root_cause))
                if c.judge is not None}
    return verdicts or None


def recompute(record: Mapping[str, Any], weights: Overrides | None = None, *, profile: str | Profile | None = None,
              reward_metric: str | None = None) -> dict[str, Any]:
    """Re-score a stored metrics record from its inputs: with ``weights`` merged over its profile, or another profile.

    Example: ``recompute(info["metrics"], {"accuracy": {"diag": 0.1, "rca": 0.8, "rem": 0.1}})``.
    """
    inputs = ScoringInputs.model_validate(record["inputs"])
    base: Any = profile if profile is not None else Profile.model_validate(record["profile"])
    resolved = resolve_profile(base, run_overrides=weights)
    return compute(inputs, resolved, reward_metric=reward_metric or record.get("reward_metric", "TaskEfficacy"))
