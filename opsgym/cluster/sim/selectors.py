"""Label and field selectors: the query-string forms kubectl sends and the ``LabelSelector`` objects in specs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from opsgym.cluster.sim.status import ApiError

__all__ = ["field_selector", "label_selector", "matches_selector", "selector_string"]

Predicate = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)([A-Za-z0-9._/-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_CMP_RE = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")


def _split_terms(text: str) -> list[str]:
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


def label_selector(text: str | None) -> Predicate:
    """Parse ``app=web,tier!=db,env in (a,b),!legacy`` into a predicate over an object's labels."""
    if not text:
        return lambda obj: True
    checks: list[Callable[[dict[str, str]], bool]] = []
    for term in _split_terms(text):
        cmp = _CMP_RE.match(term)
        if cmp:
            key, op, value = cmp.groups()
            if op == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
            continue
        match = _SET_RE.match(term)
        if not match:
            raise ApiError.bad_request(f"unable to parse requirement: found '{term.strip()}', expected: "
                                       "key, key=value, key!=value, key in (a,b), key notin (a,b) or !key")
        negate, key, op, values = match.groups()
        if negate and op:
            raise ApiError.bad_request(f"unable to parse requirement: '{term.strip()}'")
        if op:
            allowed = {v.strip() for v in values.split(",") if v.strip()}
            if op == "in":
                checks.append(lambda labels, k=key, s=allowed: labels.get(k) in s)
            else:
                checks.append(lambda labels, k=key, s=allowed: labels.get(k) not in s)
        elif negate:
            checks.append(lambda labels, k=key: k not in labels)
        else:
            checks.append(lambda labels, k=key: k in labels)

    def predicate(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return predicate


def _field_value(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


SELECTABLE_FIELDS: dict[str, frozenset[str]] = {
    "pods": frozenset({"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                       "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"}),
    "events": frozenset({"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                         "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"}),
    "secrets": frozenset({"type"}),
    "namespaces": frozenset({"status.phase"}),
    "nodes": frozenset({"spec.unschedulable"}),
    "replicasets": frozenset({"status.replicas"}),
    "services": frozenset({"spec.clusterIP", "spec.type"}),
}
"""Fields each resource can be selected by besides ``metadata.name`` and ``metadata.namespace`` (the API server
refuses any other with "field label not supported")."""


def field_selector(text: str | None, plural: str) -> Predicate:
    """Parse ``metadata.name=x,involvedObject.uid=…,status.phase!=Running`` (dotted paths into the object); a field
    that resource ``plural`` cannot be selected by is a 400, as on a real API server."""
    if not text:
        return lambda obj: True
    allowed = SELECTABLE_FIELDS.get(plural, frozenset()) | {"metadata.name", "metadata.namespace"}
    checks: list[tuple[str, bool, str]] = []
    for term in _split_terms(text):
        match = re.match(r"^\s*([A-Za-z0-9._\[\]-]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
        if not match:
            raise ApiError.bad_request(f'invalid selector: \'{text}\'; can\'t understand \'{term.strip()}\'')
        key, op, value = match.groups()
        if key not in allowed:
            raise ApiError.bad_request(f"field label not supported: {key}")
        checks.append((key, op != "!=", value))
    return lambda obj: all((_field_value(obj, key) == value) == equal for key, equal, value in checks)


def matches_selector(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """Whether ``labels`` satisfy a ``LabelSelector`` object (matchLabels + matchExpressions); empty matches all."""
    labels = labels or {}
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        ok = {"In": labels.get(key) in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}.get(op, False)
        if not ok:
            return False
    return True


def selector_string(selector: dict[str, Any] | None) -> str:
    """The ``k=v,k2 in (a,b)`` text of a LabelSelector (Scale status and ``-o wide`` columns show it)."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(sorted(expr.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key,
                      "DoesNotExist": f"!{key}"}.get(op, key))
    return ",".join(parts)
