"""NetworkPolicy (networking.k8s.io/v1) enforcement for the simulated pod network.

A connection from a pod (or from outside the pods: a node, the judge) to a destination pod's port is allowed when
the destination's ingress policies and the source's egress policies both let it through, as a policy-enforcing CNI
(Calico, Cilium, kindnet since kind 0.24) decides: a pod selected by no policy of a direction is not isolated in that
direction; an isolated pod accepts what any of its policies' rules allow. Peers are ``podSelector`` (the policy's
namespace), ``namespaceSelector`` (all pods of matching namespaces), both (the pods matching both) and ``ipBlock``
(CIDR minus ``except``); ports by number, by the destination's container-port name, or a range with ``endPort``.

A denied packet is dropped, not rejected, so callers see a connect *timeout* (never "connection refused"); and name
resolution is itself a connection, UDP port 53 to the kube-dns pods, so an egress policy without it breaks every
lookup. The servers are the kube-dns Service's ready endpoints, else the CoreDNS pods (``k8s-app=kube-dns`` in
kube-system, :mod:`.system`) whatever their state; a store without any models one as kind runs it (port 53/UDP).

Evaluations are cached per store version of the objects they read (policies, pods, namespaces, services, endpoints),
and a cluster without any NetworkPolicy answers every question without evaluating anything, so today's workloads pay
nothing for the feature.
"""

from __future__ import annotations

import ipaddress
import re
import weakref
from collections.abc import Callable
from typing import Any

from opsgym.cluster.sim.podenv import Objects, find_service
from opsgym.k8s.selectors import matches_selector

__all__ = ["DNS_FAILURE", "TIMEOUT", "Network", "guard", "network"]

Obj = dict[str, Any]
TIMEOUT = "timeout: timed out"
"""What a program's connect reports for a dropped SYN (``opsgym_runtime``'s real host says the same)."""
DNS_FAILURE = "unresolvable: [Errno -3] Temporary failure in name resolution"
"""What glibc's getaddrinfo reports when no DNS server answers (EAI_AGAIN)."""
KUBE_DNS = {"metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
            "spec": {"containers": [{"name": "coredns", "ports": [
                {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}]}]},
            "status": {"podIP": "10.244.0.2"}}
"""kind's CoreDNS pod as a peer, for stores that do not run one."""
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
CACHE_LIMIT = 8192
_VERSIONED = ("networkpolicies", "pods", "namespaces", "services", "endpoints")


def _types(policy: Obj) -> set[str]:
    spec = policy.get("spec") or {}
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {"Ingress", "Egress"} if "egress" in spec else {"Ingress"}


def _port_matches(rule_ports: list[Obj] | None, target: Obj | None, port: int, protocol: str) -> bool:
    if not rule_ports:
        return True
    for entry in rule_ports:
        if (entry.get("protocol") or "TCP") != protocol:
            continue
        want = entry.get("port")
        if want is None:
            return True
        if isinstance(want, str) and not want.isdigit():
            named = [p for c in ((target or {}).get("spec") or {}).get("containers") or []
                     for p in c.get("ports") or [] if p.get("name") == want]
            if any(p.get("containerPort") == port and (p.get("protocol") or "TCP") == protocol for p in named):
                return True
            continue
        low = int(want)
        if low <= port <= int(entry.get("endPort") or low):
            return True
    return False


def _in_block(block: Obj, ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
        if address not in ipaddress.ip_network(block.get("cidr", ""), strict=False):
            return False
        return not any(address in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
    except ValueError:
        return False


class Network:
    """The policies of one store version and the answers worked out from them."""

    def __init__(self, store: Objects, version: Any) -> None:
        self.store, self.version = store, version
        self.policies = store.items("networkpolicies")
        self._namespaces = {n["metadata"]["name"]: n for n in store.items("namespaces")}
        self._answers: dict[tuple[Any, ...], bool] = {}

    def _ns_labels(self, name: str) -> dict[str, str]:
        labels = dict((self._namespaces.get(name, {}).get("metadata") or {}).get("labels") or {})
        labels.setdefault("kubernetes.io/metadata.name", name)
        return labels

    def _peer(self, peer: Obj, policy_ns: str, other: Obj | None, ip: str) -> bool:
        if "ipBlock" in peer:
            return _in_block(peer["ipBlock"] or {}, ip)
        if other is None:
            return False
        meta = other["metadata"]
        if "namespaceSelector" in peer:
            if not matches_selector(peer["namespaceSelector"], self._ns_labels(meta.get("namespace", ""))):
                return False
        elif meta.get("namespace") != policy_ns:
            return False
        return "podSelector" not in peer or matches_selector(peer["podSelector"], meta.get("labels") or {})

    def _direction(self, pod: Obj, kind: str, other: Obj | None, other_ip: str, target: Obj | None, port: int,
                   protocol: str) -> bool:
        """Whether ``pod``'s policies of ``kind`` (Ingress or Egress) let the connection through."""
        meta = pod["metadata"]
        namespace, isolated, key = meta.get("namespace", ""), False, kind.lower()
        peers_key = "from" if kind == "Ingress" else "to"
        for policy in self.policies:
            if policy["metadata"].get("namespace") != namespace or kind not in _types(policy):
                continue
            if not matches_selector((policy.get("spec") or {}).get("podSelector") or {}, meta.get("labels") or {}):
                continue
            isolated = True
            for rule in (policy.get("spec") or {}).get(key) or []:
                peers = rule.get(peers_key)
                if (not peers or any(self._peer(p, namespace, other, other_ip) for p in peers)) and \
                        _port_matches(rule.get("ports"), target, port, protocol):
                    return True
        return not isolated

    def allowed(self, source: Obj | None, source_ip: str, target: Obj, port: int, protocol: str = "TCP") -> bool:
        """Whether ``source`` (a pod, or None for a client outside the pods at ``source_ip``) may open a
        connection to ``target`` (a pod) on its container port ``port``."""
        if not self.policies:
            return True
        key = (_identity(source), source_ip, _identity(target), port, protocol)
        hit = self._answers.get(key)
        if hit is None:
            if len(self._answers) >= CACHE_LIMIT:
                self._answers.clear()
            target_ip = (target.get("status") or {}).get("podIP", "")
            hit = self._direction(target, "Ingress", source, source_ip, target, port, protocol) and (
                source is None or self._direction(source, "Egress", target, target_ip, target, port, protocol))
            self._answers[key] = hit
        return hit

    def dns_allowed(self, source: Obj) -> bool:
        """Whether ``source`` can reach a cluster DNS server (UDP 53 to a kube-dns pod)."""
        if not self.policies:
            return True
        servers = self.backends(find_service(self.store, "kube-system", "kube-dns"), 53, "UDP") or \
            [(pod, 53) for pod in self.store.items("pods", "kube-system")
             if (pod["metadata"].get("labels") or {}).get("k8s-app") == "kube-dns"] or [(KUBE_DNS, 53)]
        return any(self.allowed(source, _ip(source), pod, port, "UDP") for pod, port in servers)

    def backends(self, service: Obj | None, port: int, protocol: str = "TCP") -> list[tuple[Obj, int]]:
        """(pod, container port) behind a Service port's ready endpoints (kube-proxy's DNAT targets)."""
        if service is None:
            return []
        meta, spec = service["metadata"], service.get("spec") or {}
        wanted = next((p for p in spec.get("ports") or [] if p.get("port") == port and
                       (p.get("protocol") or "TCP") == protocol), None)
        headless = spec.get("clusterIP") == "None"
        endpoints = self.store.get("endpoints", meta["namespace"], meta["name"]) or {}
        found = []
        for subset in endpoints.get("subsets") or []:
            for entry in subset.get("ports") or []:
                if wanted is not None and (entry.get("name") or "") != (wanted.get("name") or ""):
                    continue
                if wanted is None and not (headless and entry.get("port") == port):
                    continue
                for address in subset.get("addresses") or []:
                    ref = address.get("targetRef") or {}
                    pod = self.store.get("pods", ref.get("namespace") or meta["namespace"], ref.get("name", "")) \
                        if ref.get("kind") == "Pod" else None
                    found.append((pod or {"metadata": {"namespace": meta["namespace"], "labels": {}},
                                         "status": {"podIP": address.get("ip", "")}}, int(entry.get("port") or 0)))
        return found

    def pod_at(self, ip: str) -> Obj | None:
        return next((p for p in self.store.items("pods") if _ip(p) == ip), None)

    def reachable(self, source: Obj | None, host: str, port: int) -> bool:
        """Whether a TCP connect from ``source`` to ``host:port`` (a Service name or IP, or a pod IP) gets through
        the policies, as far as its destination is a pod (anything else is not governed by NetworkPolicy)."""
        if not self.policies:
            return True
        source_ip = _ip(source) if source is not None else ""
        if _IP.match(host) and (pod := self.pod_at(host)) is not None:
            return self.allowed(source, source_ip, pod, port)
        service = find_service(self.store, (source or {}).get("metadata", {}).get("namespace", "default"), host)
        targets = self.backends(service, port)
        return not targets or any(self.allowed(source, source_ip, pod, target) for pod, target in targets)


def _identity(pod: Obj | None) -> str:
    if pod is None:
        return ""
    meta = pod["metadata"]
    return meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}/{_ip(pod)}"


def _ip(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("podIP") or "")


_networks: weakref.WeakKeyDictionary[Any, Network] = weakref.WeakKeyDictionary()


def network(store: Objects) -> Network:
    """The :class:`Network` of ``store`` as it stands: one per version of a simulator store (kept while the store
    lives); stores without versions (the judge's one-moment views) get a fresh one each call."""
    versioned = getattr(store, "version", None)
    if not callable(versioned):
        return Network(store, None)
    version = versioned(*_VERSIONED)
    cached = _networks.get(store)
    if cached is None or cached.version != version:
        cached = _networks[store] = Network(weakref.proxy(store), version)
    return cached


Answer = bool | str


def guard(store: Objects, pod: Obj, resolve: Callable[[str, int], bool],
          look: Callable[[str], bool]) -> tuple[Callable[[str, int], Answer], Callable[[str], Answer]]:
    """The kubelet's ``resolve``/``lookup`` answers for ``pod``'s program with NetworkPolicy applied: a lookup the
    pod cannot send to DNS answers :data:`DNS_FAILURE`, a connect the policies drop answers :data:`TIMEOUT`
    (strings, which the simulated runtime reports as such); everything else as unguarded."""

    def guarded_look(host: str) -> Answer:
        net = network(store)
        if net.policies and not _IP.match(str(host)) and not net.dns_allowed(pod):
            return DNS_FAILURE
        return look(host)

    def guarded_resolve(host: str, port: int) -> Answer:
        found = guarded_look(host)
        if isinstance(found, str):
            return found
        if not resolve(host, port):
            return False
        return True if network(store).reachable(pod, str(host), int(port)) else TIMEOUT

    return guarded_resolve, guarded_look
