"""The shop's end-to-end request, judged on the cluster's end state: does a request through the storefront reach
every service and come back answered?

The programs answer requests through routes of the runtime API and call their dependencies by the addresses in
their environment, so the flow is decided by the programs themselves: a setting the program rejects, an address
that reaches another Service (which answers 404 or under another name) or a swapped command all break it, with no
second list of valid values kept beside the task. The flow is worked out from what the Kubernetes API shows (the
pods behind each Service's ready endpoints, their env, mounts and commands, resolved as a kubelet would) by running
each program in the simulated runtime, so it judges every backend the same way. On backends whose containers really
run, :func:`real_request` also sends the request to the real storefront through the API server's service proxy.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsgym.cluster.base import ApiReader
from opsgym.cluster.sim.netpol import guard, network
from opsgym.cluster.sim.podenv import (
    ConfigError,
    command_line,
    find_service,
    lookup,
    mounted_files,
    resolve_env,
    resolver,
)
from opsgym.errors import ClusterApiError
from opsgym.k8s.quantity import memory_mib
from opsgym.runtime.sim import ContainerRun, listens, run_container

__all__ = ["ApiStore", "FlowResult", "Hop", "answered_by", "real_request", "request_flow", "start_template"]

MAX_HOPS = 16
"""Calls deeper than this are a request loop (an address pointed back up the chain), answered 508."""
START_TIME = 1_735_689_600.0
"""Log timestamps of the judge's program runs (nobody reads them; fixed so a check is deterministic)."""
CORE = "/api/v1"


class ApiStore:
    """The read half of the simulator's store, answered from the Kubernetes API (so the kubelet's own resolution
    of env, mounts and cluster DNS in :mod:`opsgym.cluster.sim.podenv` works on any backend). Reads are cached:
    one store is one moment of the cluster."""

    def __init__(self, reader: ApiReader) -> None:
        self.reader = reader
        self._lists: dict[tuple[str, str | None], list[dict[str, Any]]] = {}

    def items(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        if (plural, namespace) not in self._lists:
            group = "/apis/networking.k8s.io/v1" if plural == "networkpolicies" else CORE
            path = f"{group}/namespaces/{namespace}/{plural}" if namespace else f"{group}/{plural}"
            self._lists[plural, namespace] = list((self.reader.get(path) or {}).get("items") or [])
        return self._lists[plural, namespace]

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return next((o for o in self.items(plural, namespace) if o["metadata"].get("name") == name), None)


@dataclass(frozen=True)
class Hop:
    """One request on the way: who sent it (the Service its sender was reached through; None for the judge), which
    Service it reached (or the host, when no Service has that name), the status (0: nothing answered) and body."""

    caller: str | None
    reached: str
    status: int
    body: str

    @property
    def answered_as(self) -> str | None:
        """The ``service`` the answer names (programs name themselves in errors too)."""
        try:
            answer = json.loads(self.body)
        except ValueError:
            return None
        return answer.get("service") if isinstance(answer, dict) else None


@dataclass
class FlowResult:
    """The storefront's answer to the synthetic request."""

    status: int
    body: str
    services: set[str] = field(default_factory=set)
    """Every service that answered on the way (read from the nested answers)."""
    hops: list[Hop] = field(default_factory=list)
    """Every request the flow made on the way, innermost first."""


def answered_by(body: str) -> set[str]:
    """The ``service`` names in a JSON answer and every answer nested in its ``calls``."""
    try:
        answer = json.loads(body)
    except ValueError:
        return set()
    found: set[str] = set()
    pending = [answer]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("service"), str):
                found.add(node["service"])
            pending += list((node.get("calls") or {}).values()) if isinstance(node.get("calls"), dict) else []
    return found


def _run(store: ApiStore, pod: dict[str, Any], container: dict[str, Any],
         request: Callable[[str, int, str], tuple[int, str]]) -> ContainerRun | str:
    """Start ``container`` of ``pod`` in the simulated runtime with what a kubelet would give it now."""
    namespace = pod["metadata"]["namespace"]
    try:
        env = resolve_env(store, pod, container, (pod.get("status") or {}).get("podIP", ""))
    except ConfigError as exc:
        return f"cannot start {container.get('name')}: {exc}"
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    resolve, look = guard(store, pod, resolver(store, namespace), lookup(store, namespace))
    return run_container(command=command_line(container, env), env=env,
                         files=mounted_files(store, pod, container),
                         memory_limit_mb=memory_mib(limit) if limit is not None else None,
                         resolve=resolve, lookup=look,
                         now=START_TIME, seed=zlib.crc32(pod["metadata"]["name"].encode()), request=request)


def start_template(store: ApiStore, namespace: str, deployment: dict[str, Any]) -> ContainerRun | str:
    """Start the Deployment's first container from its pod template as it stands (a pod it would create now)."""
    template = (deployment.get("spec") or {}).get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    if not containers:
        return "the pod template has no containers"
    pod = {"metadata": {**(template.get("metadata") or {}), "namespace": namespace,
                        "name": f"{deployment['metadata']['name']}-judge"}, "spec": template.get("spec") or {}}
    return _run(store, pod, containers[0], lambda host, port, path: (0, "not asked"))


class _Network:
    """Requests between the app's programs, routed the way cluster DNS and Endpoints route them."""

    def __init__(self, store: ApiStore) -> None:
        self.store = store
        self.started: dict[str, ContainerRun | str] = {}
        self.pods: dict[str, dict[str, Any]] = {}
        """Service name → the pod that answered for it (the source of that service's own calls)."""
        self.depth = 0
        self.hops: list[Hop] = []

    def request(self, namespace: str, caller: str | None) -> Callable[[str, int, str], tuple[int, str]]:
        return lambda host, port, path: self.send(namespace, host, port, path, caller)

    def send(self, namespace: str, host: str, port: int, path: str, caller: str | None = None) -> tuple[int, str]:
        service = find_service(self.store, namespace, host)
        reached = service["metadata"]["name"] if service else host
        status, body = self._deliver(namespace, service, host, port, path, self.pods.get(caller or ""))
        self.hops.append(Hop(caller, reached, status, body))
        return status, body

    def _deliver(self, namespace: str, service: dict[str, Any] | None, host: str, port: int,
                 path: str, source: dict[str, Any] | None) -> tuple[int, str]:
        if service is None:
            return 0, f"{host}: Name or service not known"
        if not resolver(self.store, namespace)(host, port):
            return 0, f"{host}:{port}: Connection refused (no ready endpoint on that port)"
        if source is not None and not network(self.store).reachable(source, host, port):
            return 0, f"{host}:{port}: timed out (dropped by a NetworkPolicy)"
        target = self._backend(service, port)
        if isinstance(target, str):
            return 503, target
        forwarded = self._endpoint_port(service, port)
        if forwarded is not None and not listens(target, forwarded):
            return 0, f"{host}:{port}: Connection refused (nothing listens on the endpoint's port)"
        if self.depth >= MAX_HOPS:
            return 508, "request loop: too many hops"
        self.depth += 1
        try:
            return target.answer(path) if target.answer else (503, "not serving")
        finally:
            self.depth -= 1

    def _endpoint_port(self, service: dict[str, Any], port: int) -> int | None:
        """The pod port the Service's ``port`` forwards to (the Endpoints entry of the same name)."""
        wanted: dict[str, Any] = next((p for p in (service.get("spec") or {}).get("ports") or []
                                       if p.get("port") == port), {})
        endpoints = self.store.get("endpoints", service["metadata"]["namespace"], service["metadata"]["name"]) or {}
        return next((int(e["port"]) for s in endpoints.get("subsets") or [] if s.get("addresses")
                     for e in s.get("ports") or [] if (e.get("name") or "") == (wanted.get("name") or "")
                     and e.get("port")), None)

    def _backend(self, service: dict[str, Any], port: int) -> ContainerRun | str:
        """The program behind the Service's first ready endpoint for ``port`` (started once per pod)."""
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        wanted: dict[str, Any] = next((p for p in (service.get("spec") or {}).get("ports") or []
                                       if p.get("port") == port), {})
        endpoints = self.store.get("endpoints", namespace, name) or {}
        address = next((a for s in endpoints.get("subsets") or [] for a in s.get("addresses") or []
                        if (a.get("targetRef") or {}).get("kind") == "Pod"), None)
        pod = self.store.get("pods", namespace, address["targetRef"]["name"]) if address else None
        if pod is None:
            return f"no pod behind {name}"
        self.pods[name] = pod
        uid = pod["metadata"].get("uid") or pod["metadata"]["name"]
        if uid not in self.started:
            target = wanted.get("targetPort", port)
            containers = (pod.get("spec") or {}).get("containers") or []
            container = next((c for c in containers for p in c.get("ports") or []
                              if target in (p.get("name"), p.get("containerPort"))), containers[0] if containers
                             else {})
            run = _run(self.store, pod, container, self.request(namespace, name))
            if not isinstance(run, str) and run.answer is None:
                last = run.logs[-1] if run.logs else f"exit code {run.exit_code}"
                run = f"{pod['metadata']['name']} does not serve: {last}"
            self.started[uid] = run
        return self.started[uid]


def request_flow(store: ApiStore, namespace: str, service: str, port: int, path: str) -> FlowResult:
    """Send ``GET path`` to ``service:port`` from inside ``namespace`` and follow it through every program."""
    network = _Network(store)
    status, body = network.send(namespace, service, port, path)
    return FlowResult(status, body, answered_by(body) if status == 200 else set(), network.hops)


def real_request(reader: ApiReader, namespace: str, service: str, port: int, path: str) -> FlowResult:
    """The same request sent to the real storefront, through the API server's proxy to the Service."""
    try:
        answer = reader.get(f"{CORE}/namespaces/{namespace}/services/{service}:{port}/proxy{path}")
    except ClusterApiError as exc:
        return FlowResult(exc.status or 0, str(exc))
    if answer is None:
        return FlowResult(404, f"{service}:{port}{path} not found")
    body = json.dumps(answer)
    return FlowResult(200, body, answered_by(body))
