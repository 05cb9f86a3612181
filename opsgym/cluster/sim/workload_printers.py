"""``kubectl get`` columns of StatefulSets, DaemonSets, Jobs and CronJobs, as kube-apiserver 1.32 prints them
(``pkg/printers/internalversion``: a Job's STATUS column, a CronJob's TIMEZONE column, ``<none>`` placeholders)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsgym.cluster.sim.clock import human_duration, parse_time
from opsgym.k8s.selectors import selector_string

__all__ = ["PRINTERS", "job_status"]

Obj = dict[str, Any]
_S, _I = "string", "integer"
_WIDE = [("Containers", _S, 1), ("Images", _S, 1)]


def _age(stamp: str | None, now: float) -> str:
    when = parse_time(stamp)
    return "<unknown>" if when is None else human_duration(now - when)


def _wide(template_spec: Obj) -> list[str]:
    containers = template_spec.get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def _true(obj: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def job_status(job: Obj) -> str:
    """The STATUS column of ``kubectl get jobs`` (``printJob``)."""
    if _true(job, "Complete"):
        return "Complete"
    if _true(job, "Failed"):
        return "Failed"
    if job["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for kind in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _true(job, kind):
            return kind
    return "Running"


def _statefulset(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [obj["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            _age(obj["metadata"].get("creationTimestamp"), now),
            *_wide((spec.get("template") or {}).get("spec") or {})]


def _daemonset(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    template_spec = (spec.get("template") or {}).get("spec") or {}
    node_selector = ",".join(f"{k}={v}" for k, v in sorted((template_spec.get("nodeSelector") or {}).items()))
    return [obj["metadata"]["name"], *(status.get(k, 0) for k in ("desiredNumberScheduled", "currentNumberScheduled",
                                                                  "numberReady", "updatedNumberScheduled",
                                                                  "numberAvailable")),
            node_selector or "<none>", _age(obj["metadata"].get("creationTimestamp"), now), *_wide(template_spec),
            selector_string(spec.get("selector")) or "<none>"]


def _job(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif spec.get("parallelism", 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = "" if start is None else human_duration((now if end is None else end) - start)
    return [obj["metadata"]["name"], job_status(obj), completions, duration,
            _age(obj["metadata"].get("creationTimestamp"), now), *_wide((spec.get("template") or {}).get("spec") or {}),
            selector_string(spec.get("selector")) or "<none>"]


def _cronjob(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    suspend = spec.get("suspend")
    last = _age(status["lastScheduleTime"], now) if status.get("lastScheduleTime") else "<none>"
    return [obj["metadata"]["name"], spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else str(bool(suspend)), len(status.get("active") or []), last,
            _age(obj["metadata"].get("creationTimestamp"), now), *_wide((job_spec.get("template") or {}).get("spec")
                                                                        or {}),
            selector_string(job_spec.get("selector")) or "<none>"]


PRINTERS: dict[str, tuple[list[tuple[str, str, int]], Callable[[Obj, float], list[Any]]]] = {
    "statefulsets": ([("Name", _S, 0), ("Ready", _S, 0), ("Age", _S, 0), *_WIDE], _statefulset),
    "daemonsets": ([("Name", _S, 0), ("Desired", _I, 0), ("Current", _I, 0), ("Ready", _I, 0), ("Up-to-date", _I, 0),
                    ("Available", _I, 0), ("Node Selector", _S, 0), ("Age", _S, 0), *_WIDE, ("Selector", _S, 1)],
                   _daemonset),
    "jobs": ([("Name", _S, 0), ("Status", _S, 0), ("Completions", _S, 0), ("Duration", _S, 0), ("Age", _S, 0),
              *_WIDE, ("Selector", _S, 1)], _job),
    "cronjobs": ([("Name", _S, 0), ("Schedule", _S, 0), ("Timezone", _S, 0), ("Suspend", "boolean", 0),
                  ("Active", _I, 0), ("Last Schedule", _S, 0), ("Age", _S, 0), *_WIDE, ("Selector", _S, 1)],
                 _cronjob),
}
