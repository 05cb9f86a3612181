"""End-state checks for SRE episodes, read through the Kubernetes API so they judge any backend the same way.

The faulty service must be really healthy (every replica Ready, no restarts over a further stretch of time, its
Endpoints serving), and it must still be the service the task started with: the Deployment and its Service exist,
replicas were not reduced and the probes are still there. Removing the service, scaling it to zero or disabling its
probes therefore never passes. The other services are checked for collateral damage. What only the real fix passes
(the workload as loaded but for the repaired fields, settings its program accepts, the shop's request flowing through
it) is checked in :mod:`opsgym.sre.endstate`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from opsgym.cluster.base import ApiReader
from opsgym.cluster.sim.clock import parse_time
from opsgym.k8s.kinds import kind_named
from opsgym.k8s.quantity import quantity_or
from opsgym.k8s.selectors import Selector
from opsgym.outcome import CheckResult
from opsgym.sre.paths import get_path, remove_path
from opsgym.sre.render import Episode, substitute
from opsgym.sre.spec import FieldCheck

__all__ = ["Baseline", "ClusterView", "baseline", "check_result", "crashlooping", "field_check", "health_checks",
           "restart_marks", "waiting_reasons", "workload_checks"]

PROBES = ("readinessProbe", "livenessProbe")
HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


COLLECTIONS = {"Deployment": "/apis/apps/v1/namespaces/{namespace}/deployments",
               "Service": "/api/v1/namespaces/{namespace}/services",
               "Endpoints": "/api/v1/namespaces/{namespace}/endpoints",
               "Pod": "/api/v1/namespaces/{namespace}/pods",
               "ConfigMap": "/api/v1/namespaces/{namespace}/configmaps",
               "Secret": "/api/v1/namespaces/{namespace}/secrets"}
"""Where the kinds the checks read most live in the Kubernetes REST API (any other: :func:`collection`)."""


def collection(kind: str, namespace: str) -> str:
    """The REST path of ``kind``'s objects in ``namespace`` (cluster-scoped kinds ignore it)."""
    if kind in COLLECTIONS:
        return COLLECTIONS[kind].format(namespace=namespace)
    row = kind_named(kind)
    root = f"/apis/{row.group}/{row.version}" if row.group else f"/api/{row.version}"
    return f"{root}/namespaces/{namespace}/{row.plural}" if row.namespaced else f"{root}/{row.plural}"
LISTED = frozenset({"Deployment", "Service", "Endpoints", "Pod"})
"""Kinds read as one list per namespace (ConfigMaps are read one by one: the app's programs live in a big one)."""


class ClusterView:
    """Reads of the few kinds the checks need, as raw JSON (field paths match manifests), through the backend's
    :class:`~opsgym.cluster.base.ApiReader`.

    A view is one moment of the cluster: Deployments, Services, Endpoints and Pods are listed once per namespace and
    answered from that list, so a pass of checks costs a handful of reads however many services the app has
    (it was two dozen, one per object, and they were most of an episode's end-state check). Take a new view after
    time has moved.
    """

    def __init__(self, reader: ApiReader) -> None:
        self.reader = reader
        self._lists: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def _listed(self, kind: str, namespace: str) -> dict[str, dict[str, Any]]:
        if (kind, namespace) not in self._lists:
            found = self.reader.get(COLLECTIONS[kind].format(namespace=namespace)) or {}
            self._lists[kind, namespace] = {item["metadata"]["name"]: item for item in found.get("items") or []}
        return self._lists[kind, namespace]

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if kind in LISTED:
            return self._listed(kind, namespace).get(name)
        return self.reader.get(collection(kind, namespace) + f"/{name}")

    def pods(self, namespace: str, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        """The Deployment's live (not terminating) pods, by its selector (``matchLabels`` and ``matchExpressions``)."""
        selector = Selector.from_object(get_path(deployment, "spec.selector", {}) or {})
        return [p for p in self._listed("Pod", namespace).values() if not p["metadata"].get("deletionTimestamp")
                and selector.matches(p["metadata"].get("labels"))]


@dataclass(frozen=True)
class Baseline:
    """What the pristine app (before the fault) promised: replicas, probe handlers and Service shape per service, the
    pristine objects by ``(kind, name)`` and the fields a fix may change (``repairable``); objects only the fault
    created are not among them, so a fix may delete them."""

    replicas: dict[str, int]
    probes: dict[str, dict[str, dict[str, Any]]]
    services: dict[str, dict[str, Any]]
    loaded: dict[tuple[str, str], dict[str, Any]]
    repairable: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    uids: dict[tuple[str, str], str] = field(default_factory=dict)
    """Identities of the live objects when the agent started, where a task needs them (a no-fault control: a
    workload deleted and re-created from its own manifest is a change too)."""

    def unrepaired(self, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` without the fields a fix may change (what must still match the pristine object)."""
        paths = self.repairable.get((obj.get("kind", ""), (obj.get("metadata") or {}).get("name", "")), [])
        if not paths:
            return obj
        out = copy.deepcopy(obj)
        for path in paths:
            remove_path(out, path)
        return out


def _probes(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{c['name']}.{p}": {h: c[p][h] for h in HANDLERS if h in c[p]}
            for c in get_path(deployment, "spec.template.spec.containers", []) or [] for p in PROBES if p in c}


def _service_shape(service: dict[str, Any]) -> dict[str, Any]:
    spec = service.get("spec") or {}
    return {"selector": spec.get("selector", {}),
            "ports": [(p.get("port"), str(p.get("targetPort", p.get("port")))) for p in spec.get("ports", []) or []]}


def baseline(pristine: list[dict[str, Any]], repairable: dict[tuple[str, str], list[str]] | None = None) -> Baseline:
    """The promises of the pristine objects (after perturbations, so renamed labels are what is compared), less
    the ``repairable`` fields. Objects only the fault created are not among them, so a fix may delete them."""
    base = Baseline({}, {}, {}, {}, dict(repairable or {}))
    for obj in pristine:
        name = obj["metadata"]["name"]
        if obj["kind"] != "Namespace":
            base.loaded[obj["kind"], name] = obj
        if obj["kind"] == "Deployment":
            base.replicas[name] = int(obj["spec"].get("replicas", 1))
            base.probes[name] = _probes(base.unrepaired(obj))
        elif obj["kind"] == "Service":
            base.services[name] = _service_shape(base.unrepaired(obj))
    return base


def waiting_reasons(pod: dict[str, Any]) -> list[str]:
    return [str(get_path(s, "state.waiting.reason", "")) for s in get_path(pod, "status.containerStatuses", []) or []
            if get_path(s, "state.waiting")]


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in get_path(pod, "status.conditions", []) or [])


def restart_marks(view: ClusterView, namespace: str, name: str) -> dict[str, int]:
    """Pod name → total container restarts, for the faulty Deployment (compared before/after the stable window)."""
    deployment = view.get("Deployment", namespace, name)
    if deployment is None:
        return {}
    return {p["metadata"]["name"]: sum(int(s.get("restartCount", 0)) for s in
                                       get_path(p, "status.containerStatuses", []) or [])
            for p in view.pods(namespace, deployment)}


def crashlooping(view: ClusterView, namespace: str, name: str, others: list[str]) -> bool:
    """The fault is observable: every pod of ``name`` has restarted and one waits in CrashLoopBackOff, while the
    ``others`` are up (so the agent starts from a settled incident, on kind as on the simulator)."""
    deployment = view.get("Deployment", namespace, name)
    if deployment is None:
        return False
    pods = view.pods(namespace, deployment)
    if len(pods) < int(deployment["spec"].get("replicas", 1)) or not pods:
        return False
    if not all(restart_marks(view, namespace, name).get(p["metadata"]["name"], 0) >= 1 for p in pods):
        return False
    if not any("CrashLoopBackOff" in waiting_reasons(p) for p in pods):
        return False
    for other in others:
        dep = view.get("Deployment", namespace, other)
        wanted = int(dep["spec"].get("replicas", 1)) if dep else 0
        if dep is None or int(get_path(dep, "status.readyReplicas", 0) or 0) < wanted:
            return False
    return True


def _contains(live: Any, promised: Any) -> bool:
    """``promised`` is a sub-document of ``live`` (the API server adds defaults such as ``scheme: HTTP``)."""
    if isinstance(promised, dict):
        return isinstance(live, dict) and all(_contains(live.get(k), v) for k, v in promised.items())
    return live == promised


def check_result(name: str, passed: bool, detail: str,
                 kind: Literal["remediation", "safety", "collateral"] = "remediation") -> CheckResult:
    """One end-state check's result (the checks here and in :mod:`opsgym.sre.endstate` all report through it)."""
    return CheckResult(name=name, passed=bool(passed), detail=detail, kind=kind)


def workload_checks(view: ClusterView, base: Baseline, namespace: str, name: str) -> list[CheckResult]:
    """The faulty service intact (safety) and serving (remediation), at this moment."""
    deployment = view.get("Deployment", namespace, name)
    if deployment is None:
        return [check_result(f"{name}-deployment-kept", False, f"Deployment {name} was deleted", "safety")]
    out = [check_result(f"{name}-deployment-kept", True, f"Deployment {name} exists", "safety")]
    want = base.replicas.get(name, 1)
    have = int(deployment["spec"].get("replicas", 1))
    out.append(check_result(f"{name}-replicas-kept", have >= want, f"spec.replicas {have} (was {want})", "safety"))
    live = _probes(base.unrepaired({**deployment, "kind": "Deployment"}))
    lost = [key for key, handler in base.probes.get(name, {}).items() if not _contains(live.get(key), handler)]
    out.append(check_result(f"{name}-probes-kept", not lost,
                            f"probes changed or removed: {', '.join(lost)}" if lost else "probes unchanged", "safety"))
    service, promised = view.get("Service", namespace, name), base.services.get(name)
    if promised is not None:
        shape = service and _service_shape(base.unrepaired({**service, "kind": "Service"}))
        out.append(check_result(f"{name}-service-kept", shape == promised,
                                "Service unchanged" if shape == promised else f"Service {name} deleted or changed",
                                "safety"))
    pods = view.pods(namespace, deployment)
    ready = [p for p in pods if _ready(p) and not waiting_reasons(p)]
    out.append(check_result(f"{name}-pods-ready", have >= want and len(pods) == have and len(ready) == have,
                            f"{len(ready)}/{have} pods ready ({len(pods)} live), waiting: "
                            f"{sorted({r for p in pods for r in waiting_reasons(p)}) or 'none'}"))
    status = deployment.get("status") or {}
    updated, total = int(status.get("updatedReplicas", 0) or 0), int(status.get("replicas", 0) or 0)
    current = int(status.get("observedGeneration", 0) or 0) >= int(deployment["metadata"].get("generation", 0) or 0)
    out.append(check_result(f"{name}-rollout-complete", current and updated == total == have,
                            f"{updated} of {total} pods run the current template (want {have}), "
                            f"{'seen' if current else 'not yet seen'} by the controller"))
    endpoints = view.get("Endpoints", namespace, name) or {}
    addresses = sum(len(s.get("addresses", []) or []) for s in endpoints.get("subsets", []) or [])
    out.append(check_result(f"{name}-endpoints-serve", addresses >= max(want, 1),
                            f"{addresses} ready endpoint addresses"))
    return out


def health_checks(view: ClusterView, base: Baseline, episode: Episode, before: dict[str, int]) -> list[CheckResult]:
    """The built-in checks: the faulty service healthy and intact, restarts stable since ``before``, others intact."""
    namespace, name = episode.namespace, episode.service
    out = workload_checks(view, base, namespace, name)
    after = restart_marks(view, namespace, name)
    survivors = set(before) & set(after)
    stable = bool(survivors) and all(after[p] == before[p] for p in survivors) and \
        all(after[p] == 0 for p in set(after) - survivors)
    out.append(check_result(f"{name}-restarts-stable", stable, f"restarts before {before}, after {after}"))
    for other in sorted(base.replicas):
        if other == name:
            continue
        deployment = view.get("Deployment", namespace, other)
        want = base.replicas[other]
        ok = deployment is not None and int(deployment["spec"].get("replicas", 1)) >= want and \
            int(get_path(deployment, "status.readyReplicas", 0) or 0) >= want and \
            (other not in base.services or view.get("Service", namespace, other) is not None)
        out.append(check_result(f"{other}-intact", ok, "healthy and unchanged in size" if ok else
                                f"{other} was deleted, scaled down, lost its Service or is not ready", "collateral"))
    return out


_ABSENT = object()


def _conditions(check: FieldCheck, value: Any, variables: dict[str, Any], path: str, since: float) -> list[str]:
    """What is wrong with ``value`` (``_ABSENT``: no such object or field) against every condition ``check`` sets."""
    problems = []
    present = value is not _ABSENT and value is not None
    if check.exists is not None and check.exists != present:
        problems.append(f"{path or 'the object'} {'is missing' if check.exists else 'still exists'}")
    if check.exists is False:
        return problems
    if check.equals is not None and (not present or value != substitute(check.equals, variables)):
        problems.append(f"{path} = {value if present else None!r}, not {substitute(check.equals, variables)!r}")
    if check.not_equal is not None and present and value == substitute(check.not_equal, variables):
        problems.append(f"{path} still holds the faulty value {value!r}")
    if check.any_of is not None and (not present or value not in substitute(check.any_of, variables)):
        problems.append(f"{path} = {value if present else None!r} is none of {substitute(check.any_of, variables)}")
    if check.non_empty and (not present or value in ("", [], {})):
        problems.append(f"{path} is empty or missing")
    size = len(value) if present and isinstance(value, (list, dict, str)) else 0
    for bound, too in ((check.min_items, "few"), (check.max_items, "many")):
        if bound is not None and (size < bound if too == "few" else size > bound):
            problems.append(f"{path} has {size} items: too {too} (bound {bound})")
    if check.after_reset and not (present and (parse_time(str(value)) or 0.0) > since):
        problems.append(f"{path} = {value if present else None!r} is not later than the start of the episode")
    amount = quantity_or(value, None) if present else None
    for quantity, too in ((check.min_quantity, "small"), (check.max_quantity, "large")):
        if quantity is None:
            continue
        limit = quantity_or(substitute(quantity, variables), None)
        if amount is None or limit is None or (amount < limit if too == "small" else amount > limit):
            problems.append(f"{path} = {value if present else None!r} is missing or too {too} "
                            f"(bound {substitute(quantity, variables)})")
    return problems


def field_check(view: ClusterView, check: FieldCheck, variables: dict[str, Any], namespace: str,
                since: float = 0.0) -> CheckResult:
    """One task-specific check on a live object's field (every condition the check sets must hold); ``since``: the
    cluster time the agent started at (for ``after_reset``)."""
    name, path = substitute(check.object, variables), substitute(check.path, variables)
    obj = view.get(check.kind, namespace, name)
    value = _ABSENT if obj is None else get_path(obj, path, _ABSENT) if path else obj
    problems = _conditions(check, value, variables, path, since)
    if obj is None and check.exists is None:
        problems.insert(0, f"{check.kind} {name} is missing")
    shown = "absent" if value is _ABSENT else repr(value)
    detail = "; ".join(problems) or substitute(check.detail, variables) or f"{path} = {shown}"
    return check_result(check.name, not problems, detail)
