"""The StatefulSet controller: stable ordinal pods, ordered start and stop, claims from templates, rolling updates.

It follows kube-controller-manager 1.32's ``StatefulSetControl``: pods are named ``<set>-<ordinal>``; under
``OrderedReady`` the next ordinal is created only once every lower one is Running and Ready, and scale-down removes
the highest ordinal first, one at a time; ``Parallel`` creates and deletes without waiting. A rolling update deletes
the highest ordinal not at the update revision (down to ``partition``), waiting for each replacement to be ready;
``OnDelete`` leaves that to the user. Each ``volumeClaimTemplates`` entry becomes a PersistentVolumeClaim
``<template>-<set>-<ordinal>`` that the pod mounts (binding is the storage controllers' business).

Revisions are the ``controller-revision-hash`` label (``<set>-<hash of the template>``); ControllerRevision objects
are not kept, so a pod below the partition that is deleted comes back at the update revision (the real controller
rebuilds it from the old revision), and ``kubectl rollout history|undo`` do not apply.
"""

from __future__ import annotations

import abc
import copy
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.controllers import pod_ready
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.status import ApiError
from opsgym.cluster.sim.store import revised
from opsgym.cluster.sim.workloads import _owner_ref as owner_ref
from opsgym.cluster.sim.workloads import template_hash

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["REVISION_LABEL", "StatefulSets", "available_at", "ready_since", "running_and_ready"]

Obj = dict[str, Any]
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
COMPONENT = "statefulset-controller"


def ready_since(engine: Engine, pod: Obj) -> float | None:
    """When ``pod`` last became Ready (None while it is not)."""
    cond = next((c for c in (pod.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Ready" and c.get("status") == "True"), None)
    return engine.parse(cond.get("lastTransitionTime")) if cond else None


def running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and pod_ready(pod) and \
        not pod["metadata"].get("deletionTimestamp")


def available_at(engine: Engine, pod: Obj, min_ready: int) -> float | None:
    """The instant ``pod`` counts as available (ready for ``min_ready`` seconds), None while it is not ready."""
    since = ready_since(engine, pod) if running_and_ready(pod) else None
    return None if since is None else since + min_ready


def _ordinal(sts: Obj, pod: Obj) -> int | None:
    prefix, name = sts["metadata"]["name"] + "-", pod["metadata"]["name"]
    tail = name[len(prefix):]
    return int(tail) if name.startswith(prefix) and tail.isdigit() and str(int(tail)) == tail else None


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class PodSetController(abc.ABC):
    """What the StatefulSet and DaemonSet controllers share: sync every live object of :attr:`plural`, and wake when
    one of its ready pods becomes available (``minReadySeconds``)."""

    plural = ""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store

    def run(self) -> None:
        for obj in self.store.items(self.plural):
            if not obj["metadata"].get("deletionTimestamp"):
                self._sync(obj)

    @abc.abstractmethod
    def _sync(self, obj: Obj) -> None:
        """Bring one object's pods (and status) to its spec."""

    def timers(self) -> list[float]:
        times = []
        for obj in self.store.items(self.plural):
            min_ready = (obj.get("spec") or {}).get("minReadySeconds", 0)
            if min_ready:
                for pod in self.store.owned("pods", obj["metadata"]["namespace"], obj["metadata"]["uid"]):
                    at = available_at(self.engine, pod, min_ready)
                    if at is not None:
                        times.append(at)
        return times


class StatefulSets(PodSetController):
    """Reconciles every StatefulSet: pods, claims and status."""

    plural = "statefulsets"

    # ------------------------------------------------------------------------------------------------ sync
    def _sync(self, sts: Obj) -> None:
        spec, status = sts.get("spec") or {}, sts.get("status") or {}
        pod_hash = template_hash(spec.get("template") or {}, status.get("collisionCount", 0))
        update_rev = f"{sts['metadata']['name']}-{pod_hash}"
        current_rev = status.get("currentRevision") or update_rev
        pods: dict[int, Obj] = {}
        for pod in self.store.owned("pods", sts["metadata"]["namespace"], sts["metadata"]["uid"]):
            ordinal = _ordinal(sts, pod)
            if ordinal is not None:
                pods[ordinal] = pod
        self._reconcile_pods(sts, pods, update_rev)
        self._status(sts, update_rev, current_rev)

    def _reconcile_pods(self, sts: Obj, pods: dict[int, Obj], update_rev: str) -> None:
        """One pass of StatefulSetControl: create or replace, then scale down, then roll (each may stop the pass)."""
        spec = sts["spec"]
        replicas = spec.get("replicas", 1)
        monotonic = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        for ordinal in range(replicas):
            pod = pods.get(ordinal)
            if pod is not None and _terminal(pod) and not pod["metadata"].get("deletionTimestamp"):
                self._delete(sts, pod)  # a failed pod is replaced under the same name once it is gone
                if monotonic:
                    return
                continue
            if pod is None:
                self._create(sts, ordinal, update_rev)
                if monotonic:
                    return
                continue
            if monotonic and not running_and_ready(pod):
                return
        condemned = sorted((o for o in pods if o >= replicas), reverse=True)
        for ordinal in condemned:
            pod = pods[ordinal]
            if pod["metadata"].get("deletionTimestamp"):
                if monotonic:
                    return
                continue
            if monotonic and any(not running_and_ready(p) for o, p in pods.items() if o != ordinal):
                return
            self._delete(sts, pod)
            if monotonic:
                return
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
        for ordinal in range(replicas - 1, max(partition, 0) - 1, -1):
            pod = pods.get(ordinal)
            if pod is None:
                return
            labels = pod["metadata"].get("labels") or {}
            if labels.get(REVISION_LABEL) != update_rev and not pod["metadata"].get("deletionTimestamp"):
                self._delete(sts, pod)
                return
            if not running_and_ready(pod):
                return

    def _create(self, sts: Obj, ordinal: int, revision: str) -> None:
        name, namespace = sts["metadata"]["name"], sts["metadata"]["namespace"]
        spec = sts["spec"]
        pod_name = f"{name}-{ordinal}"
        template = copy.deepcopy(spec.get("template") or {})
        meta = template.get("metadata") or {}
        meta.pop("generateName", None)
        meta.update(name=pod_name, ownerReferences=[owner_ref(sts)])
        meta["labels"] = {**(meta.get("labels") or {}), REVISION_LABEL: revision, POD_NAME_LABEL: pod_name,
                          POD_INDEX_LABEL: str(ordinal)}
        pod_spec = template.get("spec") or {}
        pod_spec["hostname"] = pod_name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        claims = {}
        for claim_template in spec.get("volumeClaimTemplates") or []:
            claim_name = (claim_template.get("metadata") or {}).get("name", "")
            claims[claim_name] = f"{claim_name}-{name}-{ordinal}"
        if claims:
            kept = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in claims]
            pod_spec["volumes"] = [{"name": k, "persistentVolumeClaim": {"claimName": v}}
                                   for k, v in sorted(claims.items())] + kept
        try:
            self._claims(sts, pod_name, ordinal)
            self.engine.api.create(lookup("pods"), namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                                                               "spec": pod_spec})
        except ApiError as exc:
            self.engine.events.emit(sts, "Warning", "FailedCreate", f"create Pod {pod_name} in StatefulSet {name} "
                                    f"failed error: {exc.message}", COMPONENT)
            return
        self.engine.events.emit(sts, "Normal", "SuccessfulCreate", f"create Pod {pod_name} in StatefulSet {name} "
                                "successful", COMPONENT)

    def _claims(self, sts: Obj, pod_name: str, ordinal: int) -> None:
        """Create the pod's missing claims (labelled with the set's selector; owned by the set when its retention
        policy deletes them with it)."""
        name, namespace, spec = sts["metadata"]["name"], sts["metadata"]["namespace"], sts["spec"]
        match_labels = (spec.get("selector") or {}).get("matchLabels") or {}
        policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        for claim_template in spec.get("volumeClaimTemplates") or []:
            body = copy.deepcopy(claim_template)
            meta = body.setdefault("metadata", {})
            claim_name = f"{meta.get('name', '')}-{name}-{ordinal}"
            if self.store.get("persistentvolumeclaims", namespace, claim_name) is not None:
                continue
            meta.update(name=claim_name, labels={**(meta.get("labels") or {}), **match_labels})
            if policy.get("whenDeleted") == "Delete":
                meta["ownerReferences"] = [{"apiVersion": sts["apiVersion"], "kind": sts["kind"], "name": name,
                                            "uid": sts["metadata"]["uid"]}]
            body.pop("status", None)
            body.update(apiVersion="v1", kind="PersistentVolumeClaim")
            self.engine.api.create(lookup("persistentvolumeclaims"), namespace, body)
            self.engine.events.emit(sts, "Normal", "SuccessfulCreate", f"create Claim {claim_name} Pod {pod_name} "
                                    f"in StatefulSet {name} success", COMPONENT)

    def _delete(self, sts: Obj, pod: Obj) -> None:
        self.engine.api.delete(lookup("pods"), pod["metadata"]["namespace"], pod["metadata"]["name"])
        self.engine.events.emit(sts, "Normal", "SuccessfulDelete", f"delete Pod {pod['metadata']['name']} in "
                                f"StatefulSet {sts['metadata']['name']} successful", COMPONENT)

    # ------------------------------------------------------------------------------------------------ status
    def _status(self, sts: Obj, update_rev: str, current_rev: str) -> None:
        sts = self.store.get("statefulsets", sts["metadata"]["namespace"], sts["metadata"]["name"]) or sts
        spec, old = sts["spec"], sts.get("status") or {}
        min_ready, now = spec.get("minReadySeconds", 0), self.engine.clock.now
        counts = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0,
                  "updatedReplicas": 0}
        for pod in self.store.owned("pods", sts["metadata"]["namespace"], sts["metadata"]["uid"]):
            counts["replicas"] += 1
            if running_and_ready(pod):
                counts["readyReplicas"] += 1
                at = available_at(self.engine, pod, min_ready)
                counts["availableReplicas"] += at is not None and at <= now
            if not pod["metadata"].get("deletionTimestamp"):
                revision = (pod["metadata"].get("labels") or {}).get(REVISION_LABEL)
                counts["currentReplicas"] += revision == current_rev
                counts["updatedReplicas"] += revision == update_rev
        rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        if rolling and counts["updatedReplicas"] == counts["replicas"] == counts["readyReplicas"] and \
                counts["replicas"] >= spec.get("replicas", 1):
            current_rev, counts["currentReplicas"] = update_rev, counts["updatedReplicas"]
        status: Obj = {"observedGeneration": sts["metadata"].get("generation", 1), **counts,
                       "currentRevision": current_rev, "updateRevision": update_rev,
                       "collisionCount": old.get("collisionCount", 0)}
        status = {k: v for k, v in status.items()
                  if v or k in ("replicas", "availableReplicas", "collisionCount", "observedGeneration")}
        if old != status:
            self.store.put("statefulsets", revised(sts, status=status))
