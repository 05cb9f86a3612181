"""Resource usage on the virtual clock, served as ``metrics.k8s.io/v1beta1`` the way metrics-server serves it.

``kubectl top`` and the HorizontalPodAutoscaler read the same numbers, so they come from one model of what each
running container does, never from wall-clock measurements:

* **Memory** (working set) is what the program reports (:class:`~opsgym.runtime.sim.ContainerRun` ``memory_mb``:
  the interpreter's base plus what it ``allocate``\\ s; a container that is not a program uses the generic figure),
  plus 64 KiB of buffers per request/s it is serving, capped at its memory limit.
* **CPU** is an idle cost (0.5-2 millicores, fixed per container) plus :data:`REQUEST_CPU_MS` of CPU time per request
  it serves, capped at its CPU limit (the CFS quota throttles beyond it).
* **Load** (requests/s) starts at a Service: :meth:`Metrics.set_load` offers a Service external traffic (a task's
  "traffic spike"; nothing is offered by default). Every request a Service receives makes one request to each of the
  Services its programs depend on (the hosts they resolved while starting, as the kubelet recorded them), so load
  offered to the shop's storefront reaches catalog, cart, checkout and the key-value store. A Service's load is split
  evenly over its ready pods; within a pod, over the containers that listen on a port (all, if none does).

Numbers change once per scrape (every :data:`SCRAPE_S` virtual seconds, metrics-server's default resolution) with a
small jitter drawn from the cluster's seed, the container and the scrape instant: deterministic for a seed, never
constant enough to look synthetic. A container has metrics once it has run for a whole scrape interval (metrics-server
needs two scrapes to compute a rate), so a new or restarting pod is missing from ``kubectl top`` for 15-30 s, as on a
real cluster. Node usage is the sum of its pods plus :data:`SYSTEM_CPU_M`/:data:`SYSTEM_MEMORY` for the kubelet,
container runtime and kernel. Reading metrics writes nothing, so it never changes how the cluster settles.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.selectors import field_selector, label_selector
from opsgym.cluster.sim.status import ApiError
from opsgym.k8s.quantity import MIB, quantity_or
from opsgym.k8s.selectors import matches_selector

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["GROUP", "Metrics", "Usage", "answer", "group_entry", "resource_list"]

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
SCRAPE_S = 15.0
"""metrics-server's ``--metric-resolution``: how often usage is sampled (and how often the numbers change)."""
POD_WINDOW, NODE_WINDOW = "15s", "10s"
REQUEST_CPU_MS = 2.0
"""CPU time one request costs the container that serves it (2 ms: 100 requests/s keep 0.2 cores busy)."""
REQUEST_MEMORY = 64 * 1024
"""Bytes of buffers held per request/s being served."""
SYSTEM_CPU_M, SYSTEM_MEMORY = 60.0, 512 * MIB
"""A node's own usage besides its pods (kubelet, containerd, kernel), before jitter."""
JITTER = 0.05
GENERIC_MEMORY_MB = 8.0
Obj = dict[str, Any]
Key = tuple[str, str]


@dataclass(frozen=True)
class Usage:
    """One container's (or node's) usage at a scrape."""

    cpu_m: float
    memory: int

    def quantities(self) -> dict[str, str]:
        """As metrics-server writes them: nanocores and KiB."""
        return {"cpu": f"{int(self.cpu_m * 1e6)}n", "memory": f"{self.memory // 1024}Ki"}


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _service_of(host: str, namespace: str) -> Key:
    """The (namespace, Service) a program's dependency host names: ``kv``, ``kv.shop``, ``kv.shop.svc…``."""
    labels = host.split(".")
    return (labels[1] if len(labels) > 1 and labels[1] != "svc" else namespace), labels[0]


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


class Metrics:
    """The usage model of one engine and the load knob tasks turn (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.loads: dict[Key, float] = {}
        self._cache: tuple[Any, dict[str, dict[str, Usage]]] | None = None

    # ------------------------------------------------------------------------------------------------ the knob
    def set_load(self, namespace: str, service: str, rps: float) -> None:
        """Offer ``rps`` requests/s of outside traffic to Service ``namespace/service`` from now on (0 stops it).

        Raises:
            ValueError: ``rps`` is negative or not finite.
        """
        rps = float(rps)
        if not math.isfinite(rps) or rps < 0:
            raise ValueError(f"load must be a finite number of requests/s >= 0, got {rps}")
        if rps:
            self.loads[(namespace, service)] = rps
        else:
            self.loads.pop((namespace, service), None)

    def save(self) -> dict[Key, float]:
        return dict(self.loads)

    def load(self, state: Mapping[Key, float]) -> None:
        self.loads, self._cache = dict(state), None

    # ------------------------------------------------------------------------------------------------ the model
    def scraped_at(self) -> float:
        """The instant of the latest scrape (the ``timestamp`` metrics carry)."""
        return math.floor(self.engine.clock.now / SCRAPE_S) * SCRAPE_S

    def service_rps(self) -> dict[Key, float]:
        """Requests/s each Service receives: offered load plus one request per request of each caller."""
        store, state = self.engine.store, self.engine.kubelet.state
        selectors = {(s["metadata"]["namespace"], s["metadata"]["name"]): s["spec"]["selector"]
                     for s in store.items("services") if (s.get("spec") or {}).get("selector")}
        callers: dict[Key, set[Key]] = {}
        for pod in store.items("pods"):
            record = state.get(pod["metadata"]["uid"])
            if record is None:
                continue
            namespace, labels = pod["metadata"]["namespace"], pod["metadata"].get("labels") or {}
            backs = [k for k, sel in selectors.items() if k[0] == namespace and matches_selector(
                {"matchLabels": sel}, labels)]
            for crec in record.containers.values():
                for question in (crec.current.consulted if crec.current else ()):
                    dep = _service_of(str(question[1]), namespace)
                    if dep in selectors:
                        callers.setdefault(dep, set()).update(k for k in backs if k != dep)
        rps: dict[Key, float] = {}

        def total(key: Key, seen: frozenset[Key]) -> float:
            if key not in rps:
                rps[key] = self.loads.get(key, 0.0) + sum(
                    total(c, seen | {key}) for c in sorted(callers.get(key, ())) if c not in seen)
            return rps[key]

        for key in selectors:
            total(key, frozenset())
        return rps

    def pod_usage(self) -> dict[str, dict[str, Usage]]:
        """Pod uid → container → usage at the latest scrape, for pods every container of which has metrics."""
        at = self.scraped_at()
        key = (self.engine.store.state_id, at, tuple(sorted(self.loads.items())))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        store, state, seed = self.engine.store, self.engine.kubelet.state, self.engine.seed
        rps = self.service_rps()
        ready: dict[Key, int] = {}
        pods = [p for p in store.items("pods") if (p.get("status") or {}).get("phase") == "Running"]
        backing: dict[str, list[Key]] = {}
        for pod in pods:
            namespace, labels = pod["metadata"]["namespace"], pod["metadata"].get("labels") or {}
            backing[pod["metadata"]["uid"]] = keys = [k for k, v in rps.items() if k[0] == namespace and
                                                      self._selects(k, labels)]
            if _ready(pod):
                for k in keys:
                    ready[k] = ready.get(k, 0) + 1
        usage: dict[str, dict[str, Usage]] = {}
        for pod in pods:
            uid, record = pod["metadata"]["uid"], state.get(pod["metadata"]["uid"])
            specs = {c["name"]: c for c in (pod.get("spec") or {}).get("containers") or []}
            running = {n: r.current for n, r in (record.containers.items() if record else ())
                       if n in specs and r.current is not None and r.current.finished is None}
            if not specs or set(running) != set(specs) or any(i.started > at - SCRAPE_S for i in running.values()):
                continue
            load = sum(rps[k] / ready[k] for k in backing[uid] if ready.get(k)) if _ready(pod) else 0.0
            serving = [n for n, i in running.items() if getattr(i.run, "port", None) is not None] or list(running)
            usage[uid] = {name: self._container(specs[name], inst, load / len(serving) if name in serving else 0.0,
                                                (seed, uid, name, at))
                          for name, inst in running.items()}
        self._cache = (key, usage)
        return usage

    def _selects(self, key: Key, labels: Mapping[str, str]) -> bool:
        service = self.engine.store.get("services", key[0], key[1])
        selector = ((service or {}).get("spec") or {}).get("selector")
        return bool(selector) and matches_selector({"matchLabels": selector}, labels)

    @staticmethod
    def _container(spec: Obj, inst: Any, rps: float, draw: tuple[Any, ...]) -> Usage:
        limits = (spec.get("resources") or {}).get("limits") or {}
        jitter = 1 + JITTER * (2 * _unit(*draw, "cpu") - 1)
        idle = 0.5 + 1.5 * _unit(*draw[:3], "idle")
        cpu = (idle + rps * REQUEST_CPU_MS) * jitter
        if "cpu" in limits:
            cpu = min(cpu, quantity_or(limits["cpu"], math.inf) * 1000)
        memory_mb = float(getattr(inst.run, "memory_mb", 0.0) or GENERIC_MEMORY_MB)
        memory = memory_mb * MIB * (1 + JITTER / 3 * (2 * _unit(*draw, "memory") - 1)) + rps * REQUEST_MEMORY
        if "memory" in limits:
            memory = min(memory, quantity_or(limits["memory"], math.inf))
        return Usage(cpu, int(memory))

    def node_usage(self) -> dict[str, Usage]:
        """Node name → usage: its pods' sum plus the node's own."""
        at, pods = self.scraped_at(), self.pod_usage()
        usage = {}
        for node in self.engine.store.items("nodes"):
            name = node["metadata"]["name"]
            mine = [u for p in self.engine.store.items("pods") if (p.get("spec") or {}).get("nodeName") == name
                    for u in pods.get(p["metadata"]["uid"], {}).values()]
            draw = (self.engine.seed, name, at)
            cpu = SYSTEM_CPU_M * (1 + 2 * JITTER * (2 * _unit(*draw, "cpu") - 1))
            memory = SYSTEM_MEMORY * (1 + JITTER / 3 * (2 * _unit(*draw, "memory") - 1))
            usage[name] = Usage(cpu + sum(u.cpu_m for u in mine), int(memory) + sum(u.memory for u in mine))
        return usage


# ---------------------------------------------------------------------------------------------------- the API
def group_entry() -> dict[str, Any]:
    """The group's entry in ``/apis`` (an APIService registered by metrics-server on a real cluster)."""
    gv = {"groupVersion": API_VERSION, "version": VERSION}
    return {"name": GROUP, "versions": [gv], "preferredVersion": gv}


def resource_list() -> dict[str, Any]:
    """``/apis/metrics.k8s.io/v1beta1``: read-only ``nodes`` and ``pods``."""
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": API_VERSION, "resources": [
        {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics", "verbs": ["get", "list"]},
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]}]}


def _item(engine: Engine, kind: str, obj: Obj, window: str, extra: Obj) -> Obj:
    meta = obj["metadata"]
    metadata = {"name": meta["name"], **({"namespace": meta["namespace"]} if meta.get("namespace") else {}),
                "creationTimestamp": engine.stamp(), "labels": dict(meta.get("labels") or {})}
    return {"kind": kind, "apiVersion": API_VERSION, "metadata": metadata,
            "timestamp": engine.stamp(engine.metrics.scraped_at()), "window": window, **extra}


def answer(engine: Engine, method: str, segments: list[str], query: Mapping[str, str]) -> Obj | None:
    """The reply body for a ``/apis/metrics.k8s.io/v1beta1/...`` resource request, or None for any other path.

    Raises:
        ApiError: 404 for an unknown path or an object without metrics (as metrics-server words it), 405 for a
            verb other than get/list.
    """
    if segments[:3] != ["apis", GROUP, VERSION] or len(segments) < 4:
        return None
    rest = segments[3:]
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if rest[0] not in ("nodes", "pods") or len(rest) > 2 or (rest[0] == "nodes" and namespace is not None):
        raise ApiError.path_not_found()
    if method != "GET" or query.get("watch", "").lower() in ("1", "true"):
        raise ApiError.method_not_allowed()
    name = rest[1] if len(rest) > 1 else None
    plural = rest[0]
    if name is not None and plural == "pods" and namespace is None:
        raise ApiError.path_not_found()
    labels, fields = label_selector(query.get("labelSelector")), field_selector(query.get("fieldSelector"), plural)
    objects = [o for o in engine.store.items(plural, namespace)
               if (name is None or o["metadata"]["name"] == name) and labels(o) and fields(o)]
    if plural == "pods":
        usage = engine.metrics.pod_usage()
        items = [_item(engine, "PodMetrics", p, POD_WINDOW, {"containers": [
            {"name": c, "usage": u.quantities()} for c, u in usage[p["metadata"]["uid"]].items()]})
            for p in objects if p["metadata"]["uid"] in usage]
    else:
        nodes = engine.metrics.node_usage()
        items = [_item(engine, "NodeMetrics", n, NODE_WINDOW, {"usage": nodes[n["metadata"]["name"]].quantities()})
                 for n in objects if n["metadata"]["name"] in nodes]
    kind = "PodMetrics" if plural == "pods" else "NodeMetrics"
    if name is None:
        return {"kind": f"{kind}List", "apiVersion": API_VERSION, "metadata": {}, "items": items}
    if not items:
        shown = f"{namespace}/{name}" if namespace else name
        raise ApiError.not_found(f"{kind.lower()}.{GROUP}", shown, GROUP)
    return items[0]
