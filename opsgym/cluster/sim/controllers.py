"""The cluster-wide controllers: namespace lifecycle, default service accounts, the scheduler, the garbage
collector and the endpoints controller. Each pass reads the store and writes only what changed, so a quiet
cluster settles in one pass.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.kinds import RESOURCES, lookup
from opsgym.cluster.sim.slices import MANAGED_BY, endpoint_slices
from opsgym.cluster.sim.store import revised
from opsgym.cluster.sim.system import publish_root_ca

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["CoreControllers", "pod_ready", "set_condition"]

Obj = dict[str, Any]
NAMESPACED = tuple(rt for rt in RESOURCES if rt.namespaced)


def pod_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def set_condition(conditions: list[Obj], kind: str, status: str, now: str, reason: str = "",
                  message: str = "") -> None:
    """Set a condition in place; ``lastTransitionTime`` moves only when the status flips."""
    for cond in conditions:
        if cond["type"] == kind:
            if cond["status"] != status:
                cond["lastTransitionTime"] = now
            cond["status"] = status
            for key, value in (("reason", reason), ("message", message)):
                if value:
                    cond[key] = value
                else:
                    cond.pop(key, None)
            return
    cond = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    conditions.append(cond)


ENDPOINT_INPUTS = ("services", "pods", "endpoints", "endpointslices")
"""Everything the Endpoints controller reads: with none of it written, a pass would write nothing."""


class CoreControllers:
    """Namespace, service-account, scheduler, garbage-collector and endpoints controllers."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store
        self._endpoints_seen: tuple[int, ...] | None = None
        self._slices_written: dict[tuple[str, str], tuple[Any, dict[tuple[str, str], str]]] = {}
        from opsgym.cluster.sim.scheduler import Scheduler
        self.scheduler = Scheduler(engine)

    def run(self) -> None:
        self.namespaces()
        self.garbage_collect()
        self.scheduler.run()

    # ------------------------------------------------------------------------------------------------ namespaces
    def namespaces(self) -> None:
        for ns in self.store.items("namespaces"):
            name = ns["metadata"]["name"]
            if not ns["metadata"].get("deletionTimestamp"):
                if self.store.get("serviceaccounts", name, "default") is None:
                    self.engine.api.create(lookup("serviceaccounts"), name, {"metadata": {"name": "default"}})
                publish_root_ca(self.engine, name)
                continue
            remaining = 0
            for rt in NAMESPACED:
                for obj in self.store.items(rt.plural, name):
                    if obj["metadata"].get("finalizers"):
                        remaining += 1
                        if not obj["metadata"].get("deletionTimestamp"):
                            self.engine.api.delete(rt, name, obj["metadata"]["name"])
                    else:
                        self.store.remove(rt.plural, name, obj["metadata"]["name"])
            if remaining == 0 and not ns["metadata"].get("finalizers"):
                self.store.remove("namespaces", "", name)

    # ------------------------------------------------------------------------------------------------ GC
    def garbage_collect(self) -> None:
        owners: dict[str, tuple[Any, Obj]] = {}
        for rt in RESOURCES:
            if rt.plural != "events":
                for obj in self.store.items(rt.plural):
                    owners[obj["metadata"]["uid"]] = (rt, obj)
        dependents: dict[str, int] = {}
        for rt, obj in list(owners.values()):
            refs = obj["metadata"].get("ownerReferences") or []
            if not refs:
                continue
            live = [r for r in refs if r.get("uid") in owners]
            orphaning = [r for r in live if "orphan" in (owners[r["uid"]][1]["metadata"].get("finalizers") or [])
                         and owners[r["uid"]][1]["metadata"].get("deletionTimestamp")]
            meta = obj["metadata"]
            if orphaning:
                fresh = copy.deepcopy(obj)
                gone = {r["uid"] for r in orphaning}
                fresh["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") not in gone]
                self.store.put(rt.plural, fresh)
                continue
            foreground = any(owners[r["uid"]][1]["metadata"].get("deletionTimestamp") and "foregroundDeletion" in
                             (owners[r["uid"]][1]["metadata"].get("finalizers") or []) for r in live)
            for r in live:
                dependents[r["uid"]] = dependents.get(r["uid"], 0) + 1
            if (not live or foreground) and not meta.get("deletionTimestamp"):
                self.engine.api.delete(rt, meta.get("namespace", ""), meta["name"],
                                       {"propagationPolicy": "Foreground" if foreground else "Background"})
        for rt, obj in owners.values():
            meta = obj["metadata"]
            finalizers = meta.get("finalizers") or []
            if not meta.get("deletionTimestamp") or not ({"orphan", "foregroundDeletion"} & set(finalizers)):
                continue
            if "foregroundDeletion" in finalizers and dependents.get(meta["uid"]):
                continue
            fresh = copy.deepcopy(obj)
            fresh["metadata"]["finalizers"] = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
            if fresh["metadata"]["finalizers"]:
                self.store.put(rt.plural, fresh)
            else:
                self.store.remove(rt.plural, meta.get("namespace", ""), meta["name"])

    # ------------------------------------------------------------------------------------------------ endpoints
    def endpoints(self) -> None:
        """Endpoints follow Services and their pods; with neither (nor Endpoints) written since the last pass there is
        nothing to do — the reconcile loop asks after every pass, and most passes change only other kinds."""
        if self.engine.skip_idle and self.store.version(*ENDPOINT_INPUTS) == self._endpoints_seen:
            return
        self._sync_endpoints()
        self._endpoints_seen = self.store.version(*ENDPOINT_INPUTS)

    def _sync_endpoints(self) -> None:
        services = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in self.store.items("services")}
        slices: set[tuple[str, str]] = set()
        for (namespace, name), svc in services.items():
            selector = (svc.get("spec") or {}).get("selector")
            if not selector:
                continue
            subsets = self._subsets(svc, namespace, selector)
            slices |= self._sync_slices(svc, namespace, subsets)
            current = self.store.get("endpoints", namespace, name)
            labels = dict(svc["metadata"].get("labels") or {})
            if current is not None and current.get("subsets", []) == subsets and \
                    (current["metadata"].get("labels") or {}) == labels:
                continue
            body: Obj = {"metadata": {"name": name, "labels": labels}}
            if subsets:
                body["subsets"] = subsets
            if current is None:
                self.engine.api.create(lookup("endpoints"), namespace, body)
            else:
                fresh = revised(current)
                fresh["metadata"]["labels"] = labels
                fresh.pop("subsets", None)
                fresh.update({"subsets": subsets} if subsets else {})
                self.store.put("endpoints", fresh)
        for ep in self.store.items("endpoints"):
            key = (ep["metadata"]["namespace"], ep["metadata"]["name"])
            if key not in services and key != ("default", "kubernetes"):
                self.store.remove("endpoints", *key)
        for es in self.store.items("endpointslices"):
            key = (es["metadata"]["namespace"], es["metadata"]["name"])
            if key not in slices and (es["metadata"].get("labels") or {}).get(MANAGED_BY):
                self.store.remove("endpointslices", *key)

    def _sync_slices(self, svc: Obj, namespace: str, subsets: list[Obj]) -> set[tuple[str, str]]:
        """Write the Service's EndpointSlices where they differ; return the keys it should have.

        Why the memo: the endpoints pass runs whenever any pod moves (every back-off step of a crash loop), and
        rebuilding every Service's slices each time made settling a new SRE seed ~40 % slower. A Service whose
        inputs and slices (same resourceVersions, no restore since) are as last written needs nothing.
        """
        memo_key = (namespace, svc["metadata"]["name"])
        inputs = (self.store.state_id[0], svc["metadata"]["uid"], svc["metadata"].get("labels"), subsets)
        memo = self._slices_written.get(memo_key)
        if memo is not None and memo[0] == inputs and all(
                (self.store.get("endpointslices", *key) or {}).get("metadata", {}).get("resourceVersion") == rv
                for key, rv in memo[1].items()):
            return set(memo[1])
        kept = {}
        for body in endpoint_slices(svc, subsets):
            name = body["metadata"]["name"]
            current = self.store.get("endpointslices", namespace, name)
            if current is None:
                current, _ = self.engine.api.create(lookup("endpointslices"), namespace, body)
            elif any(current.get(k) != body.get(k) for k in ("endpoints", "ports")) or \
                    current["metadata"].get("labels") != body["metadata"]["labels"]:
                fresh = {k: v for k, v in revised(current).items() if k != "ports"} | \
                    {k: body[k] for k in ("endpoints", "ports") if k in body}
                fresh["metadata"]["labels"] = body["metadata"]["labels"]
                current = self.store.put("endpointslices", fresh)
            kept[(namespace, name)] = current["metadata"]["resourceVersion"]
        self._slices_written[memo_key] = (inputs, kept)
        return set(kept)

    def _subsets(self, svc: Obj, namespace: str, selector: dict[str, str]) -> list[Obj]:
        groups: dict[tuple, Obj] = {}
        publish = (svc.get("spec") or {}).get("publishNotReadyAddresses")
        for pod in self.store.items("pods", namespace):
            status = pod.get("status") or {}
            if not status.get("podIP") or status.get("phase") in ("Succeeded", "Failed") or \
                    not all((pod["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items()):
                continue
            if pod["metadata"].get("deletionTimestamp") and not publish:  # terminating: gone from endpoints
                continue
            ports = []
            service_ports = (svc.get("spec") or {}).get("ports") or []
            for port in service_ports:
                target = port.get("targetPort", port.get("port"))
                if isinstance(target, str) and not target.isdigit():
                    target = next((p.get("containerPort") for c in pod["spec"].get("containers") or []
                                   for p in c.get("ports") or [] if p.get("name") == target), None)
                if target is not None:
                    entry = {"port": int(target), "protocol": port.get("protocol", "TCP")}
                    if port.get("name"):
                        entry = {"name": port["name"], **entry}
                    ports.append(entry)
            if service_ports and not ports:  # no container port of that name: the pod serves none of them
                continue
            key = tuple(sorted((p.get("name", ""), p["port"]) for p in ports))
            subset = groups.setdefault(key, {"ports": ports})
            address = {"ip": status["podIP"], "nodeName": pod["spec"].get("nodeName"),
                       "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod["metadata"]["name"],
                                     "uid": pod["metadata"]["uid"]}}
            ready = pod_ready(pod)
            subset.setdefault("addresses" if ready or publish else "notReadyAddresses", []).append(address)
        subsets = []
        for key in sorted(groups):
            subset = groups[key]
            for field in ("addresses", "notReadyAddresses"):
                if field in subset:
                    subset[field].sort(key=lambda a: tuple(int(x) for x in a["ip"].split(".")))
            ordered: Obj = {k: subset[k] for k in ("addresses", "notReadyAddresses", "ports") if k in subset}
            subsets.append(ordered)
        return subsets
