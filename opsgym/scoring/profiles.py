"""Scoring profiles: the weights of every formula for one operational context (SRE, CISO, FinOps, SWE).

Profiles are data (``profiles.yaml`` beside this module) so that changing an emphasis is an edit, not code. A profile
can be overridden per task (``profile_overrides`` in ``task.yaml``) and per run (``ScoringWrapper(weights=...)``);
both use the profile's own shape, formula by formula, and are merged key by key (run over task over profile) before
validation, so a partial override that breaks the sum-to-1 rule fails with the profile and the weights named.

Besides the weights, a profile states its objective's factors (:data:`FACTORS`): ``unresolved.answer_credit`` is the
share of the diagnosis and root-cause credit an episode keeps when it leaves the incident in place. A mitigation
objective (the SRE, CISO and FinOps profiles) sets it below 1 — a diagnosis nobody acted on has not reduced any
risk — and a diagnosis-only task overrides it to 1 with ``profile_overrides``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from opsgym.errors import ScoringConfigError, UnknownNameError
from opsgym.scoring.metrics import WEIGHT_GROUPS, validate_weights
from opsgym.scoring.penalties import RULES

__all__ = ["FACTORS", "PROFILES_FILE", "Overrides", "Profile", "load_profiles", "profile_names", "resolve_profile"]

PROFILES_FILE = Path(__file__).with_name("profiles.yaml")

FACTORS: dict[str, dict[str, float]] = {"unresolved": {"answer_credit": 1.0}}
"""Factor group → factor → the value a profile that does not state it gets (neutral: the seed's formulas as
written, so records made before a factor existed recompute to the same scores). Each factor is in [0, 1]."""

Overrides = Mapping[str, Mapping[str, float]]
"""``{"accuracy": {"rca": 0.6, ...}, "penalties": {"scale-to-zero": 0.8}}``: formula → weight name → value."""


class Profile(BaseModel):
    """One validated profile: every formula's weights and every penalty rule's weight."""

    name: str
    description: str = ""
    weights: dict[str, dict[str, float]]
    penalties: dict[str, float] = Field(default_factory=dict)
    factors: dict[str, dict[str, float]] = Field(default_factory=lambda: {g: dict(v) for g, v in FACTORS.items()},
                                                 description="objective factors, see FACTORS")
    overridden: list[str] = Field(default_factory=list, description="'formula.key' entries changed by overrides")

    @property
    def lam(self) -> float:
        """The paper's λ in TaskEfficacy."""
        return self.weights["task_efficacy"]["accuracy"]

    @property
    def unresolved_answer_credit(self) -> float:
        """The share of diagnosis and root-cause credit an episode with RemediationCorrect 0 keeps."""
        return self.factors["unresolved"]["answer_credit"]


def _validate_penalties(name: str, penalties: Mapping[str, Any]) -> dict[str, float]:
    unknown = sorted(set(penalties) - set(RULES))
    if unknown:
        raise ScoringConfigError(f"profile {name!r}: unknown penalty rules {unknown}; known: {', '.join(RULES)}")
    out = {rule: float(RULES[rule].weight) for rule in RULES}
    for rule, weight in penalties.items():
        if not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
            raise ScoringConfigError(f"profile {name!r}: penalty weight of {rule!r} must be in [0, 1], got {weight!r}")
        out[rule] = float(weight)
    return out


def _validate_factors(name: str, merged: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for group, defaults in FACTORS.items():
        given = dict(merged[group])
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            raise ScoringConfigError(f"profile {name!r}: unknown {group} factors {unknown}; known: {list(defaults)}")
        out[group] = {**defaults, **given}
        for factor, value in out[group].items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ScoringConfigError(f"profile {name!r}: {group}.{factor} must be a number in [0, 1], "
                                         f"got {value!r}")
            out[group][factor] = float(value)
    return out


def _build(name: str, raw: Mapping[str, Any], overrides: list[Overrides]) -> Profile:
    groups = (*WEIGHT_GROUPS, "penalties", *FACTORS)
    merged: dict[str, dict[str, float]] = {g: dict(raw.get(g) or {}) for g in groups}
    changed: list[str] = []
    for override in overrides:
        for group, values in (override or {}).items():
            if group not in merged:
                raise ScoringConfigError(f"profile {name!r}: cannot override unknown formula {group!r}; "
                                         f"known: {', '.join(groups)}")
            if not isinstance(values, Mapping):
                raise ScoringConfigError(f"profile {name!r}: override of {group!r} must map weight names to numbers, "
                                         f"got {values!r}")
            merged[group].update(values)
            changed += [f"{group}.{k}" for k in values]
    weights = {g: validate_weights(merged[g], g, profile=name) for g in WEIGHT_GROUPS}
    return Profile(name=name, description=str(raw.get("description", "")).strip(), weights=weights,
                   penalties=_validate_penalties(name, merged["penalties"]), factors=_validate_factors(name, merged),
                   overridden=sorted(set(changed)))


@functools.cache
def _load(path: Path, mtime: float) -> dict[str, dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScoringConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScoringConfigError(f"{path}: expected a mapping of profile name → weights")
    return data


def load_profiles(path: Path = PROFILES_FILE) -> dict[str, Profile]:
    """Every profile in ``path``, validated (a bad file fails naming the profile and the weights)."""
    data = _load(path, path.stat().st_mtime)
    return {name: _build(name, raw or {}, []) for name, raw in data.items()}


def profile_names(path: Path = PROFILES_FILE) -> list[str]:
    return list(_load(path, path.stat().st_mtime))


DEFAULT_PROFILE = "sre"
"""The profile of an outcome that names none and whose domain is not registered (an env from outside opsgym); a
registered domain's tasks carry their domain's default (:attr:`opsgym.domain.Domain.default_profile`)."""


def resolve_profile(profile: str | Profile | Mapping[str, Any] | None = None, *, default: str = DEFAULT_PROFILE,
                    task_overrides: Overrides | None = None, run_overrides: Overrides | None = None,
                    path: Path = PROFILES_FILE) -> Profile:
    """The profile to score with: a name (or ``default``), a :class:`Profile`, or an inline mapping, plus overrides.

    An inline mapping has the file's shape and may carry ``name``; a :class:`Profile` is re-validated so that
    overrides apply to it the same way.
    """
    if isinstance(profile, Profile):
        name, raw = profile.name, {**profile.weights, "penalties": profile.penalties, **profile.factors,
                                   "description": profile.description}
    elif isinstance(profile, Mapping):
        name, raw = str(profile.get("name", "(custom)")), dict(profile)
    else:
        name = profile or default
        data = _load(path, path.stat().st_mtime)
        if name not in data:
            raise UnknownNameError("scoring profile", name, data)
        raw = data[name] or {}
    resolved = _build(name, raw, [o for o in (task_overrides, run_overrides) if o])
    if isinstance(profile, Profile) and profile.overridden:
        resolved.overridden = sorted({*profile.overridden, *resolved.overridden})
    return resolved
