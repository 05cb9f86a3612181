"""The pod network as a simulated container's tools see it: cluster DNS (with the pod's search path) and HTTP to
Service names, cluster IPs and pod IPs, answered by the service programs, with NetworkPolicy applied on every hop.

DNS answers as CoreDNS does for ``cluster.local``: ``SVC.NS.svc`` gives the cluster IP (a headless Service its ready
endpoints' IPs), ``A-B-C-D.NS.pod`` the pod IP, ``HOST.SUBDOMAIN.NS.svc`` a pod with that hostname; names are tried
with the search path first while they have fewer than five dots (``ndots:5``). Nothing outside the cluster resolves
(the simulated cluster has no upstream resolver).

A connection goes where kube-proxy would send it: a cluster IP port to a ready endpoint of the Service (none: the
connection is *refused*, as kube-proxy's reject rule does), a pod IP to that pod. A NetworkPolicy that drops it makes
it *time out*; an address nobody has also times out. The serving program is started from the inputs its container
was started with and asked the request; its own calls to dependencies go out from its pod through the same network.
"""

from __future__ import annotations

import http
import http.server as http_server
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.netpol import Network, guard, network
from opsgym.cluster.sim.podenv import lookup, resolver
from opsgym.cluster.sim.probes import opens_at
from opsgym.runtime.sim import listens, run_container

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["Connection", "PodNet"]

Obj = dict[str, Any]
DOMAIN = "cluster.local"
MAX_DEPTH = 16
PROBES = {"/healthz": "live", "/livez": "live", "/ready": "ready", "/readyz": "ready"}
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


@dataclass
class Connection:
    """Where a TCP connect ended: ``ok`` (with the serving instance), ``refused`` or ``timeout``."""

    outcome: str
    pod: Obj | None = None
    instance: Any = None


class PodNet:
    """The network from one pod's point of view."""

    def __init__(self, engine: Engine, pod: Obj, depth: int = 0) -> None:
        self.engine, self.pod, self.depth = engine, pod, depth
        self.namespace = pod["metadata"]["namespace"]
        record = engine.kubelet.state.get(pod["metadata"].get("uid", ""))
        self.ip = record.ip if record is not None else str((pod.get("status") or {}).get("podIP") or "")

    @property
    def net(self) -> Network:
        return network(self.engine.store)

    # ------------------------------------------------------------------------------------------------ DNS
    def dns_reachable(self) -> bool:
        return self.net.dns_allowed(self.pod)

    def candidates(self, name: str) -> list[str]:
        """The names a resolver with this pod's resolv.conf asks, in order."""
        name = name.lower()
        if name.endswith("."):
            return [name.rstrip(".")]
        search = [f"{self.namespace}.svc.{DOMAIN}", f"svc.{DOMAIN}", DOMAIN]
        expanded = [f"{name}.{domain}" for domain in search]
        return [*expanded, name] if name.count(".") < 5 else [name, *expanded]

    def answer(self, fqdn: str) -> list[str]:
        """The A records of one fully qualified name (empty: NXDOMAIN)."""
        if not fqdn.endswith("." + DOMAIN):
            return []
        labels = fqdn[: -len(DOMAIN) - 1].split(".")
        store = self.engine.store
        if len(labels) == 3 and labels[2] == "pod" and re.fullmatch(r"\d+-\d+-\d+-\d+", labels[0]):
            return [labels[0].replace("-", ".")]
        if len(labels) == 3 and labels[2] == "svc":
            service = store.get("services", labels[1], labels[0])
            if service is None:
                return []
            spec = service.get("spec") or {}
            if spec.get("type") == "ExternalName":
                target = str(spec.get("externalName", "")).rstrip(".")
                return self.answer(target) if target.endswith(DOMAIN) and target != fqdn else []
            if spec.get("clusterIP") and spec.get("clusterIP") != "None":
                return [spec["clusterIP"]]
            endpoints = store.get("endpoints", labels[1], labels[0]) or {}
            return [a["ip"] for s in endpoints.get("subsets") or [] for a in s.get("addresses") or [] if a.get("ip")]
        if len(labels) == 4 and labels[3] == "svc":
            return [str((p.get("status") or {}).get("podIP")) for p in store.items("pods", labels[2])
                    if (p.get("spec") or {}).get("hostname") == labels[0]
                    and (p.get("spec") or {}).get("subdomain") == labels[1] and (p.get("status") or {}).get("podIP")]
        return []

    def resolve(self, name: str) -> tuple[str, list[str]] | None:
        """(the name that answered, its addresses), None for NXDOMAIN on every candidate."""
        if _IP.match(name):
            return name, [name]
        if name.lower() in ("localhost", "localhost.localdomain"):
            return "localhost", ["127.0.0.1"]
        for candidate in self.candidates(name):
            found = self.answer(candidate)
            if found:
                return candidate, found
        return None

    # ------------------------------------------------------------------------------------------------ TCP
    def _serving(self, pod: Obj, port: int) -> Any:
        """The running instance of ``pod`` that listens on ``port`` (None: nothing listens there)."""
        record = self.engine.kubelet.state.get(pod["metadata"].get("uid", ""))
        for crec in (record.containers.values() if record is not None else ()):
            inst = crec.current
            if inst is not None and inst.finished is None and listens(inst.run, port) and \
                    self.engine.clock.now >= opens_at(inst.run, inst.started):
                return inst
        return None

    def connect(self, ip: str, port: int) -> Connection:
        store = self.engine.store
        if ip in ("127.0.0.1", self.ip):
            inst = self._serving(self.pod, port)
            return Connection("ok", self.pod, inst) if inst is not None else Connection("refused")
        service = next((s for s in store.items("services") if (s.get("spec") or {}).get("clusterIP") == ip), None)
        if service is not None:
            backends = self.net.backends(service, port)
            if not backends:
                return Connection("refused")
            allowed = [(p, t) for p, t in backends if self.net.allowed(self.pod, self.ip, p, t)]
            if not allowed:
                return Connection("timeout")
            pod, target = allowed[0]
        else:
            found = self.net.pod_at(ip)
            if found is None or not self.net.allowed(self.pod, self.ip, found, port):
                return Connection("timeout")
            pod, target = found, port
        inst = self._serving(pod, target)
        return Connection("ok", pod, inst) if inst is not None else Connection("refused")

    # ------------------------------------------------------------------------------------------------ HTTP
    def get(self, conn: Connection, path: str) -> tuple[int, str, str]:
        """(status, content type, body) of ``GET path`` on an open connection, as ``opsgym_runtime`` serves it."""
        path = path.partition("?")[0] or "/"
        inst, pod = conn.instance, conn.pod
        if pod is None or inst is None:
            return 503, "text/plain", ""
        if getattr(inst.run, "answer", None) is not None:  # a generic server (nginx...) answers from its image
            status, body = inst.run.answer(path)
            return status, "text/html" if body.lstrip().startswith("<") else "text/plain", body
        if path in PROBES:
            ok = bool(getattr(inst.run, PROBES[path], False))
            body = "alive" if PROBES[path] == "live" else "ready"
            return (200, "text/plain", body) if ok else (503, "text/plain", "not " + body)
        if self.depth >= MAX_DEPTH:
            return 508, "text/plain", "request loop: too many hops"
        inputs = inst.inputs
        ns = pod["metadata"]["namespace"]
        peer = PodNet(self.engine, pod, self.depth + 1)
        resolve, look = guard(self.engine.store, pod, resolver(self.engine.store, ns), lookup(self.engine.store, ns))
        run = run_container(command=list(inputs["command"]), env=dict(inputs["env"]), files=dict(inputs["files"]),
                            memory_limit_mb=inputs["memory_limit_mb"], resolve=resolve, lookup=look, now=inst.started,
                            seed=inputs["seed"], request=peer.program_request)
        if run.answer is None:
            return 503, "text/plain", ""
        status, body = run.answer(path)
        if status == 404 and body.startswith("no route "):
            return 404, "text/html;charset=utf-8", error_page(404)
        return status, "application/json" if status == 200 else "text/plain", body

    def program_request(self, host: str, port: int, path: str) -> tuple[int, str]:
        """A program's ``call`` from this pod, failing as Python's socket layer reports it."""
        if not _IP.match(host) and not self.dns_reachable():
            return 0, "gaierror: [Errno -3] Temporary failure in name resolution"
        found = self.resolve(host)
        if found is None:
            return 0, "gaierror: [Errno -2] Name or service not known"
        conn = self.connect(found[1][0], int(port))
        if conn.outcome == "refused":
            return 0, "ConnectionRefusedError: [Errno 111] Connection refused"
        if conn.outcome == "timeout":
            return 0, "TimeoutError: timed out"
        status, _, body = self.get(conn, path)
        return status, body


def error_page(code: int) -> str:
    """The HTML error page Python's ``http.server`` sends (the programs serve with it on a real cluster)."""
    status = http.HTTPStatus(code)
    return http_server.BaseHTTPRequestHandler.error_message_format % {"code": code, "message": status.phrase,
                                                 "explain": status.description}
