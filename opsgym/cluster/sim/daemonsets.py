"""The DaemonSet controller: one pod per eligible node, bound to it, replaced within ``maxUnavailable`` on update.

As kube-controller-manager 1.32 does: a node is eligible when the pod template's ``nodeSelector`` and required node
affinity match its labels and every NoSchedule/NoExecute taint is tolerated, counting the tolerations the controller
adds to every daemon pod (not-ready, unreachable, disk/memory/pid pressure, unschedulable: a cordoned node still
runs its daemons). Each pod carries the required node affinity ``matchFields metadata.name In [node]`` the real
controller sets, and the scheduler binds it there (with the scheduler's own node-affinity and taint checks).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.nodelifecycle import untolerated
from opsgym.cluster.sim.scheduler import node_selects
from opsgym.cluster.sim.statefulsets import REVISION_LABEL, PodSetController, available_at, running_and_ready
from opsgym.cluster.sim.status import ApiError
from opsgym.cluster.sim.store import revised
from opsgym.cluster.sim.workloads import _owner_ref as owner_ref
from opsgym.cluster.sim.workloads import _scaled as scaled
from opsgym.cluster.sim.workloads import template_hash

if TYPE_CHECKING:
    pass

__all__ = ["DAEMON_TOLERATIONS", "DaemonSets"]

Obj = dict[str, Any]
COMPONENT = "daemonset-controller"
GENERATION_LABEL = "pod-template-generation"
DAEMON_TOLERATIONS = (("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                      ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                      ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                      ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                      ("node.kubernetes.io/unschedulable", "NoSchedule"))
"""What the DaemonSet controller adds to every daemon pod's tolerations (``operator: Exists``), in its order."""


def _tolerations(template_spec: Obj) -> list[Obj]:
    tolerations = [dict(t) for t in template_spec.get("tolerations") or []]
    for key, effect in DAEMON_TOLERATIONS:
        if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    return tolerations


def _should_run(daemon_spec: Obj, node: Obj) -> bool:
    """``NodeShouldRunDaemonPod``: node selector and required affinity match, NoSchedule/NoExecute taints tolerated
    (``daemon_spec``: the pod spec with the daemon tolerations added)."""
    return node_selects(daemon_spec, node) and untolerated(daemon_spec, (node.get("spec") or {}).get("taints") or []) \
        is None


def _bound_affinity(affinity: Obj | None, node: str) -> Obj:
    """The template's affinity with every required term pinned to ``node`` by name (``matchFields``)."""
    affinity = copy.deepcopy(affinity or {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    pin = [{"key": "metadata.name", "operator": "In", "values": [node]}]
    terms = required.get("nodeSelectorTerms") or [{}]
    required["nodeSelectorTerms"] = [{**term, "matchFields": pin} for term in terms]
    return affinity


def _target(pod: Obj) -> str:
    """The node a daemon pod is for: where it is bound, else the node its ``matchFields`` term names."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    return next((str((f.get("values") or [""])[0]) for t in terms for f in t.get("matchFields") or []
                 if f.get("key") == "metadata.name"), "")


class DaemonSets(PodSetController):
    """Reconciles every DaemonSet: a pod on each eligible node, none elsewhere, and the status counts."""

    plural = "daemonsets"

    def _sync(self, ds: Obj) -> None:
        spec = ds.get("spec") or {}
        template_spec = (spec.get("template") or {}).get("spec") or {}
        tolerations = _tolerations(template_spec)
        daemon_spec = {**template_spec, "tolerations": tolerations}
        pod_hash = template_hash(spec.get("template") or {}, (ds.get("status") or {}).get("collisionCount", 0))
        by_node: dict[str, list[Obj]] = {}
        for pod in self.store.owned("pods", ds["metadata"]["namespace"], ds["metadata"]["uid"]):
            by_node.setdefault(_target(pod), []).append(pod)
        eligible = [n["metadata"]["name"] for n in self.store.items("nodes") if _should_run(daemon_spec, n)]
        for node in eligible:
            live = [p for p in by_node.get(node, []) if not p["metadata"].get("deletionTimestamp")]
            failed = [p for p in live if (p.get("status") or {}).get("phase") == "Failed"]
            for pod in failed:  # a failed daemon pod is deleted; its replacement follows once it is gone
                self._delete(ds, pod)
            live = [p for p in live if p not in failed]
            if not live and not failed and not by_node.get(node):
                self._create(ds, node, pod_hash, tolerations)
            for pod in sorted(live, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))[1:]:
                self._delete(ds, pod)
        for node, pods in by_node.items():
            if node not in eligible:
                for pod in pods:
                    if not pod["metadata"].get("deletionTimestamp"):
                        self._delete(ds, pod)
        self._roll(ds, eligible, pod_hash)
        self._status(ds, eligible, pod_hash)

    def _create(self, ds: Obj, node: str, pod_hash: str, tolerations: list[Obj]) -> None:
        template = copy.deepcopy((ds["spec"].get("template")) or {})
        meta = template.get("metadata") or {}
        meta.pop("name", None)
        meta.update(generateName=ds["metadata"]["name"] + "-", ownerReferences=[owner_ref(ds)])
        meta["labels"] = {**(meta.get("labels") or {}), REVISION_LABEL: pod_hash,
                          GENERATION_LABEL: str(ds["metadata"].get("generation", 1))}
        spec = template.get("spec") or {}
        spec.update(affinity=_bound_affinity(spec.get("affinity"), node), tolerations=tolerations)
        try:
            pod, _ = self.engine.api.create(lookup("pods"), ds["metadata"]["namespace"],
                                            {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
        except ApiError as exc:
            self.engine.events.emit(ds, "Warning", "FailedCreate", f"Error creating: {exc.message}", COMPONENT)
            return
        self.engine.events.emit(ds, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                                COMPONENT)

    def _delete(self, ds: Obj, pod: Obj) -> None:
        self.engine.api.delete(lookup("pods"), pod["metadata"]["namespace"], pod["metadata"]["name"])
        self.engine.events.emit(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                                COMPONENT)

    def _roll(self, ds: Obj, eligible: list[str], pod_hash: str) -> None:
        """RollingUpdate: delete old pods, the unavailable ones freely and the available ones within
        ``maxUnavailable`` (rounded up from a percentage of the desired count, as the controller does)."""
        strategy = ds["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        allowed = scaled((strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1), len(eligible),
                         round_up=True)
        min_ready, now = ds["spec"].get("minReadySeconds", 0), self.engine.clock.now
        pods = {_target(p): p for p in self.store.owned("pods", ds["metadata"]["namespace"],
                                                                       ds["metadata"]["uid"])}

        def available(pod: Obj | None) -> bool:
            at = available_at(self.engine, pod, min_ready) if pod is not None else None
            return at is not None and at <= now

        unavailable = sum(not available(pods.get(node)) for node in eligible)
        for node in eligible:
            pod = pods.get(node)
            if pod is None or pod["metadata"].get("deletionTimestamp") or \
                    (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) == pod_hash:
                continue
            if not available(pod):
                self._delete(ds, pod)
            elif unavailable < allowed:
                self._delete(ds, pod)
                unavailable += 1

    def _status(self, ds: Obj, eligible: list[str], pod_hash: str) -> None:
        ds = self.store.get("daemonsets", ds["metadata"]["namespace"], ds["metadata"]["name"]) or ds
        min_ready, now = ds["spec"].get("minReadySeconds", 0), self.engine.clock.now
        current = misscheduled = ready = available = updated = 0
        nodes_seen: set[str] = set()
        for pod in self.store.owned("pods", ds["metadata"]["namespace"], ds["metadata"]["uid"]):
            node = _target(pod)
            if pod["metadata"].get("deletionTimestamp") or node in nodes_seen:
                continue
            nodes_seen.add(node)
            if node not in eligible:
                misscheduled += 1
                continue
            current += 1
            if running_and_ready(pod):
                ready += 1
                at = available_at(self.engine, pod, min_ready)
                available += at is not None and at <= now
            updated += (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) == pod_hash
        status: Obj = {"currentNumberScheduled": current, "desiredNumberScheduled": len(eligible),
                       "numberAvailable": available, "numberMisscheduled": misscheduled, "numberReady": ready,
                       "numberUnavailable": len(eligible) - available,
                       "observedGeneration": ds["metadata"].get("generation", 1), "updatedNumberScheduled": updated}
        status = {k: v for k, v in status.items() if v or k in ("currentNumberScheduled", "desiredNumberScheduled",
                                                                "numberMisscheduled", "numberReady")}
        if (ds.get("status") or {}).get("collisionCount"):
            status["collisionCount"] = ds["status"]["collisionCount"]
        if ds.get("status") != status:
            self.store.put("daemonsets", revised(ds, status=status))

