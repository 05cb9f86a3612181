"""DiagCorrect and RootCauseCorrect: the agent's answer against the task's ground truth.

Structured matching comes first, because it is exact and free: a root cause given as an object
(``{"kind": "Deployment", "name": "checkout", "field": "env.DB_HOST"}``) is compared field by field with the ground
truth's object, and that alone decides. It must be ONE object: a kind, a name and a namespace that are each one
Kubernetes name, and a field that is one path — several names in one value, a list, a wildcard or a field naming
several keys get no credit, whatever else they name. The field may be shortened to its tail as long as the tail
keeps the part that identifies it (``data.MAX_ITEMS`` or ``MAX_ITEMS``, ``limits.memory``, ``env[name=KV_ADDR]``,
not ``value`` or ``memory`` of the requests).

Free text is checked for the object's name and field and for the task's keyword groups (a group is hit when any of
its words appears as a whole word, plain inflections allowed); the score is the share of checks that hit, on the
paper's continuous [0, 1] scale, times the answer's entity precision (:mod:`~opsgym.scoring.precision`), so naming
every candidate object does not buy the credit of the right one. Only when that is not a full match, and a judge is
configured, does the LLM judge grade the answer; its verdict then replaces the structured grade — still times the
entity precision, so a verdict cannot lift a stuffed answer — and both are recorded. When the episode lists its
entities, the judge is asked only about answers that name at least one entity the ground truth names. Without a
judge the structured score stands and the record says ``"judge": null`` — a verdict is never invented.

RemediationCorrect is not computed here: it is the end-state check of the backend (``Outcome.remediation_correct``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsgym.k8s.kinds import canonical_kind
from opsgym.scoring.judge import Judge, JudgeVerdict
from opsgym.scoring.precision import EntityMatch, entity_match, mention_pattern

__all__ = ["Correctness", "diag_correct", "field_matches", "root_cause_correct"]

_ONE_NAME = re.compile(r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?", re.IGNORECASE)
"""One Kubernetes object name (or kind, or namespace): no spaces, commas, wildcards or lists."""
_ONE_PATH = re.compile(r"[A-Za-z0-9_.\-/\[\]=\"':]+")
"""One field path: dotted, with ``[name=x]``, ``[0]`` and ``["a.b"]`` — no spaces, commas or wildcards."""
_SEGMENT = re.compile(r"\[\s*(?:[A-Za-z_]+\s*=\s*)?[\"']?([^\]\"']*)[\"']?\s*\]|([^./\[\]]+)")
STRUCTURAL = frozenset({"spec", "template", "containers", "initcontainers", "env", "envfrom", "value", "valuefrom",
                        "data", "stringdata", "metadata", "status", "items"})
"""Path words that locate a field without identifying it: a field named by these alone is too vague to credit."""


class Correctness(BaseModel):
    """One correctness input with how it was decided."""

    score: float | None = Field(description="in [0, 1]; None when the ground truth has nothing to grade against")
    method: Literal["structured", "judge", "not-applicable"]
    structured_score: float | None = None
    matched: list[str] = Field(default_factory=list)
    missed: list[str] = Field(default_factory=list)
    judge: JudgeVerdict | None = None
    entities: EntityMatch | None = Field(None, description="entity precision and recall of a free-text answer")
    note: str = ""


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k} {v}" for k, v in value.items())
    return str(value or "")


def _mentions(text: str, word: str) -> bool:
    return bool(word.strip()) and mention_pattern(word).search(text) is not None


def _tokens(path: str) -> list[str]:
    """A field path's segments, selectors read as their value: ``env[name=KV_ADDR].value`` → env, kv_addr, value."""
    found = ((m.group(1) if m.group(1) is not None else m.group(2) or "").strip().lower()
             for m in _SEGMENT.finditer(path))
    return [t for t in found if t and not t.isdigit()]


def _anchor(tokens: Sequence[str]) -> int:
    """The index of the segment that identifies the field: the last one that is not a structural word."""
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i] not in STRUCTURAL:
            return i
    return len(tokens) - 1


def field_matches(given: str, truth: str) -> bool:
    """Is ``given`` one path naming ``truth``: a run of its segments that keeps the identifying one and reaches the
    end (a trailing ``.value`` may be left off)? ``MAX_ITEMS`` names ``data.MAX_ITEMS``; ``value`` names nothing."""
    if not _ONE_PATH.fullmatch(given.strip()):
        return False
    g, t = _tokens(given), _tokens(truth)
    if not g or not t:
        return False
    dotted = [part for token in t for part in token.split(".")]  # data["kv.conf"] is also written data.kv.conf
    return any(_names(g, variant) for variant in ([t, dotted] if dotted != t else [t]))


def _names(g: list[str], t: list[str]) -> bool:
    anchor = _anchor(t)
    for i in range(len(t) - len(g) + 1):
        end = i + len(g)
        if t[i:end] == g and i <= anchor < end and all(x in STRUCTURAL for x in t[end:]):
            return True
    return False


def _keyword_checks(text: str, groups: list[list[str]], label: str) -> tuple[list[str], list[str]]:
    matched: list[str] = []
    missed: list[str] = []
    for group in groups:
        name = f"{label}: any of {group}"
        (matched if any(_mentions(text, w) for w in group) else missed).append(name)
    return matched, missed


def _finish(matched: list[str], missed: list[str], component: str, expected: str, answer_text: str,
            judge: Judge | None, entities: EntityMatch | None = None) -> Correctness:
    total = len(matched) + len(missed)
    if total == 0 and not expected:
        return Correctness(score=None, method="not-applicable")
    structured = len(matched) / total if total else None
    factor, note = 1.0, ""
    if entities is not None and entities.precision is not None and entities.precision != 1.0:
        factor = entities.precision
        note = f"graded × entity precision {factor:.3g}: the answer names {entities.named}, the ground truth " \
               f"{entities.relevant}"
    # the judge grades only answers that name something the ground truth names (when the episode lists entities):
    # one naming only wrong objects, or none at all, cannot have isolated the cause however it is worded
    names_nothing = entities is not None and bool(entities.relevant) and not entities.named
    if entities is not None and names_nothing:
        note = f"the answer names none of the episode's {entities.candidates} entities; the judge was not asked"
    base = Correctness(score=None, method="structured", structured_score=structured, matched=matched, missed=missed,
                       entities=entities, note=note)
    if structured == 1.0 or judge is None or not answer_text.strip() or factor == 0.0 or names_nothing:
        if structured is not None:
            return base.model_copy(update={"score": structured * factor})
        if not answer_text.strip():
            return base.model_copy(update={"score": 0.0, "note": "the answer is empty"})
        if factor == 0.0 or names_nothing:
            return base.model_copy(update={"score": 0.0})
        return base.model_copy(update={
            "note": "the ground truth has only free text to match; configure a judge to grade it"})
    verdict = judge.grade(component, expected, answer_text)
    if verdict.score is None:  # the judge failed: keep the structured score, record why
        return base.model_copy(update={"score": None if structured is None else structured * factor,
                                       "judge": verdict})
    return base.model_copy(update={"score": verdict.score * factor, "method": "judge", "judge": verdict})


def _truth_text(ground_truth: dict[str, Any]) -> str:
    """Everything the ground truth says, for which candidate entities it names."""
    return json.dumps({k: ground_truth.get(k) for k in ("diagnosis", "diagnosis_keywords", "root_cause",
                                                          "root_cause_keywords", "remediation")})


def diag_correct(answer: dict[str, Any] | None, ground_truth: dict[str, Any], judge: Judge | None = None,
                 candidates: Sequence[str] | None = None) -> Correctness:
    """Does the diagnosis name the symptoms? Keyword groups first, then the judge on the free text; both scaled by
    the entity precision over ``candidates`` (the entities the episode offers)."""
    answer = answer or {}
    text = f"{_text(answer.get('diagnosis'))}\n{_text(answer.get('root_cause'))}"
    matched, missed = _keyword_checks(text, ground_truth.get("diagnosis_keywords") or [], "diagnosis")
    entities = entity_match(text, candidates, _truth_text(ground_truth))
    return _finish(matched, missed, "diagnosis", str(ground_truth.get("diagnosis") or ""), text, judge, entities)


def _not_one_object(given: dict[str, Any]) -> list[str]:
    """Why ``given`` is not one object (empty when it is)."""
    problems = []
    for key in ("kind", "name", "namespace", "field"):
        value = given.get(key)
        if value is None or value == "":
            continue
        pattern = _ONE_PATH if key == "field" else _ONE_NAME
        if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
            problems.append(f"{key} {value!r} is not one {'path' if key == 'field' else 'name'}")
    return problems


def _object_checks(given: dict[str, Any], truth: dict[str, Any]) -> tuple[list[str], list[str]]:
    """kind and name must both match for any credit; then the field (when the truth names one) is half the score."""
    kind_ok = canonical_kind(str(given.get("kind", ""))).lower() == canonical_kind(str(truth["kind"])).lower()
    name_ok = str(given.get("name", "")).strip().lower() == str(truth["name"]).lower()
    ns_ok = not (truth.get("namespace") and given.get("namespace")) or given["namespace"] == truth["namespace"]
    ident = f"object {truth['kind']}/{truth['name']}"
    if not (kind_ok and name_ok and ns_ok):
        return [], [ident] + ([f"field {truth['field']}"] if truth.get("field") else [])
    if not truth.get("field"):
        return [ident], []
    field_ok = field_matches(str(given.get("field") or ""), truth["field"])
    return ([ident, f"field {truth['field']}"], []) if field_ok else ([ident], [f"field {truth['field']}"])


def _object_root_cause(given: dict[str, Any], truth: dict[str, Any], judge: Judge | None) -> Correctness:
    problems = _not_one_object(given)
    if problems:
        missed = [f"object {truth['kind']}/{truth['name']}"] + ([f"field {truth['field']}"] if truth.get("field")
                                                                else [])
        return Correctness(score=0.0, method="structured", structured_score=0.0, missed=missed,
                           note="root_cause must name one object: " + "; ".join(problems))
    matched, missed = _object_checks(given, truth)
    shown = {k: given[k] for k in ("kind", "name", "namespace", "field") if k in given}  # the judge sees the object
    return _finish(matched, missed, "root cause", json.dumps(truth), json.dumps(shown), judge)


def root_cause_correct(answer: dict[str, Any] | None, ground_truth: dict[str, Any], judge: Judge | None = None,
                       candidates: Sequence[str] | None = None) -> Correctness:
    """Does the answer isolate the object (and field) at fault? One object, or mentions and keywords scaled by entity
    precision, then the judge."""
    answer = answer or {}
    given = answer.get("root_cause")
    if not given:
        given = answer.get("diagnosis") or ""
    truth = ground_truth.get("root_cause")
    if truth and isinstance(given, dict):  # an object answer is judged as an object; keywords are for prose
        return _object_root_cause(given, truth, judge)
    text = _text(given)
    matched: list[str] = []
    missed: list[str] = []
    if truth:
        field_tokens = _tokens(truth.get("field") or "")
        field_word = field_tokens[_anchor(field_tokens)] if field_tokens else ""
        for label, word in (("name", truth["name"]), ("field", field_word)):
            if word:
                (matched if _mentions(text, word) else missed).append(f"{label} {word}")
    kw_matched, kw_missed = _keyword_checks(text, ground_truth.get("root_cause_keywords") or [], "root cause")
    expected = json.dumps(truth) if truth else ""
    if ground_truth.get("root_cause_keywords"):
        expected += f" (keywords: {ground_truth['root_cause_keywords']})"
    entities = entity_match(text, candidates, _truth_text(ground_truth))
    return _finish(matched + kw_matched, missed + kw_missed, "root cause", expected.strip(), text, judge, entities)
