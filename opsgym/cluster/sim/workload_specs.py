"""Defaulting and validation of StatefulSets, DaemonSets, Jobs and CronJobs, as kube-apiserver 1.32 does them.

Defaults are what ``kubectl get -o yaml`` shows back (``podManagementPolicy: OrderedReady``, ``backoffLimit: 6``,
``concurrencyPolicy: Allow`` …) and what the controllers rely on. A Job's selector and its pods' labels are made from
its uid (:func:`prepare_job`, called once the uid exists), so a Job names its pods as the Job REST strategy does.
Errors are worded like the real ones for the usual mistakes: a selector that does not match the template, a Job
template left with ``restartPolicy: Always``, a CronJob schedule that does not parse, an immutable field changed.
"""

from __future__ import annotations

import copy
import functools
import zoneinfo
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]

from opsgym.cluster.sim.status import FieldError

__all__ = ["JOB_LABELS", "cron_schedule", "default_kind", "immutable_errors", "prepare_job", "validate_kind",
           "zone_of"]

Obj = dict[str, Any]
KINDS = ("statefulsets", "daemonsets", "jobs", "cronjobs")
JOB_LABELS = ("batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name", "controller-uid", "job-name")
"""The labels the Job REST strategy puts on a Job's pod template (uid, name, uid, name)."""
NICKNAMES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
             "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
"""The descriptors robfig/cron's standard parser accepts (kube-controller-manager's schedule parser)."""
STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
               "minReadySeconds")


@functools.lru_cache(maxsize=1024)
def cron_schedule(schedule: str) -> str:
    """The five-field form of ``schedule``.

    Raises:
        ValueError: with robfig/cron's wording, when it does not parse.
    """
    text = NICKNAMES.get(schedule.strip(), schedule.strip())
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    if not croniter.is_valid(text):
        raise ValueError(f"failed to parse schedule: {text}")
    return text


def zone_of(name: str | None) -> zoneinfo.ZoneInfo:
    """The time zone of a CronJob's ``spec.timeZone`` (UTC when unset, as kube-controller-manager's own zone is)."""
    return zoneinfo.ZoneInfo(name or "UTC")


# ---------------------------------------------------------------------------------------------------- defaults
def _template(spec: Obj) -> None:
    from opsgym.cluster.sim.defaults import _default_pod_spec

    _default_pod_spec(spec.setdefault("template", {}).setdefault("spec", {}), pod=False)


def default_kind(plural: str, obj: Obj) -> None:
    """Fill the API server's defaults for one of :data:`KINDS` (in place)."""
    spec = obj.setdefault("spec", {})
    if plural == "statefulsets":
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        policy = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        policy.setdefault("whenDeleted", "Retain")
        policy.setdefault("whenScaled", "Retain")
        for claim in spec.get("volumeClaimTemplates") or []:
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")
            claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
            claim.setdefault("status", {}).setdefault("phase", "Pending")
        _template(spec)
    elif plural == "daemonsets":
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        _template(spec)
    elif plural == "jobs":
        _default_job(spec)
    elif plural == "cronjobs":
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        _template(spec.setdefault("jobTemplate", {}).setdefault("spec", {}))


def _default_job(spec: Obj) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    _template(spec)


def prepare_job(obj: Obj) -> None:
    """Generate a new Job's selector and pod labels from its uid; the Job takes its template's labels when it has
    none (the API server's defaulting on read, visible in every answer)."""
    meta, spec = obj["metadata"], obj.setdefault("spec", {})
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    uid, name = meta["uid"], meta.get("name", "")
    if not spec.get("manualSelector"):
        template_meta["labels"] = {**(template_meta.get("labels") or {}),
                                   **dict(zip(JOB_LABELS, (uid, name, uid, name), strict=True))}
        spec["selector"] = {"matchLabels": {JOB_LABELS[0]: uid}}
    if not meta.get("labels") and template_meta.get("labels"):
        meta["labels"] = copy.deepcopy(template_meta["labels"])


# ---------------------------------------------------------------------------------------------------- validation
def _pod_template(spec: Obj, path: str, policies: tuple[str, ...]) -> list[FieldError]:
    """The template's labels and pod spec (a StatefulSet's claim templates count as volumes its containers mount)."""
    from opsgym.cluster.sim.defaults import _labels, _pod_spec

    template = spec.get("template") or {}
    template_spec = template.get("spec") or {}
    claims = [{"name": (c.get("metadata") or {}).get("name")} for c in spec.get("volumeClaimTemplates") or []]
    if claims:
        template_spec = {**template_spec, "volumes": [*(template_spec.get("volumes") or []), *claims]}
    errors = _labels((template.get("metadata") or {}).get("labels"), f"{path}.metadata.labels")
    errors += [e for e in _pod_spec(template_spec, f"{path}.spec") if not e.field.endswith(".restartPolicy")]
    if template_spec.get("restartPolicy") not in policies:
        errors.append(FieldError(f"{path}.spec.restartPolicy", "Unsupported", "supported values: " +
                                 ", ".join(f'"{p}"' for p in policies), template_spec.get("restartPolicy")))
    return errors


def _selector(spec: Obj, path: str = "spec") -> list[FieldError]:
    from opsgym.k8s.selectors import matches_selector

    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return [FieldError(f"{path}.selector", "Required", "")]
    if not matches_selector(selector, labels):
        return [FieldError(f"{path}.template.metadata.labels", "Invalid", "`selector` does not match template "
                           "`labels`", _GoMap(labels))]
    return []


class _GoMap(dict[str, str]):
    """Labels as Go's ``%#v`` prints a ``map[string]string`` in a field error (``map[string]string{"app":"web"}``)."""

    def __str__(self) -> str:
        return "map[string]string{" + ",".join(f'"{k}":"{v}"' for k, v in sorted(self.items())) + "}"


def _choice(value: Any, field: str, allowed: tuple[str, ...]) -> list[FieldError]:
    if value in allowed:
        return []
    return [FieldError(field, "Unsupported", "supported values: " + ", ".join(f'"{a}"' for a in allowed), value)]


def _non_negative(spec: Obj, path: str, *keys: str) -> list[FieldError]:
    return [FieldError(f"{path}.{k}", "Invalid", "must be greater than or equal to 0", spec[k])
            for k in keys if isinstance(spec.get(k), int) and spec[k] < 0]


def _job_spec(spec: Obj, path: str, creating: bool) -> list[FieldError]:
    errors = _non_negative(spec, path, "parallelism", "completions", "backoffLimit", "activeDeadlineSeconds",
                           "ttlSecondsAfterFinished")
    if spec.get("manualSelector"):
        errors += _selector(spec, path)
    elif creating and spec.get("selector"):
        errors.append(FieldError(f"{path}.selector", "Invalid", "`selector` will be auto-generated",
                                 "metav1.LabelSelector"))
    errors += _choice(spec.get("completionMode", "NonIndexed"), f"{path}.completionMode", ("NonIndexed", "Indexed"))
    return errors + _pod_template(spec, f"{path}.template", ("OnFailure", "Never"))


def validate_kind(plural: str, obj: Obj, creating: bool) -> list[FieldError]:
    """Field errors of one of :data:`KINDS` (create and update alike; immutability is :func:`immutable_errors`)."""
    from opsgym.cluster.sim.defaults import replicas_error

    spec = obj.get("spec") or {}
    if plural in ("statefulsets", "daemonsets"):
        errors = _selector(spec) + _pod_template(spec, "spec.template", ("Always",))
        errors += _choice((spec.get("updateStrategy") or {}).get("type"), "spec.updateStrategy.type",
                          ("OnDelete", "RollingUpdate"))
        if plural == "statefulsets":
            problem = replicas_error(spec.get("replicas", 1))
            errors += [problem] if problem is not None else []
            errors += _choice(spec.get("podManagementPolicy"), "spec.podManagementPolicy", ("OrderedReady",
                                                                                           "Parallel"))
            errors += [FieldError(f"spec.volumeClaimTemplates[{i}].metadata.name", "Required", "")
                       for i, c in enumerate(spec.get("volumeClaimTemplates") or [])
                       if not (c.get("metadata") or {}).get("name")]
        return errors + _non_negative(spec, "spec", "minReadySeconds")
    if plural == "jobs":
        return _job_spec(spec, "spec", creating)
    errors = _cron_fields(spec)
    errors += _choice(spec.get("concurrencyPolicy"), "spec.concurrencyPolicy", ("Allow", "Forbid", "Replace"))
    errors += _non_negative(spec, "spec", "startingDeadlineSeconds", "successfulJobsHistoryLimit",
                            "failedJobsHistoryLimit")
    return errors + _job_spec((spec.get("jobTemplate") or {}).get("spec") or {}, "spec.jobTemplate.spec", False)


def _cron_fields(spec: Obj) -> list[FieldError]:
    schedule, zone = spec.get("schedule"), spec.get("timeZone")
    errors = []
    if not schedule:
        errors.append(FieldError("spec.schedule", "Required", ""))
    elif "TZ" in schedule:
        errors.append(FieldError("spec.schedule", "Invalid", "cannot use TZ or CRON_TZ in schedule, use timeZone "
                                 "field instead", schedule))
    else:
        try:
            cron_schedule(schedule)
        except ValueError as exc:
            errors.append(FieldError("spec.schedule", "Invalid", str(exc), schedule))
    if zone is not None:
        try:
            zone_of(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors.append(FieldError("spec.timeZone", "Invalid", f"unknown time zone {zone}", zone))
    return errors


def immutable_errors(plural: str, obj: Obj, old: Obj) -> list[FieldError]:
    """What an update of one of :data:`KINDS` may not change."""
    spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
    if plural == "statefulsets":
        if {k: v for k, v in spec.items() if k not in STS_MUTABLE} != \
                {k: v for k, v in old_spec.items() if k not in STS_MUTABLE}:
            return [FieldError("spec", "Forbidden", "updates to statefulset spec for fields other than 'replicas', "
                               "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                               "'minReadySeconds' are forbidden")]
    elif plural == "daemonsets" and spec.get("selector") != old_spec.get("selector"):
        return [FieldError("spec.selector", "Invalid", "field is immutable", str(spec.get("selector")))]
    elif plural == "jobs":
        return [FieldError(f"spec.{key}", "Invalid", "field is immutable", str(spec.get(key)))
                for key in ("selector", "template") if spec.get(key) != old_spec.get(key)]
    return []
