"""Label and field selectors in the query-string forms kubectl sends (label selectors are matched by
:mod:`opsgym.k8s.selectors`, the one matcher the checks use too; field selectors are the API server's own)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from opsgym.cluster.sim.status import ApiError
from opsgym.errors import SelectorError
from opsgym.k8s.selectors import Selector, split_terms

__all__ = ["field_selector", "label_selector"]

Predicate = Callable[[dict[str, Any]], bool]


def label_selector(text: str | None) -> Predicate:
    """Parse ``app=web,tier!=db,env in (a,b),!legacy`` into a predicate over an object's labels (400 if malformed)."""
    if not text:
        return lambda obj: True
    try:
        selector = Selector.parse(text)
    except SelectorError as exc:
        raise ApiError.bad_request(str(exc)) from None
    return lambda obj: selector.matches(obj.get("metadata", {}).get("labels"))


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
    for term in split_terms(text):
        match = re.match(r"^\s*([A-Za-z0-9._\[\]-]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
        if not match:
            raise ApiError.bad_request(f'invalid selector: \'{text}\'; can\'t understand \'{term.strip()}\'')
        key, op, value = match.groups()
        if key not in allowed:
            raise ApiError.bad_request(f"field label not supported: {key}")
        checks.append((key, op != "!=", value))
    return lambda obj: all((_field_value(obj, key) == value) == equal for key, equal, value in checks)
