"""InterPodAffinity, the scheduler plugin that places pods by the pods already on a topology (a node, by
``kubernetes.io/hostname``, or any node label): required affinity and anti-affinity as a filter with the plugin's
reasons, preferred terms as a score. Counts are built once per pod and scheduling cycle, as the plugin's PreFilter
does, so checking every node costs a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opsgym.k8s.selectors import Selector

__all__ = ["RESOLVABLE", "UNRESOLVABLE", "Affinity", "View", "preferred_score", "terms"]

Obj = dict[str, Any]
UNRESOLVABLE, RESOLVABLE = "UnschedulableAndUnresolvable", "Unschedulable"
"""The two failure codes of a filter: preemption cannot help the first."""


def terms(pod: Obj, kind: str, mode: str) -> list[Obj]:
    block = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return list(block.get(f"{mode}DuringSchedulingIgnoredDuringExecution") or [])


@dataclass
class View:
    """The nodes and the pods bound to them (not finished), as one scheduling cycle sees them."""

    nodes: dict[str, Obj]
    bound: dict[str, list[Obj]]
    namespaces: dict[str, Obj] = field(default_factory=dict)

    def without(self, node: str, victims: list[Obj]) -> View:
        gone = {id(v) for v in victims}
        return View(self.nodes, {**self.bound, node: [p for p in self.bound[node] if id(p) not in gone]},
                    self.namespaces)

    def pods(self) -> Iterable[tuple[Obj, Obj]]:
        for name, pods in self.bound.items():
            for p in pods:
                yield self.nodes[name], p

    def term_matches(self, term: Obj, owner_namespace: str, target: Obj) -> bool:
        """Whether a pod (anti-)affinity term of a pod in ``owner_namespace`` selects ``target``."""
        if term.get("labelSelector") is None:
            return False
        namespace = target["metadata"].get("namespace", "")
        listed, ns_selector = term.get("namespaces") or [], term.get("namespaceSelector")
        if ns_selector is None:
            in_scope = namespace in (listed or [owner_namespace])
        else:
            ns_labels = (self.namespaces.get(namespace, {}).get("metadata") or {}).get("labels") or {}
            in_scope = namespace in listed or Selector.from_object(ns_selector).matches(ns_labels)
        return in_scope and Selector.from_object(term["labelSelector"]).matches(target["metadata"].get("labels"))


def _topology(node: Obj, key: str) -> str | None:
    return (node["metadata"].get("labels") or {}).get(key)


@dataclass
class Affinity:
    """InterPodAffinity's PreFilter counts for one incoming pod: (topology key, value) → matching pods."""

    affinity: dict[tuple[str, str], int]
    anti: dict[tuple[str, str], int]
    existing_anti: set[tuple[str, str]]

    @classmethod
    def of(cls, pod: Obj, view: View) -> Affinity:
        namespace = pod["metadata"].get("namespace", "")
        required = terms(pod, "podAffinity", "required")
        anti_terms = terms(pod, "podAntiAffinity", "required")
        counts: dict[tuple[str, str], int] = {}
        anti: dict[tuple[str, str], int] = {}
        existing: set[tuple[str, str]] = set()
        for node, other in view.pods():
            if required and all(view.term_matches(t, namespace, other) for t in required):
                for t in required:
                    value = _topology(node, t.get("topologyKey", ""))
                    if value is not None:
                        counts[t["topologyKey"], value] = counts.get((t["topologyKey"], value), 0) + 1
            for t in anti_terms:
                value = _topology(node, t.get("topologyKey", ""))
                if value is not None and view.term_matches(t, namespace, other):
                    anti[t["topologyKey"], value] = anti.get((t["topologyKey"], value), 0) + 1
            for t in terms(other, "podAntiAffinity", "required"):
                value = _topology(node, t.get("topologyKey", ""))
                if value is not None and view.term_matches(t, other["metadata"].get("namespace", ""), pod):
                    existing.add((t["topologyKey"], value))
        return cls(counts, anti, existing)

    def reason(self, pod: Obj, node: Obj, view: View) -> tuple[str, str] | None:
        required = terms(pod, "podAffinity", "required")
        if required:
            pairs = [(t.get("topologyKey", ""), _topology(node, t.get("topologyKey", ""))) for t in required]
            if any(value is None for _, value in pairs):
                return UNRESOLVABLE, "node(s) didn't match pod affinity rules"
            if any(self.affinity.get((k, v or ""), 0) <= 0 for k, v in pairs) and not (
                    not self.affinity and all(view.term_matches(t, pod["metadata"].get("namespace", ""), pod)
                                              for t in required)):
                return UNRESOLVABLE, "node(s) didn't match pod affinity rules"
        for t in terms(pod, "podAntiAffinity", "required"):
            value = _topology(node, t.get("topologyKey", ""))
            if value is not None and self.anti.get((t["topologyKey"], value), 0) > 0:
                return RESOLVABLE, "node(s) didn't match pod anti-affinity rules"
        if any(_topology(node, key) == value for key, value in self.existing_anti):
            return RESOLVABLE, "node(s) didn't satisfy existing pods anti-affinity rules"
        return None


def preferred_score(pod: Obj, node: Obj, view: View) -> float:
    """InterPodAffinity's raw score: weights of preferred (anti-)affinity terms met by pods sharing a topology."""
    namespace, score = pod["metadata"].get("namespace", ""), 0.0
    weighted = [(t, 1) for t in terms(pod, "podAffinity", "preferred")] + \
        [(t, -1) for t in terms(pod, "podAntiAffinity", "preferred")]
    if not weighted:
        return 0.0
    for other_node, other in view.pods():
        for entry, sign in weighted:
            term = entry.get("podAffinityTerm") or {}
            key = term.get("topologyKey", "")
            if _topology(node, key) is not None and _topology(node, key) == _topology(other_node, key) and \
                    view.term_matches(term, namespace, other):
                score += sign * int(entry.get("weight", 0))
    return score
