"""Scoring: the seed paper's unified metrics for every episode (design.md §5).

* :mod:`~opsgym.scoring.metrics` — the formulas as pure functions (Accuracy … Adaptivity);
* :mod:`~opsgym.scoring.profiles` — weights as data (``sre``, ``ciso``, ``finops``, ``swe``) with overrides;
* :mod:`~opsgym.scoring.penalties` — named Usefulness penalty rules;
* :mod:`~opsgym.scoring.correctness` and :mod:`~opsgym.scoring.judge` — DiagCorrect/RootCauseCorrect, structured
  first, then an optional LLM judge; :mod:`~opsgym.scoring.precision` — entity precision, so stuffing never pays;
* :mod:`~opsgym.scoring.scorer` — outcome → inputs → record, and :func:`recompute` with other weights;
* :class:`ScoringWrapper` — the Gymnasium wrapper ``gym.make("opsgym/…")`` adds;
* :func:`adaptivity` — paired episodes over perturbations.
"""

from __future__ import annotations

from opsgym.scoring.adaptivity import AdaptivityReport, adaptivity
from opsgym.scoring.judge import Judge, JudgeVerdict
from opsgym.scoring.profiles import Profile, load_profiles, resolve_profile
from opsgym.scoring.scorer import METRIC_NAMES, compute, gather_inputs, recompute
from opsgym.scoring.wrapper import ScoringWrapper

__all__ = [
    "METRIC_NAMES",
    "AdaptivityReport",
    "Judge",
    "JudgeVerdict",
    "Profile",
    "ScoringWrapper",
    "adaptivity",
    "compute",
    "gather_inputs",
    "load_profiles",
    "recompute",
    "resolve_profile",
]
