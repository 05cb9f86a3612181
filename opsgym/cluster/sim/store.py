"""The object store: copy-on-write objects, a global resourceVersion, watch fan-out and cheap snapshots.

Stored objects are never mutated after :meth:`Store.put`; writers put a fresh dict instead. That one rule makes a
snapshot a shallow copy of a few dicts (a reset costs well under a millisecond for a scenario's worth of objects)
and lets the HTTP thread serialise an object while the simulation thread moves on. It also lets the store keep
sorted listings and an index of controller owners per resource, rebuilt only after that resource changed: the
controllers ask for them many times per pass.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsgym.cluster.sim.kinds import RESOURCES

__all__ = ["Snapshot", "Store", "Watcher", "revised"]

HISTORY = 4096
"""Watch events kept for clients resuming from a resourceVersion; older ones get 410 Gone, as from etcd compaction."""

Key = tuple[str, str]


def revised(obj: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The next version of a stored object, for :meth:`Store.put`, with top-level ``fields`` replaced.

    Only ``metadata`` is copied (``put`` stamps the resourceVersion into it); everything else is shared with the
    stored version, which is immutable, so the caller replaces nested values instead of mutating them. A deep copy
    of every pod each time its status moves was the cluster's largest cost. Key order is that of ``obj``, as with a
    deep copy and assignment, so the JSON a client sees is the same.
    """
    fresh = dict(obj, **fields)
    fresh["metadata"] = dict(obj["metadata"])
    return fresh


@dataclass(eq=False)
class Watcher:
    """One open watch: ``deliver(type, object, previous)`` is called under the store lock (``previous``: the version
    a MODIFIED event replaced, so a filtered watch can tell an object entering or leaving its selection), ``close()``
    when it must end."""

    plural: str
    namespace: str | None
    deliver: Callable[[str, dict[str, Any], dict[str, Any] | None], object]
    close: Callable[[], object]
    """(What they return is ignored: the server's callbacks hand the event to its loop and return a handle.)"""


@dataclass
class Snapshot:
    """A frozen store state (objects are shared, never copied)."""

    objects: dict[str, dict[Key, dict[str, Any]]]
    revision: int
    extra: dict[str, Any] = field(default_factory=dict)


class Store:
    """All objects of one cluster, keyed by plural resource name and (namespace, name)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.revision = 0
        self._objects: dict[str, dict[Key, dict[str, Any]]] = {rt.plural: {} for rt in RESOURCES}
        self._history: deque[tuple[int, str, str, dict[str, Any], dict[str, Any] | None]] = deque(maxlen=HISTORY)
        self._watchers: list[Watcher] = []
        self._restores = 0
        self._changed: dict[str, int] = {}
        """Per resource, the revision of its last write: cached views older than that are stale."""
        self._views: dict[tuple[str, str | None], tuple[int, list[dict[str, Any]], dict[str, list[dict[str, Any]]]]]
        self._views = {}

    @property
    def state_id(self) -> tuple[int, int]:
        """Equal only for the same contents: the revision, told apart across :meth:`restore` (which rewinds it)."""
        return self._restores, self.revision

    def version(self, *plurals: str) -> tuple[int, ...]:
        """Changes whenever an object of one of ``plurals`` is written or removed (or the store is restored)."""
        return self._restores, *(self._changed.get(plural, -1) for plural in plurals)

    # ------------------------------------------------------------------------------------------------ reads
    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object (read-only by contract) or None."""
        return self._objects[plural].get((namespace, name))

    def items(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of a resource, sorted by namespace and name like etcd keys; all namespaces when None."""
        return list(self._view(plural, namespace)[1])

    def owned(self, plural: str, namespace: str, owner_uid: str) -> list[dict[str, Any]]:
        """The objects whose controller ownerReference points at ``owner_uid``, in :meth:`items` order."""
        return list(self._view(plural, namespace)[2].get(owner_uid, ()))

    def _view(self, plural: str, namespace: str | None) -> tuple[int, list[dict[str, Any]],
                                                                   dict[str, list[dict[str, Any]]]]:
        changed = self._changed.get(plural, -1)
        view = self._views.get((plural, namespace))
        if view is None or view[0] != changed:
            table = self._objects[plural]
            listing = [table[k] for k in sorted(k for k in table if namespace is None or k[0] == namespace)]
            owners: dict[str, list[dict[str, Any]]] = {}
            for obj in listing:
                uids = {r.get("uid") for r in obj["metadata"].get("ownerReferences") or []
                        if r.get("controller") and isinstance(r.get("uid"), str)}
                for uid in uids:
                    owners.setdefault(uid, []).append(obj)
            view = self._views[(plural, namespace)] = (changed, listing, owners)
        return view

    # ------------------------------------------------------------------------------------------------ writes
    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` (ownership passes to the store) with the next resourceVersion; notify watchers."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        previous = self._objects[plural].get(key)
        self.revision += 1
        self._changed[plural] = self.revision
        meta["resourceVersion"] = str(self.revision)
        self._objects[plural][key] = obj
        self._notify(plural, "ADDED" if previous is None else "MODIFIED", obj, previous)
        return obj

    def remove(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """Delete an object outright; watchers see it with a fresh resourceVersion."""
        obj = self._objects[plural].pop((namespace, name), None)
        if obj is None:
            return None
        self.revision += 1
        self._changed[plural] = self.revision
        gone = dict(obj, metadata=dict(obj["metadata"], resourceVersion=str(self.revision)))
        self._notify(plural, "DELETED", gone, None)
        return gone

    def _notify(self, plural: str, kind: str, obj: dict[str, Any], previous: dict[str, Any] | None) -> None:
        self._history.append((self.revision, plural, kind, obj, previous))
        namespace = obj["metadata"].get("namespace", "")
        for watcher in list(self._watchers):
            if watcher.plural == plural and watcher.namespace in (None, namespace):
                watcher.deliver(kind, obj, previous)

    # ------------------------------------------------------------------------------------------------ watches
    def watch(self, watcher: Watcher, since: int | None) -> None:
        """Register ``watcher``; replay history after ``since`` (None: synthetic ADDED for what exists now).

        Raises:
            LookupError: ``since`` is older than the kept history (the caller answers 410 Gone).
        """
        if since is None:
            for obj in self.items(watcher.plural, watcher.namespace):
                watcher.deliver("ADDED", obj, None)
        else:
            oldest = self._history[0][0] if self._history else self.revision + 1
            if since < oldest - 1 and since < self.revision:
                raise LookupError(f"too old resource version: {since} ({oldest - 1})")
            if since > self.revision:
                raise LookupError(f"too large resource version: {since}, current: {self.revision}")
            for revision, plural, kind, obj, previous in self._history:
                namespace = obj["metadata"].get("namespace", "")
                if revision > since and plural == watcher.plural and watcher.namespace in (None, namespace):
                    watcher.deliver(kind, obj, previous)
        self._watchers.append(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    # ------------------------------------------------------------------------------------------------ snapshots
    def snapshot(self) -> Snapshot:
        return Snapshot({plural: dict(table) for plural, table in self._objects.items()}, self.revision)

    def restore(self, snapshot: Snapshot) -> None:
        """Return to ``snapshot``; open watches end (their clients relist, as after an apiserver restart)."""
        self._objects = {plural: dict(table) for plural, table in snapshot.objects.items()}
        self.revision = snapshot.revision
        self._restores += 1
        self._changed.clear()
        self._views.clear()
        self._history.clear()
        watchers, self._watchers = self._watchers, []
        for watcher in watchers:
            watcher.close()
