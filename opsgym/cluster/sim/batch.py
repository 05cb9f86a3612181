"""The Job controller (and the TTL-after-finished controller): pods until enough succeed, or the Job fails.

It follows kube-controller-manager 1.32's NonIndexed Job: up to ``parallelism`` pods at a time until
``completions`` have succeeded; failed pods count against ``backoffLimit`` (with ``restartPolicy: OnFailure``, the
container restarts do), replacements wait the controller's back-off (10 s doubling, at most 6 min);
``activeDeadlineSeconds`` counts from ``status.startTime``. Pods carry the ``batch.kubernetes.io/job-tracking``
finalizer until their end is counted in the status, so deleting a finished pod does not change the counts. A
finished Job gets ``SuccessCriteriaMet`` then ``Complete``, or ``FailureTarget`` then ``Failed`` (the active pods are
deleted in between), with the real reasons, messages and events. ``completionMode: Indexed`` runs as NonIndexed.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.controllers import pod_ready
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.status import ApiError
from opsgym.cluster.sim.store import revised
from opsgym.cluster.sim.workloads import _owner_ref as owner_ref

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["TRACKING", "Jobs", "finished_condition"]

Obj = dict[str, Any]
TRACKING = "batch.kubernetes.io/job-tracking"
COMPONENT = "job-controller"
BACKOFF_S, MAX_BACKOFF_S = 10.0, 360.0
DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")
BACKOFF = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
COMPLETED = ("CompletionsReached", "Reached expected number of succeeded pods")


def finished_condition(job: Obj) -> Obj | None:
    """The Job's true ``Complete`` or ``Failed`` condition, if it has finished."""
    return next((c for c in (job.get("status") or {}).get("conditions") or []
                 if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"), None)


def _has(conditions: list[Obj], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def _phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def _restarts(pod: Obj) -> int:
    status = pod.get("status") or {}
    return sum(c.get("restartCount", 0) for c in (status.get("initContainerStatuses") or []) +
               (status.get("containerStatuses") or []))


def _finished_at(pod: Obj) -> str:
    return max((((c.get("state") or {}).get("terminated") or {}).get("finishedAt") or ""
                for c in (pod.get("status") or {}).get("containerStatuses") or []),
               default="") or pod["metadata"].get("deletionTimestamp") or ""


def _past_backoff_limit(spec: Obj, active: list[Obj], failed: int) -> bool:
    """More failed pods than ``backoffLimit``; with ``restartPolicy: OnFailure``, as many container restarts in the
    running pods (any restart at all when the limit is 0)."""
    limit = spec.get("backoffLimit", 6)
    if failed > limit:
        return True
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(_restarts(p) for p in active)
    return restarts > 0 if limit == 0 else restarts >= limit


class Jobs:
    """Reconciles every Job; deletes finished Jobs whose ``ttlSecondsAfterFinished`` has passed."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store

    def run(self) -> None:
        live = set()
        for job in self.store.items("jobs"):
            live.add(job["metadata"]["uid"])
            if not job["metadata"].get("deletionTimestamp"):
                self._sync(job)
        for pod in self.store.items("pods"):  # pods whose Job is gone are let go, as the controller does
            refs = pod["metadata"].get("ownerReferences") or []
            if TRACKING in (pod["metadata"].get("finalizers") or []) and \
                    not any(r.get("uid") in live for r in refs if r.get("kind") == "Job"):
                self._release(pod)

    def timers(self) -> list[float]:
        """Deadlines, back-off expiries and TTL expiries of every Job."""
        times = []
        for job in self.store.items("jobs"):
            spec, status = job.get("spec") or {}, job.get("status") or {}
            done = finished_condition(job)
            if done is not None:
                ttl, at = spec.get("ttlSecondsAfterFinished"), self.engine.parse(done.get("lastTransitionTime"))
                if ttl is not None and at is not None:
                    times.append(at + ttl)
                continue
            start = self.engine.parse(status.get("startTime"))
            if start is not None and spec.get("activeDeadlineSeconds") is not None:
                times.append(start + spec["activeDeadlineSeconds"])
            retry = self._retry_at(job, status.get("failed", 0))
            if retry is not None:
                times.append(retry)
        return times

    def _retry_at(self, job: Obj, failed: int) -> float | None:
        """When a replacement for the latest failed pod may be created (the Job controller's back-off)."""
        if not failed:
            return None
        pods = [p for p in self._pods(job) if _phase(p) == "Failed" or p["metadata"].get("deletionTimestamp")]
        last = self.engine.parse(max((_finished_at(p) for p in pods), default="") or None)
        return None if last is None else last + min(BACKOFF_S * 2 ** (failed - 1), MAX_BACKOFF_S)

    def _pods(self, job: Obj) -> list[Obj]:
        return self.store.owned("pods", job["metadata"]["namespace"], job["metadata"]["uid"])

    # ------------------------------------------------------------------------------------------------ sync
    def _sync(self, job: Obj) -> None:
        if finished_condition(job) is not None:
            self._expire(job)
            return
        spec, old = job.get("spec") or {}, job.get("status") or {}
        now, stamp = self.engine.clock.now, self.engine.stamp()
        pods = self._pods(job)
        counted = [p for p in pods if TRACKING in (p["metadata"].get("finalizers") or [])
                   and (_phase(p) in ("Succeeded", "Failed") or p["metadata"].get("deletionTimestamp"))]
        succeeded = old.get("succeeded", 0) + sum(_phase(p) == "Succeeded" for p in counted)
        failed = old.get("failed", 0) + sum(_phase(p) != "Succeeded" for p in counted)
        active = [p for p in pods if _phase(p) not in ("Succeeded", "Failed")
                  and not p["metadata"].get("deletionTimestamp")]
        conditions = [dict(c) for c in old.get("conditions") or []]
        status: Obj = {"startTime": old.get("startTime")}
        if spec.get("suspend"):
            for pod in active:
                self._delete(job, pod)
            active = []
            if not _has(conditions, "Suspended"):
                self._condition(conditions, "Suspended", "True", ("JobSuspended", "Job suspended"), stamp)
                self.engine.events.emit(job, "Normal", "Suspended", "Job suspended", COMPONENT)
            status["startTime"] = None
        else:
            if _has(conditions, "Suspended"):
                self._condition(conditions, "Suspended", "False", ("JobResumed", "Job resumed"), stamp)
                self.engine.events.emit(job, "Normal", "Resumed", "Job resumed", COMPONENT)
            status["startTime"] = status["startTime"] or stamp
            active = self._advance(job, conditions, active, succeeded, failed, now, stamp)
        status.update(active=len(active), succeeded=succeeded, failed=failed)
        status.update(self._finish(job, conditions, status, {p["metadata"]["uid"] for p in counted}, stamp))
        self._write_status(job, status, conditions)
        for pod in counted:
            self._release(pod)

    def _advance(self, job: Obj, conditions: list[Obj], active: list[Obj], succeeded: int, failed: int,
                 now: float, stamp: str) -> list[Obj]:
        """Decide failure, success or more pods; return the pods still active."""
        spec = job["spec"]
        start = self.engine.parse((job.get("status") or {}).get("startTime")) or now
        failure = None
        if _has(conditions, "FailureTarget"):
            failure = next(c for c in conditions if c["type"] == "FailureTarget")["reason"]
        elif spec.get("activeDeadlineSeconds") is not None and now >= start + spec["activeDeadlineSeconds"]:
            failure = DEADLINE[0]
        elif _past_backoff_limit(spec, active, failed):
            failure = BACKOFF[0]
        if failure is not None:
            if not _has(conditions, "FailureTarget"):
                self._condition(conditions, "FailureTarget", "True", DEADLINE if failure == DEADLINE[0] else BACKOFF,
                                stamp)
            for pod in active:
                self._delete(job, pod)
            return []
        completions = spec.get("completions")
        done = succeeded >= completions if completions is not None else succeeded > 0
        if done:
            if not _has(conditions, "SuccessCriteriaMet"):
                self._condition(conditions, "SuccessCriteriaMet", "True", COMPLETED, stamp)
            if completions is not None:
                for pod in active:
                    self._delete(job, pod)
                return []
            return active
        wanted = min(spec.get("parallelism", 1), completions - succeeded) if completions is not None else \
            spec.get("parallelism", 1)
        retry = self._retry_at(job, failed)
        if len(active) < wanted and (retry is None or now >= retry):
            active = active + [p for p in (self._create(job) for _ in range(wanted - len(active))) if p]
        return active

    def _finish(self, job: Obj, conditions: list[Obj], status: Obj, counted: set[str], stamp: str) -> Obj:
        """Turn a target condition into the final one once no pod of the Job is left running or uncounted."""
        if status["active"] or any(TRACKING in (p["metadata"].get("finalizers") or []) and
                                   p["metadata"]["uid"] not in counted for p in self._pods(job)
                                   if _phase(p) in ("Succeeded", "Failed") or p["metadata"].get("deletionTimestamp")):
            return {}
        for target, final in (("SuccessCriteriaMet", "Complete"), ("FailureTarget", "Failed")):
            cond = next((c for c in conditions if c["type"] == target and c["status"] == "True"), None)
            if cond is not None and not _has(conditions, final):
                self._condition(conditions, final, "True", (cond["reason"], cond["message"]), stamp)
                if final == "Complete":
                    self.engine.events.emit(job, "Normal", "Completed", "Job completed", COMPONENT)
                    return {"completionTime": stamp}
                self.engine.events.emit(job, "Warning", cond["reason"], cond["message"], COMPONENT)
        return {}

    @staticmethod
    def _condition(conditions: list[Obj], kind: str, state: str, why: tuple[str, str], stamp: str) -> None:
        for cond in conditions:
            if cond["type"] == kind:
                cond.update(status=state, reason=why[0], message=why[1], lastProbeTime=stamp,
                            lastTransitionTime=stamp)
                return
        conditions.append({"type": kind, "status": state, "lastProbeTime": stamp, "lastTransitionTime": stamp,
                           "reason": why[0], "message": why[1]})

    def _write_status(self, job: Obj, status: Obj, conditions: list[Obj]) -> None:
        job = self.store.get("jobs", job["metadata"]["namespace"], job["metadata"]["name"]) or job
        ready = sum(pod_ready(p) for p in self._pods(job) if _phase(p) not in ("Succeeded", "Failed")
                    and not p["metadata"].get("deletionTimestamp"))
        fresh: Obj = {"conditions": conditions} if conditions else {}
        fresh.update({k: status[k] for k in ("startTime", "completionTime", "active", "succeeded", "failed")
                      if status.get(k)})
        terminating = sum(bool(p["metadata"].get("deletionTimestamp")) and _phase(p) not in ("Succeeded", "Failed")
                          for p in self._pods(job))
        fresh.update(terminating=terminating, uncountedTerminatedPods={}, ready=ready)
        if "completionTime" not in fresh and (job.get("status") or {}).get("completionTime"):
            fresh["completionTime"] = job["status"]["completionTime"]
        if job.get("status") != fresh:
            self.store.put("jobs", revised(job, status=fresh))

    # ------------------------------------------------------------------------------------------------ pods
    def _create(self, job: Obj) -> Obj | None:
        template = copy.deepcopy(job["spec"].get("template") or {})
        meta = template.get("metadata") or {}
        meta.pop("name", None)
        meta.update(generateName=job["metadata"]["name"] + "-", ownerReferences=[owner_ref(job)],
                    finalizers=[TRACKING])
        try:
            pod, _ = self.engine.api.create(lookup("pods"), job["metadata"]["namespace"], {
                "apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}})
        except ApiError as exc:
            self.engine.events.emit(job, "Warning", "FailedCreate", f"Error creating: {exc.message}", COMPONENT)
            return None
        self.engine.events.emit(job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                                COMPONENT)
        return pod

    def _delete(self, job: Obj, pod: Obj) -> None:
        self.engine.api.delete(lookup("pods"), pod["metadata"]["namespace"], pod["metadata"]["name"])
        self.engine.events.emit(job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                                COMPONENT)

    def _release(self, pod: Obj) -> None:
        """Remove the tracking finalizer (a pod already being deleted goes with it)."""
        pod = self.store.get("pods", pod["metadata"]["namespace"], pod["metadata"]["name"]) or pod
        finalizers = [f for f in pod["metadata"].get("finalizers") or [] if f != TRACKING]
        if pod["metadata"].get("deletionTimestamp") and not finalizers:
            self.store.remove("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
            return
        fresh = revised(pod)
        fresh["metadata"].pop("finalizers", None)
        if finalizers:
            fresh["metadata"]["finalizers"] = finalizers
        self.store.put("pods", fresh)

    def _expire(self, job: Obj) -> None:
        """The TTL-after-finished controller: delete the Job (its pods follow) once its TTL has passed."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        done = finished_condition(job)
        at = self.engine.parse((done or {}).get("lastTransitionTime"))
        if ttl is not None and at is not None and self.engine.clock.now >= at + ttl:
            self.engine.api.delete(lookup("jobs"), job["metadata"]["namespace"], job["metadata"]["name"],
                                   {"propagationPolicy": "Foreground"})
