"""Entity precision: an answer that names every object it can think of must not collect the credit of the right one.

Keyword matching rewards recall only: an answer listing every service, ConfigMap and key of the app "mentions" the
one at fault, whichever it is. So the free-text grades are scaled by the answer's *entity precision*: of the
concepts the episode offers — its candidate entities (a scenario lists them in ``outcome.extra["entities"]``: every
Deployment, Service, ConfigMap, data key and env name of the app) and the failure mechanisms of
``symptoms.yaml`` (out of memory, name resolution, …) — which share does the answer name that the ground truth names
too? An answer naming only the faulty service, its ConfigMap, the key and what went wrong keeps its grade; one naming
all sixty concepts keeps a fraction. Listing k candidates to be sure of including the right one then earns, on
average, what naming one at random earns: stuffing never pays.

Recall (the share of the ground truth's concepts the answer names) is recorded beside it; the keyword checks
already grade it. An episode that lists no entities gets no precision (unknown scales nothing): the mechanisms are
counted only beside the entities of an episode that opted in.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from opsgym.errors import ScoringConfigError

__all__ = ["SYMPTOMS_FILE", "EntityMatch", "entity_match", "mention_pattern", "named_concepts", "symptom_classes"]

SYMPTOMS_FILE = Path(__file__).with_name("symptoms.yaml")
SYMPTOM_PREFIX = "symptom:"


class EntityMatch(BaseModel):
    """Which concepts (entities and ``symptom:`` classes) an answer names, against those the ground truth names."""

    candidates: int = Field(description="how many concepts the episode offers")
    named: list[str] = Field(default_factory=list, description="concepts the answer names")
    relevant: list[str] = Field(default_factory=list, description="concepts the ground truth names")
    precision: float | None = Field(None, description="|named ∩ relevant| / |named|; None when nothing is named")
    recall: float | None = Field(None, description="|named ∩ relevant| / |relevant|; None when nothing is relevant")


def mention_pattern(word: str) -> re.Pattern[str]:
    """A whole-word mention of ``word`` in any case, plain inflections allowed ("limit" finds "limits", "scale"
    finds "scaled"). Keyword checks and entity precision both use it, so no spelling hits a keyword while naming
    no entity (``carts`` or ``cart_checkout`` name the cart service exactly as they match its keyword)."""
    return re.compile(rf"(?<![a-z0-9]){re.escape(word.strip().lower())}(?:s|es|d|ed|ing)?(?![a-z0-9])",
                      re.IGNORECASE)


@functools.cache
def symptom_classes(path: Path = SYMPTOMS_FILE) -> dict[str, tuple[str, ...]]:
    """``symptoms.yaml``: failure mechanism → the words that name it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScoringConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) and v for v in data.values()):
        raise ScoringConfigError(f"{path}: expected a mapping of symptom class → a non-empty list of words")
    return {str(k): tuple(str(w) for w in v) for k, v in data.items()}


def named_concepts(text: str, concepts: Mapping[str, Iterable[str]]) -> list[str]:
    """The concepts (label → words) ``text`` names. Longest words are read first and blanked, so that
    ``cart-config`` is not also read as ``cart`` nor ``TIMEOUT_MS`` as the word timeout."""
    words = sorted({(w, label) for label, ws in concepts.items() for w in ws if w.strip()},
                   key=lambda p: (-len(p[0]), p))
    found: set[str] = set()
    for word, label in words:
        text, hits = mention_pattern(word).subn(" ", text)
        if hits:
            found.add(label)
    return sorted(found)


def entity_match(answer_text: str, candidates: Iterable[str] | None, truth_text: str) -> EntityMatch | None:
    """Precision and recall of the concepts ``answer_text`` names; None when the episode lists no entities."""
    entities = {str(c): (str(c),) for c in candidates or () if str(c).strip()}
    if not entities:
        return None
    concepts = {**entities, **{SYMPTOM_PREFIX + k: v for k, v in symptom_classes().items()}}
    named = named_concepts(answer_text, concepts)
    relevant = named_concepts(truth_text, concepts)
    hit = len(set(named) & set(relevant))
    return EntityMatch(candidates=len(concepts), named=named, relevant=relevant,
                       precision=hit / len(named) if named else None,
                       recall=hit / len(relevant) if relevant else None)
