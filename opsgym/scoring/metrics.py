"""The seed paper's unified metrics (§2.2.3) as pure functions of their inputs.

Every function here is deterministic and side-effect free, so a record's raw inputs can be re-scored later with other
weights (:func:`opsgym.scoring.record.recompute`). Conventions, applied everywhere:

* Weights of one formula are validated: non-negative, summing to 1 within :data:`WEIGHT_TOLERANCE`; otherwise
  :class:`~opsgym.errors.ScoringConfigError` names the profile, the formula and the weights.
* Every score is clamped to [0, 1].
* An input may be ``None`` ("unknown", e.g. inference cost when the agent used no opsgym LLM backend). A weighted sum
  then leaves that component out and rescales the remaining weights; if every component with weight is unknown the
  result is ``None``. Unknown is never silently read as 0 or 1.

The paper writes EconEff as a weighted sum of *costs*, which would grow as a run gets more expensive. Following
``design.md`` §5 each cost is first turned into a score, ``1 - cost / budget`` (clamped), so that EconEff, like every
other metric, is 1 for the best run and 0 for one at or over budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from opsgym.errors import ScoringConfigError

__all__ = [
    "WEIGHT_GROUPS",
    "WEIGHT_TOLERANCE",
    "AdaptivityScore",
    "AdaptivityTerm",
    "accuracy",
    "adaptivity",
    "answer_credit",
    "clamp01",
    "comp_eff",
    "cost_score",
    "econ_eff",
    "efficiency",
    "latency_score",
    "memory_score",
    "op_eff",
    "penalty",
    "task_efficacy",
    "throughput_score",
    "usefulness",
    "validate_weights",
    "weighted_sum",
]

WEIGHT_GROUPS: dict[str, tuple[str, ...]] = {
    "accuracy": ("diag", "rca", "rem"),
    "task_efficacy": ("accuracy", "usefulness"),
    "comp_eff": ("lat", "mem", "thr"),
    "econ_eff": ("inf", "infra", "err"),
    "efficiency": ("comp", "econ", "op"),
}
"""Formula → the names of its weights. ``task_efficacy.accuracy`` is the paper's λ."""

WEIGHT_TOLERANCE = 1e-6
ZERO_EFFICACY = 1e-9
"""TaskEfficacy(D_0) at or below this makes an Adaptivity term undefined (see :func:`adaptivity`)."""


def clamp01(value: float) -> float:
    """Clamp to [0, 1]; NaN is a bug upstream and raises rather than being hidden."""
    if math.isnan(value):
        raise ValueError("a metric input is NaN; the episode's facts are inconsistent")
    return min(1.0, max(0.0, float(value)))


def validate_weights(weights: Mapping[str, float], group: str, *, profile: str = "(custom)") -> dict[str, float]:
    """Check one formula's weights: exactly its names, non-negative, summing to 1.

    Raises:
        ScoringConfigError: naming the profile, the formula and the offending weights.
    """
    expected = WEIGHT_GROUPS.get(group)
    if expected is None:
        raise ScoringConfigError(f"profile {profile!r}: unknown formula {group!r}; known: {', '.join(WEIGHT_GROUPS)}")
    given = dict(weights)
    missing = [k for k in expected if k not in given]
    unknown = [k for k in given if k not in expected]
    if missing or unknown:
        raise ScoringConfigError(
            f"profile {profile!r}, {group} weights {given}: expected exactly {list(expected)}"
            + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else ""))
    bad = {k: v for k, v in given.items() if not isinstance(v, (int, float)) or math.isnan(v) or v < 0}
    if bad:
        raise ScoringConfigError(f"profile {profile!r}, {group} weights {given}: weights must be non-negative numbers, "
                                 f"got {bad}")
    total = sum(given.values())
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise ScoringConfigError(f"profile {profile!r}, {group} weights {given} sum to {total:.6g}, not 1; "
                                 "rescale them so they add up to 1")
    return {k: float(given[k]) for k in expected}


def weighted_sum(components: Mapping[str, float | None], weights: Mapping[str, float], group: str, *,
                 profile: str = "(custom)") -> float | None:
    """Σ w_k · x_k over the known components, with the weights of unknown (``None``) ones spread over the rest."""
    w = validate_weights(weights, group, profile=profile)
    given = {k: components.get(k) for k in w}
    known = {k: clamp01(x) for k, x in given.items() if x is not None}
    mass = sum(w[k] for k in known)
    if mass <= 0.0:
        return None
    return clamp01(sum(w[k] * v for k, v in known.items()) / mass)


# ------------------------------------------------------------------------------------------------ Task Efficacy
def accuracy(diag_correct: float | None, root_cause_correct: float | None, remediation_correct: float | None,
             weights: Mapping[str, float], *, profile: str = "(custom)") -> float | None:
    """Accuracy = w_diag·DiagCorrect + w_rca·RootCauseCorrect + w_rem·RemediationCorrect."""
    parts = {"diag": diag_correct, "rca": root_cause_correct, "rem": remediation_correct}
    return weighted_sum(parts, weights, "accuracy", profile=profile)


def answer_credit(remediation_correct: float, unresolved_share: float) -> float:
    """The share of its diagnosis and root-cause credit an answer keeps: ``unresolved_share`` when the problem is
    still in place (RemediationCorrect 0), all of it when it is gone, linear in between.

    On a mitigation task the answer is a claim and the end state its evidence: an agent that names the cause and
    does nothing about it has not shown that it knew, and has not reduced the risk. DiagCorrect and
    RootCauseCorrect in Accuracy are the graded answer times this credit.
    """
    share = clamp01(unresolved_share)
    return clamp01(share + (1.0 - share) * clamp01(remediation_correct))


def penalty(fired_weights: Sequence[float]) -> float:
    """Penalty_operational = min(1, Σ weights of the fired rules)."""
    if any(w < 0 for w in fired_weights):
        raise ScoringConfigError(f"penalty rule weights must be non-negative, got {list(fired_weights)}")
    return clamp01(sum(fired_weights))


def usefulness(operational_penalty: float) -> float:
    """Usefulness = 1 − Penalty_operational."""
    return clamp01(1.0 - clamp01(operational_penalty))


def task_efficacy(accuracy_score: float | None, usefulness_score: float, weights: Mapping[str, float], *,
                  profile: str = "(custom)") -> float | None:
    """TaskEfficacy = λ·Accuracy + (1−λ)·Usefulness, with λ = ``weights["accuracy"]``."""
    parts = {"accuracy": accuracy_score, "usefulness": usefulness_score}
    return weighted_sum(parts, weights, "task_efficacy", profile=profile)


# --------------------------------------------------------------------------------------------------- Efficiency
def _ratio(numerator: float, denominator: float) -> float:
    if denominator <= 0:
        return 1.0
    return clamp01(numerator / denominator)


def latency_score(time_to_solution_s: float | None, budget_s: float) -> float | None:
    """min(1, budget / time): 1 within budget, halving as the time doubles past it."""
    return None if time_to_solution_s is None else _ratio(budget_s, time_to_solution_s)


def memory_score(peak_memory_mb: float | None, budget_mb: float) -> float | None:
    """min(1, budget / peak memory)."""
    return None if peak_memory_mb is None else _ratio(budget_mb, peak_memory_mb)


def throughput_score(episodes_per_min: float | None, budget_eps_per_min: float) -> float | None:
    """min(1, achieved throughput / budgeted throughput)."""
    if episodes_per_min is None:
        return None
    return clamp01(episodes_per_min / budget_eps_per_min) if budget_eps_per_min > 0 else 1.0


def cost_score(cost_usd: float | None, budget_usd: float) -> float | None:
    """1 − cost / budget, clamped: 1 for a free run, 0 at or over budget (design.md §5)."""
    if cost_usd is None:
        return None
    if budget_usd <= 0:
        raise ScoringConfigError(f"a cost budget must be positive, got {budget_usd}")
    return clamp01(1.0 - cost_usd / budget_usd)


def comp_eff(time_to_solution_s: float | None, peak_memory_mb: float | None, episodes_per_min: float | None,
             weights: Mapping[str, float], *, budget_s: float, budget_mb: float, budget_eps_per_min: float,
             profile: str = "(custom)") -> float | None:
    """CompEff = w_lat·LatencyScore + w_mem·MemoryScore + w_thr·ThroughputScore."""
    parts = {"lat": latency_score(time_to_solution_s, budget_s), "mem": memory_score(peak_memory_mb, budget_mb),
             "thr": throughput_score(episodes_per_min, budget_eps_per_min)}
    return weighted_sum(parts, weights, "comp_eff", profile=profile)


def econ_eff(inference_cost_usd: float | None, infra_cost_usd: float | None, error_cost_usd: float | None,
             weights: Mapping[str, float], *, inference_budget_usd: float, infra_budget_usd: float,
             error_budget_usd: float, profile: str = "(custom)") -> float | None:
    """EconEff = w_inf·(1−InferenceCost/B_inf) + w_infra·(1−InfraCost/B_infra) + w_err·(1−ErrorCost/B_err)."""
    parts = {"inf": cost_score(inference_cost_usd, inference_budget_usd),
             "infra": cost_score(infra_cost_usd, infra_budget_usd),
             "err": cost_score(error_cost_usd, error_budget_usd)}
    return weighted_sum(parts, weights, "econ_eff", profile=profile)


def op_eff(interventions: int, max_allowed: int) -> float:
    """OpEff = 1 − HumanInterventionCount / MaxAllowed (0 once the allowance is used up)."""
    if max_allowed < 1:
        raise ScoringConfigError(f"MaxAllowed interventions must be at least 1, got {max_allowed}")
    if interventions < 0:
        raise ValueError(f"an intervention count cannot be negative, got {interventions}")
    return clamp01(1.0 - interventions / max_allowed)


def efficiency(comp: float | None, econ: float | None, op: float | None, weights: Mapping[str, float], *,
               profile: str = "(custom)") -> float | None:
    """Efficiency = w_comp·CompEff + w_econ·EconEff + w_op·OpEff."""
    return weighted_sum({"comp": comp, "econ": econ, "op": op}, weights, "efficiency", profile=profile)


# --------------------------------------------------------------------------------------------------- Adaptivity
@dataclass(frozen=True)
class AdaptivityTerm:
    """One ratio TaskEfficacy(D_i) / TaskEfficacy(D_0) of a paired episode (same task, same seed)."""

    base: float
    perturbed: float
    ratio: float | None
    """The raw ratio (may exceed 1 when the variant went better); ``None`` when undefined."""
    term: float | None
    """The ratio capped at 1, the value averaged (a lucky variant must not hide a broken one)."""
    reason: str = ""


@dataclass(frozen=True)
class AdaptivityScore:
    """Adaptivity with every term, so a report can show which variant hurt."""

    value: float | None
    terms: list[AdaptivityTerm] = field(default_factory=list)
    defined: int = 0
    undefined: int = 0
    reason: str = ""


def adaptivity(pairs: Sequence[tuple[float, float]]) -> AdaptivityScore:
    """Adaptivity = (1/k)·Σ TaskEfficacy(D_i)/TaskEfficacy(D_0) over the k pairs with a defined ratio.

    When TaskEfficacy(D_0) is 0 (within :data:`ZERO_EFFICACY`) the ratio says nothing about robustness — the agent
    failed the unperturbed task — so that term is *undefined*: kept in ``terms`` with its reason and left out of the
    mean. When no term is defined, Adaptivity is ``None`` with the reason; it is never reported as 0 or 1.
    Each defined term is capped at 1.
    """
    terms: list[AdaptivityTerm] = []
    for base, perturbed in pairs:
        base, perturbed = clamp01(base), clamp01(perturbed)
        if base <= ZERO_EFFICACY:
            terms.append(AdaptivityTerm(base, perturbed, None, None,
                                        "TaskEfficacy(D_0) = 0: the ratio is undefined, so this term is excluded"))
            continue
        ratio = perturbed / base
        terms.append(AdaptivityTerm(base, perturbed, ratio, min(1.0, ratio)))
    defined = [t.term for t in terms if t.term is not None]
    undefined = len(terms) - len(defined)
    if not terms:
        return AdaptivityScore(None, terms, 0, 0, "no perturbed variants were run")
    if not defined:
        return AdaptivityScore(None, terms, 0, undefined,
                               "every unperturbed episode scored TaskEfficacy 0, so no ratio is defined")
    reason = f"{undefined} of {len(terms)} terms undefined (TaskEfficacy(D_0) = 0) and excluded" if undefined else ""
    return AdaptivityScore(clamp01(sum(defined) / len(defined)), terms, len(defined), undefined, reason)
