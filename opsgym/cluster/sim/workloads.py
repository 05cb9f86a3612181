"""The Deployment and ReplicaSet controllers: rolling updates, Recreate, scaling, revisions and rollout status.

Revisions live in ``deployment.kubernetes.io/revision`` annotations on the ReplicaSets, which is what
``kubectl rollout history`` and ``rollout undo`` read; the rolling-update arithmetic (maxSurge rounded up,
maxUnavailable rounded down, unhealthy old replicas cleaned up first) follows kube-controller-manager.
"""

from __future__ import annotations

import copy
import json
import math
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.controllers import pod_ready, set_condition
from opsgym.cluster.sim.failedcreate import CreateFailures, deployment_failure
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.status import ApiError
from opsgym.cluster.sim.store import revised
from opsgym.k8s.selectors import matches_selector

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["WorkloadControllers", "template_hash"]

Obj = dict[str, Any]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
SAFE = "bcdfghjklmnpqrstvwxz2456789"
PROGRESSING = ("ReplicaSetUpdated", "NewReplicaSetCreated", "FoundNewReplicaSet")
"""Progressing reasons of a rollout under way, whose deadline is a timer."""
SETTLED = ("ProgressDeadlineExceeded", "NewReplicaSetAvailable")
"""Progressing reasons after which no deadline applies."""


def template_hash(template: Obj, collisions: int = 0) -> str:
    """A stable short hash of a pod template (FNV-1a, rendered with apimachinery's safe alphabet)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode() + str(collisions).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE[ord(ch) % len(SAFE)] for ch in str(value))


def _without_hash(template: Obj | None) -> Obj:
    """A shallow view of ``template`` without the pod-template-hash label (for equality checks only)."""
    template = dict(template or {})
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH_LABEL}
    meta.pop("labels", None)
    if labels:
        meta["labels"] = labels
    template["metadata"] = meta
    return template


def _own_annotations(fresh: Obj) -> dict[str, str]:
    """``fresh``'s annotations as a private dict to edit (a :func:`revised` object shares them with its original)."""
    meta = fresh["metadata"]
    if "annotations" in meta:
        meta["annotations"] = dict(meta["annotations"])
    return meta.setdefault("annotations", {})


def _owner_ref(owner: Obj) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        try:
            share = float(value[:-1]) * total / 100
        except ValueError:
            return 0
        return math.ceil(share) if round_up else math.floor(share)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _active(pod: Obj) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


class WorkloadControllers:
    """Deployment → ReplicaSet → Pod reconciliation."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store
        self.failures = CreateFailures(engine)
        self._settled: dict[str, tuple[tuple[Any, ...], float]] = {}
        """uid → (inputs, stable until) of the object's last sync that wrote nothing."""

    def run(self) -> None:
        """Sync every Deployment, then every ReplicaSet.

        Under ``skip_idle`` an object whose last sync wrote nothing is skipped while its inputs (its own version and
        those of what it owns, :meth:`_inputs`) are unchanged and the clock has not reached the instant from which
        that sync's outcome could differ (:meth:`_stable_until`): a sync is a function of exactly those, so it would
        write nothing again. Most passes follow one pod moving; this leaves the other workloads alone.
        """
        skip_idle, now = self.engine.skip_idle, self.engine.clock.now
        live: set[str] = set()
        for plural, sync in (("deployments", self._deployment), ("replicasets", self._replicaset)):
            for obj in self.store.items(plural):
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                uid = obj["metadata"]["uid"]
                live.add(uid)
                inputs = self._inputs(plural, obj) if skip_idle else None
                settled = self._settled.get(uid)
                if inputs is not None and settled is not None and settled[0] == inputs and now < settled[1]:
                    continue
                revision = self.store.revision
                try:
                    sync(obj)
                except ApiError as exc:  # e.g. a template the API refuses: reported, as the real controller does
                    self.engine.events.emit(obj, "Warning", "FailedCreate", exc.message, f"{obj['kind'].lower()}-"
                                            "controller")
                if inputs is not None and self.store.revision == revision:
                    self._settled[uid] = (inputs, self._stable_until(plural, obj))
                else:
                    self._settled.pop(uid, None)
        if len(self._settled) > len(live):  # forget deleted workloads, so a long-lived cluster does not accumulate them
            self._settled = {uid: entry for uid, entry in self._settled.items() if uid in live}

    def _inputs(self, plural: str, obj: Obj) -> tuple[Any, ...]:
        """Everything but the clock that a sync of ``obj`` reads, as versions: the store's history, ``obj``, and what
        it owns (a Deployment's ReplicaSets and how many pods each still has, for Recreate; a ReplicaSet's pods).

        The history (restores) is there because a restore brings back uids and resourceVersions with other contents.
        No case is known where that alone would mislead (a re-created object's first sync writes, which drops what
        was settled for its uid), so the guard is cheap insurance rather than a fix; tests cannot reach it."""
        owned = self._owned("replicasets" if plural == "deployments" else "pods", obj)
        versions = tuple(o["metadata"]["resourceVersion"] for o in owned)
        if plural == "deployments":
            versions += tuple(len(self._owned("pods", rs)) for rs in owned)
        return self.store.version(), obj["metadata"]["resourceVersion"], versions

    def _stable_until(self, plural: str, obj: Obj) -> float:
        """The first instant at which a sync of unchanged inputs might act: a ready pod becoming available
        (minReadySeconds), or a Deployment's progress deadline passing (checked with ``>``, so the instant after it)."""
        if plural == "replicasets":
            retry = self.failures.retry_at(obj)
            return min([*self._available_at(obj), *([retry] if retry is not None else [])], default=math.inf)
        progress = self._progress_deadline(obj)
        return math.inf if progress is None or progress[0] in SETTLED else math.nextafter(progress[1], math.inf)

    def _available_at(self, rs: Obj) -> list[float]:
        """The future instants at which ready pods of ``rs`` become available (after its ``minReadySeconds``)."""
        now, min_ready = self.engine.clock.now, (rs.get("spec") or {}).get("minReadySeconds", 0)
        if not min_ready:
            return []
        return [since + min_ready for pod in self._owned("pods", rs)
                if (since := self._ready_since(pod)) is not None and since + min_ready > now]

    def _progress_deadline(self, deploy: Obj) -> tuple[str, float] | None:
        """(reason, last update + ``progressDeadlineSeconds``) of a Deployment's Progressing condition, if any."""
        cond = next((c for c in (deploy.get("status") or {}).get("conditions") or [] if c["type"] == "Progressing"),
                    None)
        last = self.engine.parse(cond.get("lastUpdateTime")) if cond else None
        if cond is None or last is None:
            return None
        return cond.get("reason", ""), last + (deploy.get("spec") or {}).get("progressDeadlineSeconds", 600)

    def next_timer(self) -> float | None:
        """Instants when a pod becomes available (minReadySeconds) or a rollout misses its deadline."""
        now = self.engine.clock.now
        times = [t for rs in self.store.items("replicasets") for t in self._available_at(rs)]
        times += self.failures.retry_times()
        for deploy in self.store.items("deployments"):
            progress = self._progress_deadline(deploy)
            if progress is not None and progress[0] in PROGRESSING and progress[1] + 1 > now:
                times.append(progress[1] + 1)
        return min(times) if times else None

    def quiet_until(self) -> float | None:
        """The first instant from which a pass over the unchanged store could act: a timer, or a rollout's progress
        deadline (checked with ``>``: no pass up to it acts on it, any pass after it may; so it counts even when it is
        the current instant)."""
        now, timer = self.engine.clock.now, self.next_timer()
        times = [timer] if timer is not None else []
        for deploy in self.store.items("deployments"):
            progress = self._progress_deadline(deploy)
            if progress is not None and progress[0] not in SETTLED and progress[1] >= now:
                times.append(progress[1])
        return min(times) if times else None

    def _owned(self, plural: str, owner: Obj) -> list[Obj]:
        """What ``owner`` controls (its namespace's ``plural`` with a controller reference to its uid)."""
        return self.store.owned(plural, owner["metadata"]["namespace"], owner["metadata"]["uid"])

    def _release_unmatched(self, rs: Obj, selector: dict[str, Any] | None) -> list[Obj]:
        """The pods ``rs`` controls; one relabelled out of its selector is let go first (its controller reference
        removed), as the ReplicaSet controller does, so a quarantined pod is replaced and left running."""
        kept = []
        uid = rs["metadata"]["uid"]
        for pod in self._owned("pods", rs):
            if matches_selector(selector, pod["metadata"].get("labels")):
                kept.append(pod)
                continue
            fresh = revised(pod)
            refs = [r for r in fresh["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            fresh["metadata"].pop("ownerReferences")
            if refs:
                fresh["metadata"]["ownerReferences"] = refs
            self.store.put("pods", fresh)
        return kept

    def _ready_since(self, pod: Obj) -> float | None:
        cond = next((c for c in (pod.get("status") or {}).get("conditions") or []
                     if c.get("type") == "Ready" and c.get("status") == "True"), None)
        return self.engine.parse(cond.get("lastTransitionTime")) if cond else None

    # ------------------------------------------------------------------------------------------------ ReplicaSet
    def _replicaset(self, rs: Obj) -> None:
        namespace, spec = rs["metadata"]["namespace"], rs.get("spec") or {}
        pods = [p for p in self._release_unmatched(rs, spec.get("selector")) if _active(p)]
        diff = len(pods) - spec.get("replicas", 1)
        api, events = self.engine.api, self.engine.events
        if diff < 0 and not self.failures.blocked(rs):
            template = spec.get("template") or {}
            for _ in range(-diff):
                meta = copy.deepcopy(template.get("metadata") or {})
                meta.update(generateName=rs["metadata"]["name"] + "-", ownerReferences=[_owner_ref(rs)])
                meta.pop("name", None)
                try:
                    pod, _ = api.create(lookup("pods"), namespace, {"apiVersion": "v1", "kind": "Pod",
                                                                     "metadata": meta,
                                                                     "spec": copy.deepcopy(template.get("spec") or {})})
                except ApiError as exc:
                    self.failures.failed(rs, exc)
                    break
                events.emit(rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                            "replicaset-controller")
            else:
                self.failures.succeeded(rs)
        elif diff > 0:
            phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}

            def doomed_first(pod: Obj) -> tuple:
                restarts = sum(c.get("restartCount", 0) for c in (pod.get("status") or {}).get("containerStatuses")
                               or [])
                return (bool(pod["spec"].get("nodeName")), phase_rank.get(pod["status"].get("phase"), 1),
                        pod_ready(pod), -restarts, [-ord(c) for c in pod["metadata"]["creationTimestamp"]],
                        pod["metadata"]["name"])

            for pod in sorted(pods, key=doomed_first)[:diff]:
                api.delete(lookup("pods"), namespace, pod["metadata"]["name"])
                events.emit(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                            "replicaset-controller")
        if diff >= 0:
            self.failures.succeeded(rs)
        self._rs_status(rs)

    def _rs_status(self, rs: Obj) -> None:
        rs = self.store.get("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs
        pods = [p for p in self._owned("pods", rs) if _active(p)]
        min_ready = (rs.get("spec") or {}).get("minReadySeconds", 0)
        now = self.engine.clock.now
        ready = [p for p in pods if pod_ready(p)]
        available = [p for p in ready if (self._ready_since(p) or now) + min_ready <= now]
        selector = (rs.get("spec") or {}).get("selector")
        status = {"replicas": len(pods),
                  "fullyLabeledReplicas": sum(matches_selector(selector, p["metadata"].get("labels")) for p in pods),
                  "readyReplicas": len(ready), "availableReplicas": len(available),
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        if (failure := self.failures.condition(rs)) is not None:
            status["conditions"] = [failure]
        if rs.get("status") != status:
            self.store.put("replicasets", revised(rs, status=status))

    # ------------------------------------------------------------------------------------------------ Deployment
    def _deployment(self, deploy: Obj) -> None:
        spec = deploy.get("spec") or {}
        owned = self._owned("replicasets", deploy)
        template = _without_hash(spec.get("template"))
        new_rs = next((rs for rs in owned if _without_hash((rs.get("spec") or {}).get("template")) == template), None)
        created = False
        revisions = [int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0) for rs in owned]
        top = max(revisions, default=0)
        if new_rs is None and not spec.get("paused"):
            new_rs, created = self._new_replicaset(deploy, top + 1), True
        elif new_rs is not None and int((new_rs["metadata"].get("annotations") or {}).get(REVISION, "0")) < top:
            fresh = revised(new_rs)
            annotations = _own_annotations(fresh)
            history = [h for h in annotations.get("deployment.kubernetes.io/revision-history", "").split(",") if h]
            annotations["deployment.kubernetes.io/revision-history"] = ",".join([*history, annotations[REVISION]])
            annotations[REVISION] = str(top + 1)
            new_rs = self.store.put("replicasets", fresh)
        olds = sorted((rs for rs in owned if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]),
                      key=lambda rs: (rs["metadata"]["creationTimestamp"], rs["metadata"]["name"]))
        desired = spec.get("replicas", 1)
        if new_rs is not None and not spec.get("paused"):
            if (spec.get("strategy") or {}).get("type") == "Recreate":
                self._recreate(deploy, new_rs, olds, desired)
            else:
                self._rolling(deploy, new_rs, olds, desired)
        self._cleanup(deploy, olds)
        self._deployment_status(deploy, created)

    def _new_replicaset(self, deploy: Obj, revision: int) -> Obj:
        spec = deploy["spec"]
        pod_hash = template_hash(spec.get("template") or {}, (deploy.get("status") or {}).get("collisionCount", 0))
        template = copy.deepcopy(spec.get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        annotations = {k: v for k, v in (deploy["metadata"].get("annotations") or {}).items()
                       if k != "kubectl.kubernetes.io/last-applied-configuration" and
                       not k.startswith("deployment.kubernetes.io/")}
        annotations.update({REVISION: str(revision), "deployment.kubernetes.io/desired-replicas":
                            str(spec.get("replicas", 1)), "deployment.kubernetes.io/max-replicas":
                            str(spec.get("replicas", 1) + self._surge(deploy))})
        labels = dict(template["metadata"]["labels"])
        rs, _ = self.engine.api.create(lookup("replicasets"), deploy["metadata"]["namespace"], {
            "metadata": {"name": f"{deploy['metadata']['name']}-{pod_hash}", "labels": labels,
                         "annotations": annotations, "ownerReferences": [_owner_ref(deploy)]},
            "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds", 0), "selector": selector,
                     "template": template}})
        return rs

    def _surge(self, deploy: Obj) -> int:
        rolling = ((deploy.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
        return _scaled(rolling.get("maxSurge", "25%"), deploy["spec"].get("replicas", 1), round_up=True)

    def _scale(self, deploy: Obj, rs: Obj, replicas: int) -> Obj:
        rs = self.store.get("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs
        before = rs["spec"].get("replicas", 0)
        if before == replicas:
            return rs
        fresh = revised(rs, spec=dict(rs["spec"]))
        fresh["spec"]["replicas"] = replicas
        fresh["metadata"]["generation"] = fresh["metadata"].get("generation", 1) + 1
        annotations = _own_annotations(fresh)
        annotations["deployment.kubernetes.io/desired-replicas"] = str(deploy["spec"].get("replicas", 1))
        annotations["deployment.kubernetes.io/max-replicas"] = str(deploy["spec"].get("replicas", 1) +
                                                                   self._surge(deploy))
        direction = "up" if replicas > before else "down"
        self.engine.events.emit(deploy, "Normal", "ScalingReplicaSet", f"Scaled {direction} replica set "
                                f"{rs['metadata']['name']} from {before} to {replicas}", "deployment-controller")
        return self.store.put("replicasets", fresh)

    def _recreate(self, deploy: Obj, new_rs: Obj, olds: list[Obj], desired: int) -> None:
        for rs in olds:
            self._scale(deploy, rs, 0)
        if not any(self._owned("pods", rs) for rs in olds):
            self._scale(deploy, new_rs, desired)

    def _rolling(self, deploy: Obj, new_rs: Obj, olds: list[Obj], desired: int) -> None:
        olds = [self.store.get("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs
                for rs in olds]
        if not any(rs["spec"].get("replicas", 0) for rs in olds):
            self._scale(deploy, new_rs, desired)
            return
        rolling = (deploy["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        surge = _scaled(rolling.get("maxSurge", "25%"), desired, round_up=True)
        unavailable = _scaled(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        everything = [new_rs, *olds]
        total = sum(rs["spec"].get("replicas", 0) for rs in everything)
        new_count = new_rs["spec"].get("replicas", 0)
        if new_count > desired:
            new_rs = self._scale(deploy, new_rs, desired)
        elif new_count < desired and total < desired + surge:
            new_rs = self._scale(deploy, new_rs, new_count + min(desired + surge - total, desired - new_count))
        everything = [new_rs, *olds]
        all_pods = sum(rs["spec"].get("replicas", 0) for rs in everything)
        min_available = desired - unavailable
        new_unavailable = new_rs["spec"].get("replicas", 0) - (new_rs.get("status") or {}).get("availableReplicas", 0)
        budget = all_pods - min_available - new_unavailable
        for i, rs in enumerate(olds):
            if budget <= 0:
                break
            unhealthy = rs["spec"].get("replicas", 0) - (rs.get("status") or {}).get("availableReplicas", 0)
            if unhealthy > 0:
                cut = min(budget, unhealthy)
                olds[i] = self._scale(deploy, rs, rs["spec"]["replicas"] - cut)
                budget -= cut
        available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in [new_rs, *olds])
        budget = available - min_available
        for rs in olds:
            if budget <= 0:
                break
            count = rs["spec"].get("replicas", 0)
            if count:
                cut = min(count, budget)
                self._scale(deploy, rs, count - cut)
                budget -= cut

    def _cleanup(self, deploy: Obj, olds: list[Obj]) -> None:
        limit = deploy["spec"].get("revisionHistoryLimit", 10)
        idle = [rs for rs in olds if (self.store.get("replicasets", rs["metadata"]["namespace"],
                                                     rs["metadata"]["name"]) or rs)["spec"].get("replicas", 0) == 0
                and not (rs.get("status") or {}).get("replicas")]
        for rs in idle[:max(0, len(idle) - limit)]:
            self.engine.api.delete(lookup("replicasets"), rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _deployment_status(self, deploy: Obj, created: bool) -> None:
        spec = deploy["spec"]
        owned = self._owned("replicasets", deploy)
        template = _without_hash(spec.get("template"))
        new_rs = next((rs for rs in owned if _without_hash(rs["spec"].get("template")) == template), None)
        desired = spec.get("replicas", 1)

        def total(key: str, items: list[Obj]) -> int:
            return sum((rs.get("status") or {}).get(key, 0) for rs in items)

        old_status = deploy.get("status") or {}
        status: Obj = {"observedGeneration": deploy["metadata"].get("generation", 1),
                       "replicas": total("replicas", owned),
                       "updatedReplicas": total("replicas", [new_rs] if new_rs else []),
                       "readyReplicas": total("readyReplicas", owned),
                       "availableReplicas": total("availableReplicas", owned)}
        status["unavailableReplicas"] = max(0, sum((rs.get("spec") or {}).get("replicas", 0) for rs in owned)
                                            - status["availableReplicas"])  # kube: all ReplicaSets' spec, not desired
        status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
        if old_status.get("collisionCount"):
            status["collisionCount"] = old_status["collisionCount"]
        now = self.engine.stamp()
        conditions = [dict(c) for c in old_status.get("conditions") or []]  # edited in place below
        strategy = spec.get("strategy") or {}
        max_unavailable = 0  # kube: a Recreate deployment is available only with every replica available
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            rolling = strategy.get("rollingUpdate") or {}
            max_unavailable = min(_scaled(rolling.get("maxUnavailable", "25%"), desired, round_up=False), desired)
        if status.get("availableReplicas", 0) >= desired - max_unavailable:
            set_condition(conditions, "Available", "True", now, "MinimumReplicasAvailable",
                          "Deployment has minimum availability.")
        else:
            set_condition(conditions, "Available", "False", now, "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.")
        self._progress(deploy, conditions, status, old_status, new_rs, created, now)
        failure = deployment_failure([new_rs, *owned] if new_rs is not None else owned)
        conditions = [c for c in conditions if c["type"] != "ReplicaFailure"] + ([failure] if failure else [])
        for cond in conditions:
            cond.pop("lastProbeTime", None)
            cond.setdefault("lastUpdateTime", now)
        status["conditions"] = sorted(conditions, key=lambda c: c["type"] != "Available")
        if status != old_status:
            fresh = revised(deploy, status=status)
            if new_rs is not None:
                _own_annotations(fresh)[REVISION] = \
                    (new_rs["metadata"].get("annotations") or {}).get(REVISION, "1")
            self.store.put("deployments", fresh)

    def _progress(self, deploy: Obj, conditions: list[Obj], status: Obj, old: Obj, new_rs: Obj | None,
                  created: bool, now: str) -> None:
        if new_rs is None:
            return
        name = new_rs["metadata"]["name"]
        desired = deploy["spec"].get("replicas", 1)
        current = next((c for c in conditions if c["type"] == "Progressing"), None)
        complete = status.get("updatedReplicas", 0) == desired and status.get("replicas", 0) == desired and \
            status.get("availableReplicas", 0) == desired
        if deploy["spec"].get("paused"):
            reason, message, state = "DeploymentPaused", "Deployment is paused", "Unknown"
        elif created:
            reason, message, state = "NewReplicaSetCreated", f'Created new replica set "{name}"', "True"
        elif complete:
            reason, message, state = "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.', \
                "True"
        elif current is None:
            reason, message, state = "FoundNewReplicaSet", f'Found new replica set "{name}"', "True"
        elif any(status.get(k, 0) != old.get(k, 0) for k in ("updatedReplicas", "readyReplicas",
                                                             "availableReplicas", "replicas")):
            reason, message, state = "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.', "True"
        else:
            last = self.engine.parse(current.get("lastUpdateTime")) or self.engine.clock.now
            if current.get("reason") not in SETTLED and \
                    self.engine.clock.now - last > deploy["spec"].get("progressDeadlineSeconds", 600):
                set_condition(conditions, "Progressing", "False", now, "ProgressDeadlineExceeded",
                              f'ReplicaSet "{name}" has timed out progressing.')
                current["lastUpdateTime"] = now
            return
        if current is not None and (current.get("reason"), current.get("message")) == (reason, message):
            return
        set_condition(conditions, "Progressing", state, now, reason, message)
        next(c for c in conditions if c["type"] == "Progressing")["lastUpdateTime"] = now
