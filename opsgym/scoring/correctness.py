"""DiagCorrect and RootCauseCorrect: the agent's answer against the task's ground truth.

Structured matching comes first, because it is exact and free: a root cause given as an object
(``{"kind": "Deployment", "name": "checkout", "field": "env.DB_HOST"}``) is compared field by field with the ground
truth's object, and that alone decides; free text is checked for the object's name and field and for the task's
keyword groups (a group is hit when any of its words appears as a whole word, plain inflections allowed). The
score is the share of checks that hit, on the paper's continuous [0, 1] scale. Only when that is not a full match,
and a judge is configured, does the LLM judge grade the answer; its verdict then replaces the structured score and
both are recorded. Without a judge the structured score stands and the record says ``"judge": null`` — a verdict
is never invented.

RemediationCorrect is not computed here: it is the end-state check of the backend (``Outcome.remediation_correct``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsgym.scoring.actions import normalize_kind
from opsgym.scoring.judge import Judge, JudgeVerdict

__all__ = ["Correctness", "diag_correct", "root_cause_correct"]


class Correctness(BaseModel):
    """One correctness input with how it was decided."""

    score: float | None = Field(description="in [0, 1]; None when the ground truth has nothing to grade against")
    method: Literal["structured", "judge", "not-applicable"]
    structured_score: float | None = None
    matched: list[str] = Field(default_factory=list)
    missed: list[str] = Field(default_factory=list)
    judge: JudgeVerdict | None = None
    note: str = ""


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k} {v}" for k, v in value.items())
    return str(value or "")


def _mentions(text: str, word: str) -> bool:
    word = word.strip().lower()
    if not word:
        return False
    # whole words, allowing a plain inflection ("limit" matches "limits", "scale" matches "scaled")
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?:s|es|d|ed|ing)?(?![a-z0-9])", text.lower()) is not None


def _leaf(path: str) -> str:
    parts = [p for p in re.split(r"[.\[\]/=\"' ]+", path) if p and not p.isdigit()]
    return parts[-1] if parts else ""


def _keyword_checks(text: str, groups: list[list[str]], label: str) -> tuple[list[str], list[str]]:
    matched, missed = [], []
    for group in groups:
        name = f"{label}: any of {group}"
        (matched if any(_mentions(text, w) for w in group) else missed).append(name)
    return matched, missed


def _finish(matched: list[str], missed: list[str], component: str, expected: str, answer_text: str,
            judge: Judge | None) -> Correctness:
    total = len(matched) + len(missed)
    if total == 0 and not expected:
        return Correctness(score=None, method="not-applicable")
    structured = len(matched) / total if total else None
    if structured == 1.0 or judge is None or not answer_text.strip():
        if structured is not None:
            return Correctness(score=structured, method="structured", structured_score=structured, matched=matched,
                               missed=missed)
        if not answer_text.strip():
            return Correctness(score=0.0, method="structured", note="the answer is empty")
        return Correctness(score=None, method="structured",
                           note="the ground truth has only free text to match; configure a judge to grade it")
    verdict = judge.grade(component, expected, answer_text)
    if verdict.score is None:  # the judge failed: keep the structured score, record why
        return Correctness(score=structured, method="structured", structured_score=structured, matched=matched,
                           missed=missed, judge=verdict)
    return Correctness(score=verdict.score, method="judge", structured_score=structured, matched=matched,
                       missed=missed, judge=verdict)


def diag_correct(answer: dict[str, Any] | None, ground_truth: dict[str, Any],
                 judge: Judge | None = None) -> Correctness:
    """Does the diagnosis name the symptoms? Keyword groups first, then the judge on the free text."""
    answer = answer or {}
    text = f"{_text(answer.get('diagnosis'))}\n{_text(answer.get('root_cause'))}"
    matched, missed = _keyword_checks(text, ground_truth.get("diagnosis_keywords") or [], "diagnosis")
    return _finish(matched, missed, "diagnosis", str(ground_truth.get("diagnosis") or ""), text, judge)


def _object_checks(given: dict[str, Any], truth: dict[str, Any]) -> tuple[list[str], list[str]]:
    """kind and name must both match for any credit; then the field (when the truth names one) is half the score."""
    kind_ok = normalize_kind(str(given.get("kind", ""))).lower() == normalize_kind(str(truth["kind"])).lower()
    name_ok = str(given.get("name", "")).strip().lower() == str(truth["name"]).lower()
    ns_ok = not (truth.get("namespace") and given.get("namespace")) or given["namespace"] == truth["namespace"]
    ident = f"object {truth['kind']}/{truth['name']}"
    if not (kind_ok and name_ok and ns_ok):
        return [], [ident] + ([f"field {truth['field']}"] if truth.get("field") else [])
    if not truth.get("field"):
        return [ident], []
    given_field = str(given.get("field", ""))
    field_ok = bool(given_field) and (given_field.lower() == truth["field"].lower()
                                      or _leaf(given_field).lower() == _leaf(truth["field"]).lower())
    return ([ident, f"field {truth['field']}"], []) if field_ok else ([ident], [f"field {truth['field']}"])


def root_cause_correct(answer: dict[str, Any] | None, ground_truth: dict[str, Any],
                       judge: Judge | None = None) -> Correctness:
    """Does the answer isolate the object (and field) at fault? Object match, then mentions and keywords, then judge."""
    answer = answer or {}
    given = answer.get("root_cause")
    if not given:
        given = answer.get("diagnosis") or ""
    truth = ground_truth.get("root_cause")
    text = _text(given)
    matched: list[str] = []
    missed: list[str] = []
    if truth and isinstance(given, dict):  # an object answer is judged as an object; keywords are for prose
        matched, missed = _object_checks(given, truth)
        return _finish(matched, missed, "root cause", json.dumps(truth), json.dumps(given), judge)
    if truth:
        for label, word in (("name", truth["name"]), ("field", _leaf(truth.get("field") or ""))):
            if word:
                (matched if _mentions(text, word) else missed).append(f"{label} {word}")
    kw_matched, kw_missed = _keyword_checks(text, ground_truth.get("root_cause_keywords") or [], "root cause")
    expected = json.dumps(truth) if truth else ""
    if ground_truth.get("root_cause_keywords"):
        expected += f" (keywords: {ground_truth['root_cause_keywords']})"
    return _finish(matched + kw_matched, missed + kw_missed, "root cause", expected.strip(), text, judge)
