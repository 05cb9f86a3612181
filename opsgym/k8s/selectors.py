"""Label selectors, in both forms: ``LabelSelector`` objects in specs and the ``app=web,env in (a,b)`` strings of
queries.

Both become one :class:`Selector` — a list of requirements — so a Deployment's ``matchExpressions``, a ``kubectl get
-l`` query and an SRE check of which pods belong to a Deployment are matched by the same code, with Kubernetes'
meaning: requirements are ANDed; ``NotIn`` and ``DoesNotExist`` match objects without the label; an empty selector
matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opsgym.errors import SelectorError

__all__ = ["Requirement", "Selector", "matches_selector", "selector_string", "split_terms"]

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Equals", "NotEquals")

_SET_RE = re.compile(r"^\s*(!?)([A-Za-z0-9._/-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_CMP_RE = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")


@dataclass(frozen=True)
class Requirement:
    """One term: ``key`` with an operator and, for the set and equality operators, its values."""

    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op, value = self.operator, labels.get(self.key)
        if op in ("In", "Equals"):
            return value in self.values
        if op in ("NotIn", "NotEquals"):
            return value not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        return False  # an operator Kubernetes does not know selects nothing

    def text(self) -> str:
        values = ",".join(sorted(self.values))
        return {"In": f"{self.key} in ({values})", "NotIn": f"{self.key} notin ({values})", "Exists": self.key,
                "DoesNotExist": f"!{self.key}", "Equals": f"{self.key}={values}",
                "NotEquals": f"{self.key}!={values}"}.get(self.operator, self.key)


@dataclass(frozen=True)
class Selector:
    """A label selector: every requirement must hold."""

    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def from_object(cls, selector: Mapping[str, Any] | None) -> Selector:
        """A ``LabelSelector`` (``matchLabels`` and ``matchExpressions``), or a Service's plain label map."""
        if not selector:
            return cls()
        if "matchLabels" not in selector and "matchExpressions" not in selector:
            return cls(tuple(Requirement(str(k), "Equals", frozenset({v})) for k, v in selector.items()))
        reqs = [Requirement(str(k), "Equals", frozenset({v})) for k, v in (selector.get("matchLabels") or {}).items()]
        reqs += [Requirement(str(e.get("key")), str(e.get("operator")), frozenset(e.get("values") or []))
                 for e in selector.get("matchExpressions") or []]
        return cls(tuple(reqs))

    @classmethod
    def parse(cls, text: str | None) -> Selector:
        """``app=web,tier!=db,env in (a,b),!legacy``; raises :class:`SelectorError` for anything else."""
        reqs: list[Requirement] = []
        for term in split_terms(text or ""):
            cmp = _CMP_RE.match(term)
            if cmp:
                key, op, value = cmp.groups()
                reqs.append(Requirement(key, "NotEquals" if op == "!=" else "Equals", frozenset({value})))
                continue
            match = _SET_RE.match(term)
            if not match:
                raise SelectorError(f"unable to parse requirement: found '{term.strip()}', expected: "
                                    "key, key=value, key!=value, key in (a,b), key notin (a,b) or !key")
            negate, key, op, values = match.groups()
            if negate and op:
                raise SelectorError(f"unable to parse requirement: '{term.strip()}'")
            if op:
                allowed = frozenset(v.strip() for v in values.split(",") if v.strip())
                reqs.append(Requirement(key, "In" if op == "in" else "NotIn", allowed))
            else:
                reqs.append(Requirement(key, "DoesNotExist" if negate else "Exists"))
        return cls(tuple(reqs))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def text(self) -> str:
        """The ``k=v,k2 in (a,b)`` form (matchLabels sorted by key first, as the API server prints it)."""
        equals = sorted((r for r in self.requirements if r.operator == "Equals"), key=lambda r: r.key)
        return ",".join(r.text() for r in [*equals, *(r for r in self.requirements if r.operator != "Equals")])


def split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses (``a in (x,y),b`` has two terms)."""
    terms, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def matches_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """Whether ``labels`` satisfy a ``LabelSelector`` object (or a Service's label map); empty matches all."""
    return Selector.from_object(selector).matches(labels)


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """The text of a LabelSelector (Scale status and ``-o wide`` columns show it)."""
    return Selector.from_object(selector).text()
