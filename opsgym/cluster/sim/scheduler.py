"""kube-scheduler's default profile, as far as an incident needs it: which node a pod may run on and why not.

Filters run in the default profile's order (NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts,
NodeResourcesFit, VolumeBinding, InterPodAffinity) and a node is rejected by the first that fails, with the plugin's
own reason text; a pod no node takes gets ``PodScheduled=False/Unschedulable`` and a ``FailedScheduling`` event
whose message is the scheduler's FitError (reasons counted per node, "N reason" strings sorted as text) followed by
the DefaultPreemption verdict. Preemption evicts lower-priority victims when removing them lets the pod fit.

Scoring keeps the simulator's deterministic spreading (fewest pods, then node name) as the tie-breaker under the
preference plugins (TaintToleration PreferNoSchedule, preferred node affinity, preferred inter-pod affinity), which
are zero for pods that use none of them, so such pods land exactly where they always did.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.controllers import set_condition
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.nodelifecycle import NodeLifecycle, tolerates, untolerated
from opsgym.cluster.sim.podaffinity import RESOLVABLE, UNRESOLVABLE, Affinity, View, preferred_score, terms
from opsgym.cluster.sim.storage import volume_node_reason, volume_unschedulable
from opsgym.k8s.quantity import quantity_or
from opsgym.k8s.selectors import Requirement

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["Scheduler", "node_selects", "pod_requests", "tolerates", "untolerated"]

Obj = dict[str, Any]
SCHEDULER = "default-scheduler"
RESOURCES = (("cpu", 1000), ("memory", 1), ("ephemeral-storage", 1))
"""Resources NodeResourcesFit compares, with the integer unit they are counted in (milli-cores, bytes)."""
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


# ------------------------------------------------------------------------------------------------ pod facts
def _node_term_matches(term: Obj, node: Obj) -> bool:
    """A NodeSelectorTerm: its expressions and fields all hold; a term with neither matches nothing."""
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = node["metadata"].get("labels") or {}
    for expr in expressions:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
        if op in ("Gt", "Lt"):
            try:
                have, want = int(labels[key]), int(values[0])
            except (KeyError, IndexError, ValueError):
                return False
            if not (have > want if op == "Gt" else have < want):
                return False
        elif not Requirement(key, op, frozenset(map(str, values))).matches(labels):
            return False
    name = {"metadata.name": node["metadata"]["name"]}
    return all(Requirement(f.get("key", ""), f.get("operator", ""), frozenset(f.get("values") or [])).matches(name)
               for f in fields)


def node_selects(pod_spec: Obj, node: Obj) -> bool:
    """NodeAffinity's filter: ``nodeSelector`` labels and the required node affinity (terms ORed) both hold."""
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    return required is None or any(_node_term_matches(t, node) for t in required.get("nodeSelectorTerms") or [])


def pod_requests(pod: Obj) -> dict[str, int]:
    """Effective requests: per resource, the larger of the app containers' sum and any one init container."""
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    for name, unit in RESOURCES:
        def amount(c: Obj, name: str = name, unit: int = unit) -> int:
            return round(quantity_or(((c.get("resources") or {}).get("requests") or {}).get(name, 0), 0.0) * unit)
        apps = sum(amount(c) for c in spec.get("containers") or [])
        inits = max((amount(c) for c in spec.get("initContainers") or []), default=0)
        overhead = round(quantity_or((spec.get("overhead") or {}).get(name, 0), 0.0) * unit)
        total[name] = max(apps, inits) + overhead
    return total


def priority(pod: Obj) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


# ------------------------------------------------------------------------------------------------ the scheduler
class Scheduler:
    """Binds pending pods of ``default-scheduler``; also steps the node lifecycle (taints, NoExecute evictions)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store
        self.lifecycle = NodeLifecycle(engine)

    def next_timer(self) -> float | None:
        return self.lifecycle.next_timer()

    def run(self) -> None:
        self.lifecycle.run()
        pods = self.store.items("pods")
        pending = [pod for pod in pods if not (pod.get("spec") or {}).get("nodeName") and not
                   pod["metadata"].get("deletionTimestamp") and
                   (pod.get("spec") or {}).get("schedulerName", SCHEDULER) == SCHEDULER]
        if not pending:  # most passes: every pod is bound, so the nodes' load need not be added up
            return
        nodes = {n["metadata"]["name"]: n for n in self.store.items("nodes")}
        bound: dict[str, list[Obj]] = {name: [] for name in nodes}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node in bound and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                bound[node].append(pod)
        view = View(nodes, bound, {n["metadata"]["name"]: n for n in self.store.items("namespaces")})
        for pod in sorted(pending, key=lambda p: -priority(p)):  # PrioritySort; the store's order among equals
            self._schedule_one(pod, view)

    def _schedule_one(self, pod: Obj, view: View) -> None:
        fresh = copy.deepcopy(pod)
        conditions = fresh.setdefault("status", {}).setdefault("conditions", [])
        prefilter, statuses, feasible = self._filter_all(pod, view)
        if feasible:
            node = self._best(pod, feasible, view)
            fresh["spec"]["nodeName"] = node
            set_condition(conditions, "PodScheduled", "True", self.engine.stamp())
            view.bound[node].append(fresh)
            self.store.put("pods", fresh)
            self.engine.events.emit(fresh, "Normal", "Scheduled", f"Successfully assigned "
                                    f"{fresh['metadata']['namespace']}/{fresh['metadata']['name']} to {node}",
                                    SCHEDULER)
            return
        if not view.nodes:
            message = "no nodes available to schedule pods"
        else:
            message = fit_error(len(view.nodes), statuses, prefilter)
            post = self._preempt(pod, fresh, view, statuses)
            if post:
                message += f" preemption: {post}"
        old: Obj = next((c for c in conditions if c["type"] == "PodScheduled"), {})
        if old.get("message") != message or fresh["status"] != pod.get("status"):
            set_condition(conditions, "PodScheduled", "False", self.engine.stamp(), "Unschedulable", message)
            self.store.put("pods", fresh)
            self.engine.events.emit(fresh, "Warning", "FailedScheduling", message, SCHEDULER)

    # -------------------------------------------------------------------------------------------- filters
    def _filter_all(self, pod: Obj, view: View) -> tuple[str, dict[str, tuple[str, list[str]]], list[str]]:
        """A PreFilter verdict that rejects every node (or ""), (node → (code, reasons)) for the nodes that reject
        the pod, and the nodes that take it."""
        blocked = volume_unschedulable(self.engine, pod)
        if blocked:
            return blocked, {name: (UNRESOLVABLE, [blocked]) for name in view.nodes}, []
        affinity = Affinity.of(pod, view)
        statuses: dict[str, tuple[str, list[str]]] = {}
        feasible = []
        for name, node in view.nodes.items():
            status = self._filter(pod, node, view, affinity)
            if status is None:
                feasible.append(name)
            else:
                statuses[name] = status
        return "", statuses, feasible

    def _filter(self, pod: Obj, node: Obj, view: View, affinity: Affinity) -> tuple[str, list[str]] | None:
        spec, name = pod.get("spec") or {}, node["metadata"]["name"]
        node_spec = node.get("spec") or {}
        if node_spec.get("unschedulable") and not tolerates(spec, {"key": "node.kubernetes.io/unschedulable",
                                                                   "effect": "NoSchedule"}):
            return UNRESOLVABLE, ["node(s) were unschedulable"]
        taint = untolerated(spec, node_spec.get("taints") or [])
        if taint is not None:
            return UNRESOLVABLE, [f"node(s) had untolerated taint {{{taint.get('key', '')}: "
                                  f"{taint.get('value', '')}}}"]
        if not node_selects(spec, node):
            return UNRESOLVABLE, ["node(s) didn't match Pod's node affinity/selector"]
        if _host_ports(pod) & {port for other in view.bound[name] for port in _host_ports(other)}:
            return RESOLVABLE, ["node(s) didn't have free ports for the requested pod ports"]
        short = _insufficient(pod, node, view.bound[name])
        if short:
            return RESOLVABLE, short
        volume = volume_node_reason(self.engine, pod, node)
        if volume:
            return UNRESOLVABLE, [volume]
        verdict = affinity.reason(pod, node, view)
        return (verdict[0], [verdict[1]]) if verdict else None

    # -------------------------------------------------------------------------------------------- scoring
    def _best(self, pod: Obj, feasible: list[str], view: View) -> str:
        scores = {name: 0.0 for name in feasible}
        for weight, raw, normalize in ((3, self._taint_score, _reverse), (2, self._node_affinity_score, _scale),
                                       (2, preferred_score, _min_max)):
            values = {name: raw(pod, view.nodes[name], view) for name in feasible}
            for name, value in normalize(values).items():
                scores[name] += weight * value
        return min(feasible, key=lambda n: (-scores[n], len(view.bound[n]), n))

    @staticmethod
    def _taint_score(pod: Obj, node: Obj, view: View) -> float:
        spec = pod.get("spec") or {}
        return float(sum(1 for t in (node.get("spec") or {}).get("taints") or []
                         if t.get("effect") == "PreferNoSchedule" and not tolerates(
                             {"tolerations": [x for x in spec.get("tolerations") or []
                                              if x.get("effect") in (None, "", "PreferNoSchedule")]}, t)))

    @staticmethod
    def _node_affinity_score(pod: Obj, node: Obj, view: View) -> float:
        return float(sum(int(term.get("weight", 0)) for term in terms(pod, "nodeAffinity", "preferred")
                         if _node_term_matches(term.get("preference") or {}, node)))

    # -------------------------------------------------------------------------------------------- preemption
    def _preempt(self, pod: Obj, fresh: Obj, view: View, statuses: dict[str, tuple[str, list[str]]]) -> str:
        """DefaultPreemption's PostFilter: evict victims for the pod, or say why not (the text after "preemption: ")."""
        spec = pod.get("spec") or {}
        if spec.get("preemptionPolicy") == "Never":
            return "not eligible due to preemptionPolicy=Never."
        nominated = (pod.get("status") or {}).get("nominatedNodeName")
        if nominated in view.bound and statuses.get(nominated, (UNRESOLVABLE,))[0] != UNRESOLVABLE and any(
                p["metadata"].get("deletionTimestamp") and priority(p) < priority(pod) for p in view.bound[nominated]):
            return "not eligible due to a terminating pod on the nominated node."
        verdicts: dict[str, tuple[str, list[str]]] = {}
        candidates: list[tuple[tuple[int, int, int, str], str, list[Obj]]] = []
        for name, (code, _) in statuses.items():
            if code == UNRESOLVABLE:
                verdicts[name] = (UNRESOLVABLE, [NOT_HELPFUL])
                continue
            victims = self._victims(pod, name, view)
            if isinstance(victims, tuple):
                verdicts[name] = victims
                continue
            prios = [priority(v) for v in victims]
            candidates.append(((max(prios), sum(prios), len(prios), name), name, victims))
        if not candidates:
            return fit_error(len(view.nodes), verdicts)
        _, node, victims = min(candidates, key=lambda c: c[0])
        for victim in victims:
            self._evict(victim, pod, node)
        fresh["status"]["nominatedNodeName"] = node
        return ""

    def _victims(self, pod: Obj, node: str, view: View) -> list[Obj] | tuple[str, list[str]]:
        """The fewest lower-priority pods whose removal lets ``pod`` fit on ``node`` (highest priority reprieved
        first), or the node's verdict when none do."""
        lower = [p for p in view.bound[node] if priority(p) < priority(pod) and
                 not p["metadata"].get("deletionTimestamp")]
        if not lower:
            return UNRESOLVABLE, [NO_VICTIMS]

        def fits(removed: list[Obj]) -> tuple[str, list[str]] | None:
            trial = view.without(node, removed)
            return self._filter(pod, view.nodes[node], trial, Affinity.of(pod, trial))

        status = fits(lower)
        if status is not None:
            return status
        victims = list(lower)
        for candidate in sorted(lower, key=lambda p: -priority(p)):
            kept = [v for v in victims if v is not candidate]
            if fits(kept) is None:
                victims = kept
        return victims

    def _evict(self, victim: Obj, preemptor: Obj, node: str) -> None:
        fresh = copy.deepcopy(victim)
        set_condition(fresh.setdefault("status", {}).setdefault("conditions", []), "DisruptionTarget", "True",
                       self.engine.stamp(), "PreemptionByScheduler",
                       f"{SCHEDULER}: preempting to accommodate a higher priority pod")
        self.store.put("pods", fresh)
        self.engine.events.emit(fresh, "Normal", "Preempted",
                                f"Preempted by pod {preemptor['metadata']['uid']} on node {node}", SCHEDULER)
        self.engine.api.delete(lookup("pods"), fresh["metadata"]["namespace"], fresh["metadata"]["name"])


def fit_error(total: int, statuses: dict[str, tuple[str, list[str]]], prefilter: str = "") -> str:
    """The scheduler's FitError text: ``0/N nodes are available: <count reason, …>.`` sorted as strings; a
    PreFilter verdict stands alone, uncounted."""
    if prefilter:
        return f"0/{total} nodes are available: {prefilter}."
    counts: dict[str, int] = {}
    for _, reasons in statuses.values():
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
    histogram = sorted(f"{n} {reason}" for reason, n in counts.items())
    return f"0/{total} nodes are available: " + ", ".join(histogram) + "."


def _insufficient(pod: Obj, node: Obj, bound: list[Obj]) -> list[str]:
    """NodeResourcesFit's reasons: too many pods, then every resource whose request exceeds what is left."""
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    reasons = []
    if len(bound) + 1 > int(quantity_or(allocatable.get("pods", "110"), 110.0)):
        reasons.append("Too many pods")
    wanted = pod_requests(pod)
    if not any(wanted.values()):
        return reasons
    used = [pod_requests(p) for p in bound]
    for name, unit in RESOURCES:
        have = round(quantity_or(allocatable.get(name, "0"), 0.0) * unit)
        if wanted[name] > 0 and wanted[name] > have - sum(u[name] for u in used):
            reasons.append(f"Insufficient {name}")
    return reasons


def _host_ports(pod: Obj) -> set[tuple[str, int]]:
    return {(p.get("protocol", "TCP"), int(p["hostPort"])) for c in (pod.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or [] if p.get("hostPort")}


def _scale(values: dict[str, float]) -> dict[str, float]:
    top = max(values.values(), default=0.0)
    return {k: (v * 100 / top if top > 0 else 0.0) for k, v in values.items()}


def _reverse(values: dict[str, float]) -> dict[str, float]:
    top = max(values.values(), default=0.0)
    return {k: (100 - v * 100 / top if top > 0 else 100.0) for k, v in values.items()}


def _min_max(values: dict[str, float]) -> dict[str, float]:
    low, high = min(values.values(), default=0.0), max(values.values(), default=0.0)
    return {k: ((v - low) * 100 / (high - low) if high > low else 0.0) for k, v in values.items()}

