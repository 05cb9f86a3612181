"""The kubelet's eviction manager under node pressure: which pod goes, when, and the words it leaves behind.

Pressure is a fact a task sets (a node's ``MemoryPressure`` or ``DiskPressure`` condition, see
:func:`opsgym.cluster.sim.nodelifecycle.set_node_condition`); while it holds, the node's kubelet evicts one pod at
once and one more every 10 s (its monitoring interval), ranked as the kubelet ranks them for memory: pods using more
than they request first, then lower priority, then the larger excess. Critical pods (priority of 2000000000 or
more) stay. An evicted pod is ``Failed`` with reason ``Evicted`` and the message ``The node was low on resource:
memory. Threshold quantity: 100Mi, available: …``; its controller replaces it, on a node without the pressure taint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsgym.cluster.sim.clock import parse_time
from opsgym.k8s.quantity import quantity_or

__all__ = ["EVICTION_INTERVAL_S", "pressure_eviction"]

Obj = dict[str, Any]
EVICTION_INTERVAL_S = 10.0
CRITICAL_PRIORITY = 2000000000
SIGNALS = (("MemoryPressure", "memory", "100Mi", 95 * 2**20), ("DiskPressure", "ephemeral-storage", "10%", 0))
"""(condition, resource, the kubelet's default hard threshold, the available amount reported below it)."""


def _quantity(amount: float) -> str:
    """A byte count as Kubernetes prints a BinarySI quantity (``48Mi``, ``49152Ki``)."""
    value = int(amount)
    for suffix, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value and value % size == 0:
            return f"{value // size}{suffix}"
    return str(value)


def _request(container: Obj, resource: str) -> float:
    return quantity_or(((container.get("resources") or {}).get("requests") or {}).get(resource, 0), 0.0)


def pressure_eviction(node: Obj, pods: list[Obj], usage: Callable[[Obj, Obj], float], evicted_at: list[float],
                      now: float) -> tuple[float | None, tuple[Obj, str, str] | None]:
    """(when the kubelet looks again, the pod to evict now with the resource and its message) for one node.

    ``pods`` are the node's running pods, ``usage(pod, container)`` a container's memory use in bytes, and
    ``evicted_at`` when this node's kubelet evicted pods before (from the pods' ``DisruptionTarget`` conditions).
    """
    conditions = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
    for kind, resource, threshold, available in SIGNALS:
        cond = conditions.get(kind) or {}
        if cond.get("status") != "True":
            continue
        since = parse_time(cond.get("lastTransitionTime")) or now
        recent = [t for t in evicted_at if t >= since]
        due = max(recent) + EVICTION_INTERVAL_S if recent else since
        candidates = [p for p in pods if int((p.get("spec") or {}).get("priority") or 0) < CRITICAL_PRIORITY]
        if now < due or not candidates:
            return (due if now < due and candidates else None), None

        def excess(pod: Obj, resource: str = resource) -> float:
            return sum(usage(pod, c) - _request(c, resource) for c in (pod.get("spec") or {}).get("containers") or [])

        victim = min(candidates, key=lambda p: (excess(p) <= 0, int(p["spec"].get("priority") or 0), -excess(p),
                                                p["metadata"]["namespace"], p["metadata"]["name"]))
        message = f"The node was low on resource: {resource}. "
        if available:
            message += f"Threshold quantity: {threshold}, available: {_quantity(available)}. "
        for container in victim["spec"].get("containers") or []:
            used, asked = usage(victim, container), _request(container, resource)
            if resource == "memory" and used > asked:
                message += (f"Container {container['name']} was using {_quantity(used)}, request is "
                            f"{_quantity(asked) if asked else '0'}, has larger consumption of {resource}. ")
        return now + EVICTION_INTERVAL_S, (victim, resource, message)
    return None, None
