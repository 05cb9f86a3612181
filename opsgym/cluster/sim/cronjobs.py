"""The CronJob controller on the virtual clock: a Job per schedule time, concurrency policy, history limits.

It follows kube-controller-manager 1.32's ``cronjob_controllerv2``: the most recent unmet schedule time since
``status.lastScheduleTime`` (or creation; no earlier than ``startingDeadlineSeconds`` ago) starts a Job named
``<cronjob>-<minutes since the epoch>``; a start later than ``startingDeadlineSeconds`` is a ``MissSchedule``; more
than 100 missed times is ``TooManyMissedTimes`` and only the latest runs; ``Forbid`` skips while a Job is active,
``Replace`` deletes it first; finished Jobs beyond the history limits are deleted oldest first.

The clock wakes at every schedule time (:meth:`CronJobs.timers`) so ``advance`` plays runs in order; over an advance
longer than :data:`MAX_PLAYED` schedule times, only the last ones are played and the rest count as missed, so a
schedule of every minute advanced by a virtual year costs a hundred runs, not half a million.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from croniter import croniter  # type: ignore[import-untyped]

from opsgym.cluster.sim.batch import finished_condition
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.status import ApiError
from opsgym.cluster.sim.store import revised
from opsgym.cluster.sim.workload_specs import cron_schedule, zone_of
from opsgym.cluster.sim.workloads import _owner_ref as owner_ref

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["MAX_PLAYED", "CronJobs", "job_name"]

Obj = dict[str, Any]
COMPONENT = "cronjob-controller"
MAX_MISSED = 100
MAX_PLAYED = 100
"""Schedule times one :meth:`Engine.advance` wakes for per CronJob (the last ones before its target)."""
MEMO_SIZE = 4096
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def job_name(cronjob: str, scheduled: float) -> str:
    """The Job of one schedule time: ``<cronjob>-<minutes since the epoch>`` (the controller's ``getJobName``)."""
    return f"{cronjob}-{int(scheduled // 60)}"


@functools.lru_cache(maxsize=4096)
def _after(expr: str, zone: dt.tzinfo, start: float) -> float:
    """The first schedule time after ``start`` (cached: the engine asks for every CronJob's next timer on every
    pass, and croniter parses its expression each time it is built)."""
    return float(croniter(expr, dt.datetime.fromtimestamp(start, zone)).get_next(float))


class _Schedule:
    """A CronJob's schedule in its time zone, stepping over unix times."""

    def __init__(self, cronjob: Obj):
        spec = cronjob.get("spec") or {}
        self.expr, self.zone = cron_schedule(spec.get("schedule") or ""), zone_of(spec.get("timeZone"))

    def after(self, start: float) -> float:
        return _after(self.expr, self.zone, start)

    def before(self, end: float, count: int) -> float:
        """The ``count``-th schedule time before ``end`` (going back)."""
        it = croniter(self.expr, dt.datetime.fromtimestamp(end, self.zone))
        value = end
        for _ in range(count):
            value = float(it.get_prev(float))
        return value


class CronJobs:
    """Reconciles every CronJob: its active list, its next Job and its finished Jobs."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store
        self._reported: set[tuple[str, str, str]] = set()
        """(uid, reason, detail) of warnings already emitted, so a pass that changes nothing emits nothing."""
        self._skip: dict[tuple[str, str, float], float] = {}
        """(uid, schedule, advance target) → the first schedule time that advance plays (a memo)."""

    def run(self) -> None:
        for cronjob in self.store.items("cronjobs"):
            if not cronjob["metadata"].get("deletionTimestamp"):
                try:
                    self._sync(cronjob)
                except ValueError:  # a schedule stored before validation could refuse it: nothing to run
                    continue

    def timers(self) -> list[float]:
        """The next schedule time of every CronJob that is not suspended (over a long advance, the first of the last
        :data:`MAX_PLAYED` before its target)."""
        now, target = self.engine.clock.now, getattr(self.engine, "advance_target", None)
        times = []
        for cronjob in self.store.items("cronjobs"):
            if (cronjob.get("spec") or {}).get("suspend") or cronjob["metadata"].get("deletionTimestamp"):
                continue
            try:
                schedule = _Schedule(cronjob)
            except (ValueError, KeyError):
                continue
            wake = schedule.after(now)
            if target is not None and target > wake:
                key = (cronjob["metadata"]["uid"], schedule.expr, target)
                if key not in self._skip:
                    if len(self._skip) > MEMO_SIZE:
                        self._skip.clear()
                    self._skip[key] = schedule.before(target, MAX_PLAYED)
                wake = max(wake, self._skip[key])
            times.append(wake)
        return times

    # ------------------------------------------------------------------------------------------------ sync
    def _sync(self, cronjob: Obj) -> None:
        status = dict(cronjob.get("status") or {})
        active = self._active(cronjob, status)
        spec, now = cronjob.get("spec") or {}, self.engine.clock.now
        if not spec.get("suspend"):
            scheduled = self._due(cronjob, status, now)
            if scheduled is not None:
                active = self._start(cronjob, status, active, scheduled)
        status.pop("active", None)
        if active:
            status = {"active": active, **status}
        self._cleanup(cronjob)
        current = self.store.get("cronjobs", cronjob["metadata"]["namespace"], cronjob["metadata"]["name"]) or cronjob
        if (current.get("status") or {}) != status:
            self.store.put("cronjobs", revised(current, status=status))

    def _active(self, cronjob: Obj, status: Obj) -> list[Obj]:
        """The active list after looking at the CronJob's Jobs (finished ones leave it, missing ones too)."""
        refs = list(status.get("active") or [])
        jobs = self.store.owned("jobs", cronjob["metadata"]["namespace"], cronjob["metadata"]["uid"])
        uids = {r.get("uid") for r in refs}
        for job in jobs:
            done = finished_condition(job)
            if done is None:
                if job["metadata"]["uid"] not in uids:
                    self._warn(cronjob, "UnexpectedJob", "Saw a job that the controller did not create or forgot: "
                               f"{job['metadata']['name']}", job["metadata"]["uid"])
            elif job["metadata"]["uid"] in uids:
                refs = [r for r in refs if r.get("uid") != job["metadata"]["uid"]]
                self.engine.events.emit(cronjob, "Normal", "SawCompletedJob", f"Saw completed job: "
                                        f"{job['metadata']['name']}, condition: {done['type']}", COMPONENT)
            else:
                completed = (job.get("status") or {}).get("completionTime")
                last = self.engine.parse(status.get("lastSuccessfulTime"))
                if completed and (last is None or (self.engine.parse(completed) or 0) > last):
                    status["lastSuccessfulTime"] = completed
        present = {j["metadata"]["uid"] for j in jobs}
        for ref in [r for r in refs if r.get("uid") not in present]:
            refs.remove(ref)
            self.engine.events.emit(cronjob, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}",
                                    COMPONENT)
        return refs

    def _due(self, cronjob: Obj, status: Obj, now: float) -> float | None:
        """The schedule time to start now, if any (``mostRecentScheduleTime`` with the deadline applied)."""
        spec, schedule = cronjob["spec"], _Schedule(cronjob)
        earliest = self.engine.parse(status.get("lastScheduleTime") or cronjob["metadata"]["creationTimestamp"])
        earliest = now if earliest is None else earliest
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - deadline)
        first = schedule.after(earliest)
        if first > now:
            return None
        second = schedule.after(first)
        interval = round(second - first)
        if interval < 1:
            return None
        missed = int(now - first) // interval + 1
        latest = None
        moment = schedule.after(first + (missed - 2) * interval) if missed > 1 else first
        while moment <= now:
            latest, moment = moment, schedule.after(moment)
        if latest is None:
            return None
        if missed > MAX_MISSED:
            self._warn(cronjob, "TooManyMissedTimes", "too many missed start times. Set or decrease "
                       ".spec.startingDeadlineSeconds or check clock skew", str(latest))
        if deadline is not None and latest + deadline < now:
            when = format_datetime(dt.datetime.fromtimestamp(latest, dt.UTC))
            self._warn(cronjob, "MissSchedule", f"Missed scheduled time to start a job: {when}", str(latest))
            return None
        if status.get("lastScheduleTime") == self.engine.stamp(latest):
            return None
        return latest

    def _start(self, cronjob: Obj, status: Obj, active: list[Obj], scheduled: float) -> list[Obj]:
        spec, namespace = cronjob["spec"], cronjob["metadata"]["namespace"]
        name = job_name(cronjob["metadata"]["name"], scheduled)
        if any(r.get("name") == name for r in active):
            return active
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            self._warn(cronjob, "JobAlreadyActive", "Not starting job because prior execution is running and "
                       "concurrency policy is Forbid", str(scheduled), kind="Normal")
            return active
        if policy == "Replace":
            for ref in active:
                if self.store.get("jobs", namespace, ref.get("name", "")) is not None:
                    self._delete(cronjob, ref["name"])
            active = []
        template = spec.get("jobTemplate") or {}
        meta = template.get("metadata") or {}
        zone = zone_of(spec.get("timeZone"))
        annotations = {**(meta.get("annotations") or {}),
                       SCHEDULED_AT: dt.datetime.fromtimestamp(scheduled, zone).isoformat()}
        body = {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": name, "labels": dict(meta.get("labels") or {}), "annotations": annotations,
                             "ownerReferences": [owner_ref(cronjob)]},
                "spec": template.get("spec") or {}}
        try:
            job, _ = self.engine.api.create(lookup("jobs"), namespace, body)
        except ApiError as exc:
            if exc.code != 409:
                self._warn(cronjob, "FailedCreate", f"Error creating job: {exc.message}", str(scheduled))
            return active
        self.engine.events.emit(cronjob, "Normal", "SuccessfulCreate", f"Created job {name}", COMPONENT)
        status["lastScheduleTime"] = self.engine.stamp(scheduled)
        ref = {"apiVersion": "batch/v1", "kind": "Job", "name": name, "namespace": namespace,
               "resourceVersion": job["metadata"]["resourceVersion"], "uid": job["metadata"]["uid"]}
        return [*active, ref]

    def _cleanup(self, cronjob: Obj) -> None:
        """Delete finished Jobs beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit``, oldest first."""
        spec = cronjob["spec"]
        jobs = self.store.owned("jobs", cronjob["metadata"]["namespace"], cronjob["metadata"]["uid"])
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)),
                            ("Failed", spec.get("failedJobsHistoryLimit", 1))):
            done = [j for j in jobs if (finished_condition(j) or {}).get("type") == kind
                    and not j["metadata"].get("deletionTimestamp")]
            done.sort(key=lambda j: (self.engine.parse((j.get("status") or {}).get("startTime")) or math.inf,
                                     j["metadata"]["creationTimestamp"], j["metadata"]["name"]))
            for job in done[:max(0, len(done) - (limit if limit is not None else len(done)))]:
                self._delete(cronjob, job["metadata"]["name"])

    def _delete(self, cronjob: Obj, name: str) -> None:
        self.engine.api.delete(lookup("jobs"), cronjob["metadata"]["namespace"], name,
                               {"propagationPolicy": "Background"})
        self.engine.events.emit(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {name}", COMPONENT)

    def _warn(self, cronjob: Obj, reason: str, message: str, detail: str, kind: str = "Warning") -> None:
        """Emit once per CronJob, reason and ``detail`` (the schedule time or Job it is about)."""
        key = (cronjob["metadata"]["uid"], reason, detail)
        if key not in self._reported:
            if len(self._reported) > MEMO_SIZE:
                self._reported.clear()
            self._reported.add(key)
            self.engine.events.emit(cronjob, kind, reason, message, COMPONENT)
