"""Kubernetes Events as the kubelet and controllers record them, aggregated the way client-go's recorder does.

Repeats of the same event (same object, reason and message) bump ``count`` and ``lastTimestamp`` instead of adding
rows, which is what ``kubectl describe`` shows as ``(x5 over 3m)`` and what ``get events --field-selector`` finds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.store import revised
from opsgym.cluster.sim.system import event_identity

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["EventRecorder", "reference"]

TTL_S = 3600.0
"""Events expire an hour after they were last seen, as with the API server's default ``--event-ttl``."""


def reference(obj: dict[str, Any], field_path: str = "") -> dict[str, Any]:
    """An ObjectReference to ``obj`` (the ``involvedObject`` of an event)."""
    meta = obj["metadata"]
    ref = {"kind": obj["kind"], "namespace": meta.get("namespace", ""), "name": meta["name"], "uid": meta["uid"],
           "apiVersion": obj["apiVersion"], "resourceVersion": meta.get("resourceVersion", "")}
    if not ref["namespace"]:
        del ref["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class EventRecorder:
    """Writes Events into the store; its index (aggregation key → event name) is part of the engine snapshot."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.index: dict[tuple[str, ...], str] = {}
        self._oldest: tuple[tuple[int, int], float] | None = None
        """(store state, oldest lastTimestamp): while the store stays so, nothing expires before that instant."""

    def emit(self, obj: dict[str, Any], kind: str, reason: str, message: str, component: str, host: str = "",
             field_path: str = "", count: int | None = None) -> None:
        """Record (or aggregate) an event about ``obj``; ``kind`` is ``Normal`` or ``Warning``.

        ``count`` sets the repeat count outright (a probe that failed n times); otherwise a repeat adds one.
        """
        store, now = self.engine.store, self.engine.stamp()
        involved = reference(obj, field_path)
        namespace = involved.get("namespace") or "default"
        key = (involved["uid"], field_path, kind, reason, message, component)
        name = self.index.get(key)
        existing = store.get("events", namespace, name) if name else None
        if existing is not None:
            if count is not None and count <= existing.get("count", 1):
                return
            event = revised(existing)
            event["count"] = count if count is not None else event.get("count", 1) + 1
            event["lastTimestamp"] = now
            store.put("events", event)
            return
        suffix, uid = event_identity(self.engine, namespace)
        name = f"{involved['name']}.{suffix}"
        self.index[key] = name
        source = {"component": component} | ({"host": host} if host else {})
        store.put("events", {
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": uid, "creationTimestamp": now},
            "involvedObject": involved, "reason": reason, "message": message, "source": source,
            "firstTimestamp": now, "lastTimestamp": now, "count": count or 1, "type": kind, "eventTime": None,
            "reportingComponent": component, "reportingInstance": host,
        })

    def expire(self) -> None:
        """Drop events not seen for an hour (virtual)."""
        store, horizon = self.engine.store, self.engine.clock.now - TTL_S
        if self._oldest is not None and self._oldest[0] == store.state_id and horizon <= self._oldest[1]:
            return
        oldest = math.inf
        for event in store.items("events"):
            last = self.engine.parse(event.get("lastTimestamp"))
            if last is not None and last < horizon:
                store.remove("events", event["metadata"]["namespace"], event["metadata"]["name"])
            elif last is not None:
                oldest = min(oldest, last)
        self._oldest = (store.state_id, oldest)
