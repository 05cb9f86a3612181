"""Server-side printing: the ``meta.k8s.io/v1 Table`` kubectl asks for, with the real API server's columns.

kubectl ``get`` prints whatever columns the server sends, so these printers decide what agents see. They follow
kube's ``pkg/printers/internalversion`` (pod STATUS derivation, ``RESTARTS (5m ago)``, ``<none>`` placeholders),
with ages measured on the cluster's (virtual) clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsgym.cluster.sim.clock import human_duration, parse_time
from opsgym.cluster.sim.disruption import PRINTERS as DISRUPTION_PRINTERS
from opsgym.cluster.sim.hpa_spec import hpa_cells
from opsgym.cluster.sim.policytables import PRINTERS as POLICY_PRINTERS
from opsgym.cluster.sim.storage_kinds import PRINTERS as STORAGE_PRINTERS
from opsgym.cluster.sim.workload_printers import PRINTERS as WORKLOAD_PRINTERS
from opsgym.k8s.kinds import Kind
from opsgym.k8s.selectors import selector_string

__all__ = ["pod_status_reason", "table"]

Obj = dict[str, Any]
Printer = tuple[list[tuple[str, str, int]], Callable[[Obj, float], list[Any]]]


def _age(stamp: str | None, now: float) -> str:
    when = parse_time(stamp)
    return "<unknown>" if when is None else human_duration(now - when)


def _containers(spec: Obj) -> tuple[str, str]:
    containers = spec.get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def pod_status_reason(pod: Obj) -> tuple[str, int, int, float | None]:
    """(STATUS text, ready containers, restarts, last restart time) exactly as kubectl's pod printer derives them."""
    status, spec = pod.get("status") or {}, pod.get("spec") or {}
    reason = status.get("reason") or status.get("phase") or ""
    restarts, ready, last_restart = 0, 0, None

    def note_restart(cs: Obj) -> None:
        nonlocal last_restart
        finished = parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if finished is not None and (last_restart is None or finished > last_restart):
            last_restart = finished

    initializing = False
    inits = status.get("initContainerStatuses") or []
    for i, cs in enumerate(inits):
        restarts += cs.get("restartCount", 0)
        note_restart(cs)
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + term["reason"] if term.get("reason") else f"Init:ExitCode:{term.get('exitCode')}"
        elif wait and wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in status.get("conditions") or [])
    if not initializing or initialized:
        restarts, last_restart, has_running = 0, None, False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            note_restart(cs)
            state = cs.get("state") or {}
            wait, term = state.get("waiting"), state.get("terminated")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            has_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in status.get("conditions") or [])
            reason = "Running" if has_ready else "NotReady"
    if pod["metadata"].get("deletionTimestamp") and status.get("phase") not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, restarts, last_restart


def _pod(pod: Obj, now: float) -> list[Any]:
    reason, ready, restarts, last = pod_status_reason(pod)
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    restart_text = f"{restarts} ({human_duration(now - last)} ago)" if restarts and last is not None else str(restarts)
    gates = spec.get("readinessGates") or []
    gate_text = "<none>"
    if gates:
        true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
        gate_text = f"{sum(g.get('conditionType') in true for g in gates)}/{len(gates)}"
    ips = status.get("podIPs") or []
    return [pod["metadata"]["name"], f"{ready}/{len(spec.get('containers') or [])}", reason, restart_text,
            _age(pod["metadata"].get("creationTimestamp"), now), (ips[0].get("ip") if ips else "") or "<none>",
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gate_text]


def _deployment(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _containers((spec.get("template") or {}).get("spec") or {})
    return [obj["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            _age(obj["metadata"].get("creationTimestamp"), now), names, images,
            selector_string(spec.get("selector")) or "<none>"]


def _replicaset(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _containers((spec.get("template") or {}).get("spec") or {})
    return [obj["metadata"]["name"], spec.get("replicas", 0), status.get("replicas", 0),
            status.get("readyReplicas", 0), _age(obj["metadata"].get("creationTimestamp"), now), names, images,
            selector_string(spec.get("selector")) or "<none>"]


def _service(obj: Obj, now: float) -> list[Any]:
    spec = obj.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    external = ",".join(spec.get("externalIPs") or []) or "<none>"
    if kind == "LoadBalancer":
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        found = [i.get("ip") or i.get("hostname") for i in ingress] + list(spec.get("externalIPs") or [])
        external = ",".join(x for x in found if x) or "<pending>"
    elif kind == "ExternalName":
        external = spec.get("externalName", "")
    ports = []
    for p in spec.get("ports") or []:
        proto = p.get("protocol", "TCP")
        ports.append(f"{p.get('port')}:{p['nodePort']}/{proto}" if p.get("nodePort") else f"{p.get('port')}/{proto}")
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [obj["metadata"]["name"], kind, (spec.get("clusterIPs") or [spec.get("clusterIP") or "<none>"])[0],
            external, ",".join(ports) or "<none>", _age(obj["metadata"].get("creationTimestamp"), now),
            selector or "<none>"]


def _endpointslice(obj: Obj, now: float) -> list[Any]:
    ports = ",".join(str(p.get("port")) for p in obj.get("ports") or [])
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    text = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [obj["metadata"]["name"], obj.get("addressType", ""), ports or "<unset>", text or "<unset>",
            _age(obj["metadata"].get("creationTimestamp"), now)]


def _endpoints(obj: Obj, now: float) -> list[Any]:
    pairs = []
    for subset in obj.get("subsets") or []:
        for address in subset.get("addresses") or []:
            for port in subset.get("ports") or [{}]:
                pairs.append(f"{address.get('ip')}:{port['port']}" if "port" in port else address.get("ip"))
    text = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")
    return [obj["metadata"]["name"], text or "<none>", _age(obj["metadata"].get("creationTimestamp"), now)]


def _event(obj: Obj, now: float) -> list[Any]:
    first = _age(obj.get("firstTimestamp") or obj.get("eventTime"), now)
    last = _age(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
    involved = obj.get("involvedObject") or {}
    target = involved.get("kind", "").lower() + (f"/{involved['name']}" if involved.get("name") else "")
    source = obj.get("source") or {}
    origin = ", ".join(x for x in (source.get("component"), source.get("host")) if x) or \
        obj.get("reportingComponent", "")
    return [last, obj.get("type", ""), obj.get("reason", ""), target, involved.get("fieldPath", ""), origin,
            (obj.get("message") or "").strip(), first, obj.get("count", 1), obj["metadata"]["name"]]


def _node(obj: Obj, now: float) -> list[Any]:
    status = obj.get("status") or {}
    ready: Obj = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    state = "Ready" if ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    if (obj.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (obj["metadata"].get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/"))
    info = status.get("nodeInfo") or {}
    address = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    return [obj["metadata"]["name"], state, ",".join(roles) or "<none>",
            _age(obj["metadata"].get("creationTimestamp"), now), info.get("kubeletVersion", ""),
            address.get("InternalIP", "<none>"), address.get("ExternalIP", "<none>"), info.get("osImage", ""),
            info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _ingress(obj: Obj, now: float) -> list[Any]:
    spec = obj.get("spec") or {}
    hosts = ",".join(r.get("host", "*") for r in spec.get("rules") or []) or "*"
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [obj["metadata"]["name"], spec.get("ingressClassName") or "<none>", hosts,
            ",".join(i.get("ip") or i.get("hostname", "") for i in ingress), "443" if spec.get("tls") else "80",
            _age(obj["metadata"].get("creationTimestamp"), now)]


def _simple(extra: Callable[[Obj], list[Any]]) -> Callable[[Obj, float], list[Any]]:
    return lambda obj, now: [obj["metadata"]["name"], *extra(obj), _age(obj["metadata"].get("creationTimestamp"), now)]


_S, _I = "string", "integer"
PRINTERS: dict[str, Printer] = {
    "pods": ([("Name", _S, 0), ("Ready", _S, 0), ("Status", _S, 0), ("Restarts", _S, 0), ("Age", _S, 0),
              ("IP", _S, 1), ("Node", _S, 1), ("Nominated Node", _S, 1), ("Readiness Gates", _S, 1)], _pod),
    "deployments": ([("Name", _S, 0), ("Ready", _S, 0), ("Up-to-date", _I, 0), ("Available", _I, 0),
                     ("Age", _S, 0), ("Containers", _S, 1), ("Images", _S, 1), ("Selector", _S, 1)], _deployment),
    "replicasets": ([("Name", _S, 0), ("Desired", _I, 0), ("Current", _I, 0), ("Ready", _I, 0), ("Age", _S, 0),
                     ("Containers", _S, 1), ("Images", _S, 1), ("Selector", _S, 1)], _replicaset),
    "services": ([("Name", _S, 0), ("Type", _S, 0), ("Cluster-IP", _S, 0), ("External-IP", _S, 0),
                  ("Port(s)", _S, 0), ("Age", _S, 0), ("Selector", _S, 1)], _service),
    "endpoints": ([("Name", _S, 0), ("Endpoints", _S, 0), ("Age", _S, 0)], _endpoints),
    "endpointslices": ([("Name", _S, 0), ("AddressType", _S, 0), ("Ports", _S, 0), ("Endpoints", _S, 0),
                        ("Age", _S, 0)], _endpointslice),
    "events": ([("Last Seen", _S, 0), ("Type", _S, 0), ("Reason", _S, 0), ("Object", _S, 0), ("Subobject", _S, 1),
                ("Source", _S, 1), ("Message", _S, 0), ("First Seen", _S, 1), ("Count", _I, 1), ("Name", _S, 1)],
               _event),
    "nodes": ([("Name", _S, 0), ("Status", _S, 0), ("Roles", _S, 0), ("Age", _S, 0), ("Version", _S, 0),
               ("Internal-IP", _S, 1), ("External-IP", _S, 1), ("OS-Image", _S, 1), ("Kernel-Version", _S, 1),
               ("Container-Runtime", _S, 1)], _node),
    "namespaces": ([("Name", _S, 0), ("Status", _S, 0), ("Age", _S, 0)],
                   _simple(lambda o: [(o.get("status") or {}).get("phase", "Active")])),
    "configmaps": ([("Name", _S, 0), ("Data", _I, 0), ("Age", _S, 0)],
                   _simple(lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {})])),
    "secrets": ([("Name", _S, 0), ("Type", _S, 0), ("Data", _I, 0), ("Age", _S, 0)],
                _simple(lambda o: [o.get("type", "Opaque"), len(o.get("data") or {})])),
    "serviceaccounts": ([("Name", _S, 0), ("Secrets", _I, 0), ("Age", _S, 0)],
                        _simple(lambda o: [len(o.get("secrets") or [])])),
    "ingresses": ([("Name", _S, 0), ("Class", _S, 0), ("Hosts", _S, 0), ("Address", _S, 0), ("Ports", _S, 0),
                   ("Age", _S, 0)], _ingress),
    "horizontalpodautoscalers": ([("Name", _S, 0), ("Reference", _S, 0), ("Targets", _S, 0), ("MinPods", _S, 0),
                                  ("MaxPods", _I, 0), ("Replicas", _I, 0), ("Age", _S, 0)], _simple(hpa_cells)),
    **STORAGE_PRINTERS, **DISRUPTION_PRINTERS, **POLICY_PRINTERS,
    **WORKLOAD_PRINTERS,
}


def table(rt: Kind, objects: list[Obj], now: float, revision: int, include: str = "Metadata",
          headers: bool = True) -> Obj:
    """A Table for ``objects``; ``include`` is the request's ``includeObject`` (None, Metadata or Object)."""
    columns, printer = PRINTERS.get(rt.plural, ([("Name", _S, 0), ("Age", _S, 0)], _simple(lambda o: [])))
    rows = []
    for obj in objects:
        row: Obj = {"cells": printer(obj, now)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    result: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(revision)},
                   "rows": rows}
    if headers:
        result["columnDefinitions"] = [
            {"name": name, "type": kind, "format": "name" if name == "Name" else "", "description": name,
             "priority": priority} for name, kind, priority in columns]
    return result
