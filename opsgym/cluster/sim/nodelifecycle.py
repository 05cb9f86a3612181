"""The node lifecycle controller's taints and the taint manager's NoExecute evictions, plus the one way a task or
test changes a node's health (:func:`set_node_condition`).

A node's conditions are facts a task sets (nothing in the simulator makes a node sick by itself); this pass turns
them into the taints the real controller adds — ``node.kubernetes.io/not-ready`` (NoSchedule and NoExecute) for
Ready=False, ``unreachable`` for Ready=Unknown, ``memory-pressure``/``disk-pressure``/``pid-pressure`` (NoSchedule) —
and ``node.kubernetes.io/unschedulable:NoSchedule`` for a cordoned node. The scheduler then reads only taints.
A pod on a node with a NoExecute taint it does not tolerate is deleted at once; one that tolerates it for
``tolerationSeconds`` (every pod gets 300 s for not-ready/unreachable by default) is deleted when they run out,
counted from the taint's ``timeAdded`` or the pod's binding, whichever is later.

The same condition change works as data: a status patch of the node (``kubectl patch node N --subresource=status``
with ``{"status": {"conditions": [{"type": "Ready", "status": "False"}]}}``) has the same effect.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.controllers import set_condition
from opsgym.cluster.sim.kinds import lookup

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["NodeLifecycle", "set_node_condition", "tolerates", "untolerated"]

Obj = dict[str, Any]
CONDITION_TAINTS = (("Ready", "False", "node.kubernetes.io/not-ready"),
                    ("Ready", "Unknown", "node.kubernetes.io/unreachable"),
                    ("MemoryPressure", "True", "node.kubernetes.io/memory-pressure"),
                    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
                    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
                    ("NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable"))
NO_EXECUTE = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MANAGED = {key for _, _, key in CONDITION_TAINTS} | {UNSCHEDULABLE}
EVICTOR = "taint-eviction-controller"
CONDITION_TEXT = {
    ("Ready", "True"): ("KubeletReady", "kubelet is posting ready status", "NodeReady"),
    ("Ready", "False"): ("KubeletNotReady", "container runtime network not ready: NetworkReady=false "
                         "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not "
                         "initialized", "NodeNotReady"),
    ("Ready", "Unknown"): ("NodeStatusUnknown", "Kubelet stopped posting node status.", "NodeNotReady"),
    ("MemoryPressure", "True"): ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
                                 "NodeHasInsufficientMemory"),
    ("MemoryPressure", "False"): ("KubeletHasSufficientMemory", "kubelet has sufficient memory available",
                                  "NodeHasSufficientMemory"),
    ("DiskPressure", "True"): ("KubeletHasDiskPressure", "kubelet has disk pressure", "NodeHasDiskPressure"),
    ("DiskPressure", "False"): ("KubeletHasNoDiskPressure", "kubelet has no disk pressure", "NodeHasNoDiskPressure"),
    ("PIDPressure", "True"): ("KubeletHasInsufficientPID", "kubelet has insufficient PID available",
                              "NodeHasInsufficientPID"),
    ("PIDPressure", "False"): ("KubeletHasSufficientPID", "kubelet has sufficient PID available",
                               "NodeHasSufficientPID"),
}
"""(condition, status) → the kubelet's condition reason and message, and the reason of its node event."""


def tolerates(pod_spec: Obj, taint: Obj) -> bool:
    """Whether one of the pod's tolerations tolerates ``taint`` (the API's ToleratesTaint)."""
    for tol in pod_spec.get("tolerations") or []:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("key") and tol.get("key") != taint.get("key"):
            continue
        operator = tol.get("operator") or "Equal"
        if operator == "Exists" or (operator == "Equal" and (tol.get("value") or "") == (taint.get("value") or "")):
            return True
    return False


def untolerated(pod_spec: Obj, taints: Iterable[Obj], effects: tuple[str, ...] = ("NoSchedule", "NoExecute")
                ) -> Obj | None:
    """The first taint with one of ``effects`` that the pod does not tolerate, or None."""
    return next((t for t in taints if t.get("effect") in effects and not tolerates(pod_spec, t)), None)


def set_node_condition(engine: Engine, node: str, kind: str, status: str, reason: str = "",
                       message: str = "") -> None:
    """Set one condition of a node as its kubelet (or the node controller) would report it, with its node event.

    For tasks and tests: ``set_node_condition(engine, "node-2", "Ready", "False")`` makes node-2 NotReady; the
    lifecycle pass taints it at the next reconcile. Reason and message default to the kubelet's words.
    """
    current = engine.store.get("nodes", "", node)
    if current is None:
        raise KeyError(f'nodes "{node}" not found')
    default_reason, default_message, event = CONDITION_TEXT.get((kind, status), ("", "", ""))
    fresh = copy.deepcopy(current)
    conditions = fresh.setdefault("status", {}).setdefault("conditions", [])
    now = engine.stamp()
    entry = next((c for c in conditions if c.get("type") == kind), None)
    if entry is None:
        entry = {"type": kind}
        conditions.append(entry)
    if entry.get("status") != status:
        entry["lastTransitionTime"] = now
    entry.update({"status": status, "reason": reason or default_reason, "message": message or default_message,
                  "lastHeartbeatTime": now})
    engine.store.put("nodes", fresh)
    if event:
        engine.events.emit(fresh, "Normal", event, f"Node {node} status is now: {event}", "kubelet", node)
    engine.reconcile()


class NodeLifecycle:
    """Keeps the condition taints of every node and deletes pods whose NoExecute toleration ran out."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store

    def run(self) -> None:
        for node in self.store.items("nodes"):
            taints = self._taints(node)
            if taints != ((node.get("spec") or {}).get("taints") or []):
                fresh = copy.deepcopy(node)
                fresh.setdefault("spec", {})["taints"] = taints
                if not taints:
                    del fresh["spec"]["taints"]
                self.store.put("nodes", fresh)
        now = self.engine.clock.now
        for pod, deadline in list(self._deadlines()):
            if deadline <= now:
                self._evict(pod)

    def next_timer(self) -> float | None:
        now = self.engine.clock.now
        return min((d for _, d in self._deadlines() if d > now), default=None)

    def _taints(self, node: Obj) -> list[Obj]:
        """The node's taints with the managed ones as its conditions and cordon call for (others kept in place)."""
        conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        wanted = [(key, "NoSchedule") for kind, status, key in CONDITION_TAINTS if conditions.get(kind) == status]
        wanted += [(key, "NoExecute") for key, _ in list(wanted) if key in NO_EXECUTE]
        if (node.get("spec") or {}).get("unschedulable"):
            wanted.append((UNSCHEDULABLE, "NoSchedule"))
        current = (node.get("spec") or {}).get("taints") or []
        kept = [t for t in current if t.get("key") not in MANAGED or (t.get("key"), t.get("effect")) in wanted]
        have = {(t.get("key"), t.get("effect")) for t in kept}
        stamp = self.engine.stamp()
        return kept + [{"key": key, "effect": effect, "timeAdded": stamp} for key, effect in wanted
                       if (key, effect) not in have]

    def _deadlines(self) -> Iterator[tuple[Obj, float]]:
        """(pod, instant it must go) for every bound pod on a node with a NoExecute taint it tolerates for a while
        (or not at all: then the instant is now)."""
        tainted = {}
        for node in self.store.items("nodes"):
            noexec = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
            if noexec:
                tainted[node["metadata"]["name"]] = noexec
        if not tainted:
            return
        now = self.engine.clock.now
        for pod in self.store.items("pods"):
            taints = tainted.get((pod.get("spec") or {}).get("nodeName"))
            if not taints or pod["metadata"].get("deletionTimestamp") or \
                    (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            spec = pod.get("spec") or {}
            seconds: list[float] = []
            for taint in taints:
                used = next((t for t in spec.get("tolerations") or [] if tolerates({"tolerations": [t]}, taint)),
                            None)
                if used is None:
                    seconds = [0.0]
                    break
                if used.get("tolerationSeconds") is not None:
                    seconds.append(max(0.0, float(used["tolerationSeconds"])))
            if not seconds:
                continue
            since = [self.engine.parse(t.get("timeAdded")) or now for t in taints]
            bound = next((self.engine.parse(c.get("lastTransitionTime")) for c in
                          (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"), None)
            yield pod, max([*since, bound or 0.0]) + min(seconds)

    def _evict(self, pod: Obj) -> None:
        meta = pod["metadata"]
        fresh = copy.deepcopy(pod)
        set_condition(fresh.setdefault("status", {}).setdefault("conditions", []), "DisruptionTarget", "True",
                      self.engine.stamp(), "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")
        self.store.put("pods", fresh)
        self.engine.events.emit(fresh, "Normal", "TaintManagerEviction",
                                f"Marking for deletion Pod {meta['namespace']}/{meta['name']}", EVICTOR)
        self.engine.api.delete(lookup("pods"), meta["namespace"], meta["name"])
