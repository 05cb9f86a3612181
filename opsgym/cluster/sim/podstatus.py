"""Pod status and container logs as the kubelet reports them, derived from its container records.

The mapping is the kubelet's: a crash-looping container is ``waiting: CrashLoopBackOff`` with the crash in
``lastState``; ``kubectl logs`` then shows that crash (``--previous`` too), and once the container runs again
``--previous`` shows the crash before it.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.controllers import set_condition
from opsgym.cluster.sim.status import ApiError

if TYPE_CHECKING:
    from opsgym.cluster.sim.kubelet import ContainerRecord, Instance, PodRecord

__all__ = ["container_logs", "pod_status"]

Obj = dict[str, Any]
CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def _views(crec: ContainerRecord | None) -> tuple[Instance | None, Instance | None, tuple[str, str] | None]:
    """(instance shown as ``state``, instance shown as ``lastState``, waiting reason) for one container."""
    if crec is None or crec.current is None:
        return None, None, (crec.waiting if crec and crec.waiting else None)
    if crec.current.finished is None:
        return crec.current, crec.previous, None
    if crec.waiting:
        return None, crec.current, crec.waiting
    return crec.current, crec.previous, None


@functools.lru_cache(maxsize=1024)
def _image_id(image: str) -> str:
    """A digest-pinned image reference, as the runtime reports it (stable per image, so computed once)."""
    return f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _terminated(inst: Instance, stamp: Callable[[float], str]) -> Obj:
    return {"exitCode": inst.exit_code, "reason": inst.reason} | ({"message": inst.message} if inst.message else {}) | \
        {"startedAt": stamp(inst.started), "finishedAt": stamp(inst.finished or inst.started),
         "containerID": inst.container_id}


def _container_status(container: Obj, crec: ContainerRecord | None, default_wait: str,
                      stamp: Callable[[float], str]) -> Obj:
    shown, last, waiting = _views(crec)
    image = container.get("image", "")
    status: Obj = {"name": container["name"], "image": image,
                   "imageID": _image_id(image),
                   "restartCount": crec.restarts if crec else 0, "ready": False, "started": False}
    if shown is not None and shown.finished is None:
        status["state"] = {"running": {"startedAt": stamp(shown.started)}}
        status["ready"] = shown.ready
        status["started"] = not container.get("startupProbe") or shown.startup_passed is not None
    elif shown is not None:
        status["state"] = {"terminated": _terminated(shown, stamp)}
    else:
        reason, message = waiting or (default_wait, "")
        status["state"] = {"waiting": {"reason": reason} | ({"message": message} if message else {})}
    status["lastState"] = {"terminated": _terminated(last, stamp)} if last is not None else {}
    current = crec.current if crec else None
    if current is not None:
        status["containerID"] = current.container_id
    if shown is None and last is None:
        status.pop("imageID")
    return status


def pod_status(pod: Obj, record: PodRecord, now: float, stamp: Callable[..., str]) -> Obj:
    """The ``status`` the kubelet would post for ``pod``."""
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    inits, apps = spec.get("initContainers") or [], spec.get("containers") or []
    init_statuses = [_container_status(c, record.containers.get(c["name"]), "PodInitializing", stamp) for c in inits]
    initialized = all((s["state"].get("terminated") or {}).get("exitCode") == 0 for s in init_statuses)
    app_wait = "ContainerCreating" if initialized else "PodInitializing"
    statuses = [_container_status(c, record.containers.get(c["name"]), app_wait, stamp) for c in apps]
    policy = spec.get("restartPolicy", "Always")
    ran = [record.containers.get(c["name"]) for c in apps]
    init_failed = policy == "Never" and any((s["state"].get("terminated") or {}).get("exitCode", 0) != 0
                                            for s in init_statuses)
    finished = [r is not None and r.current is not None and r.current.finished is not None and not r.waiting
                for r in ran]
    if init_failed or record.evicted:
        phase = "Failed"
    elif policy != "Always" and apps and all(finished):
        phase = "Succeeded" if all(r is not None and r.current is not None and r.current.exit_code == 0
                                   for r in ran) else "Failed"
    elif initialized and any(r is not None and r.current is not None for r in ran):
        phase = "Running"
    else:
        phase = "Pending"
    stamp_now = stamp()
    conditions = [dict(c) for c in old.get("conditions") or []]  # set_condition edits them; the rest is shared
    set_condition(conditions, "PodReadyToStartContainers", "False" if record.mount_error else "True", stamp_now)
    pending_inits = [s["name"] for s, c in zip(init_statuses, inits, strict=True)
                     if (s["state"].get("terminated") or {}).get("exitCode") != 0]
    if pending_inits:
        set_condition(conditions, "Initialized", "False", stamp_now, "ContainersNotInitialized",
                      f"containers with incomplete status: [{' '.join(pending_inits)}]")
    else:
        set_condition(conditions, "Initialized", "True", stamp_now)
    unready = [s["name"] for s in statuses if not s["ready"]]
    for kind in ("Ready", "ContainersReady"):
        if unready:
            set_condition(conditions, kind, "False", stamp_now, "ContainersNotReady",
                          f"containers with unready status: [{' '.join(unready)}]")
        else:
            set_condition(conditions, kind, "True", stamp_now)
    if phase in ("Succeeded", "Failed"):
        for kind in ("Ready", "ContainersReady"):
            set_condition(conditions, kind, "False", stamp_now, "PodCompleted")
    if record.evicted:
        set_condition(conditions, "DisruptionTarget", "True", stamp_now, "TerminationByKubelet", record.evicted[1])
    conditions.sort(key=lambda c: CONDITION_ORDER.index(c["type"]) if c["type"] in CONDITION_ORDER else 99)
    status: Obj = {"phase": phase, "conditions": conditions, "hostIP": record.host_ip,
                   "hostIPs": [{"ip": record.host_ip}], "podIP": record.ip, "podIPs": [{"ip": record.ip}],
                   "startTime": stamp(record.started)}
    if record.evicted:
        status = {"phase": phase, "reason": "Evicted", "message": record.evicted[1]} | \
            {k: v for k, v in status.items() if k != "phase"}
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    status["qosClass"] = old.get("qosClass", "BestEffort")
    if old.get("nominatedNodeName"):
        status["nominatedNodeName"] = old["nominatedNodeName"]
    return status


def _stamp_ns(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(when))) + f".{int((when % 1) * 1e9):09d}Z"


def container_logs(pod: Obj, record: PodRecord | None, container: str | None, *, previous: bool = False,
                   tail: int | None = None, timestamps: bool = False, since: float | None = None) -> str:
    """The text ``GET pods/NAME/log`` returns, or the kubelet's error for a container with no such logs.

    Raises:
        ApiError: 400 when the container is ambiguous, unknown, or has not produced the requested instance.
    """
    spec, name = pod.get("spec") or {}, pod["metadata"]["name"]
    apps = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    if not container:
        if len(apps) != 1:
            hint = f" or one of the init containers: [{' '.join(inits)}]" if inits else ""
            raise ApiError.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                       f"[{' '.join(apps)}]{hint}")
        container = apps[0]
    if container not in apps + inits:
        raise ApiError.bad_request(f"container {container} is not valid for pod {name}")
    crec = record.containers.get(container) if record else None
    shown, last, waiting = _views(crec)
    if previous:
        if last is None:
            raise ApiError.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        inst = last
    else:
        current = shown or last
        if current is None:
            reason = waiting[0] if waiting else "ContainerCreating"
            raise ApiError.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
        inst = current
    lines = [(t, line) for t, line in inst.logs if since is None or t >= since]
    if tail is not None and tail >= 0:
        lines = lines[-tail:] if tail else []
    return "".join((f"{_stamp_ns(t)} " if timestamps else "") + line + "\n" for t, line in lines)
