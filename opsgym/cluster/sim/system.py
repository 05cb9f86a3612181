"""kube-system as on a fresh kind 1.32 cluster, the root CA published into every namespace, and the service-account
token volume the ServiceAccount admission plugin gives every pod.

What an on-call engineer (or an agent's grep) finds on kind, and now here: the ``coredns`` Deployment (2 replicas,
``k8s-app=kube-dns``, its ``coredns`` ConfigMap with the Corefile), the ``kube-dns`` Service at 10.96.0.10 (dns 53/UDP,
dns-tcp 53/TCP, metrics 9153/TCP), the ``kube-proxy`` and ``kindnet`` DaemonSets (one pod per node, on the host
network, so their pod IP is the node's), the ``kube-proxy`` and ``extension-apiserver-authentication`` ConfigMaps, and
``kube-root-ca.crt`` in every namespace (the root-ca-cert-publisher: ``ca.crt`` and its description annotation,
rewritten if edited, recreated if deleted). The manifests are data (``kube-system.yaml``); they go through the API and
the ordinary controllers, scheduler and kubelet. Their containers are catalogued daemons (``images.yaml``): CoreDNS
answers its probes on 8080/8181. The control-plane node and its static pods (etcd, kube-apiserver, …) are not
modelled: the simulated cluster's nodes are workers, so CoreDNS runs on them (one per node with two nodes).

Nothing here may move what an existing scenario does, so the kube-system objects have identities of their own:
uids, generated-name suffixes and event names in kube-system (and the uids of the root-CA ConfigMaps) come from
kube-system's own sequence (the n-th draw from a generator seeded by the engine's seed and n) and event counter, kept
in ``engine.counters`` so snapshots carry them, never from the engine's generator or counter; their pods take
addresses from the top of their node's /24 (10.244.<node>.254 down), never from the other pods' counter. Only the
namespace's ``default`` ServiceAccount, which the namespace controller makes in every namespace as it always did,
still draws from the engine. With two nodes each node carries three system pods, so the scheduler's spreading (fewest
pods, then name) places every other pod where it went before (with more nodes, the nodes without CoreDNS come first).

DNS today: the service programs resolve Service names through the kubelet (``podenv.lookup``/``resolver``, which
read the Service objects) and ``kubectl exec`` resolves through ``execnet``; neither asks CoreDNS. NetworkPolicy
egress to DNS is judged against the CoreDNS pods (``netpol.dns_allowed``). So an agent that scales CoreDNS to zero,
breaks its Corefile or deletes ``kube-dns`` changes nothing for the programs yet. A follow-up (DNS incidents) would
make lookups go through the kube-dns Service: no ready endpoint → ``Temporary failure in name resolution`` after the
resolver's timeout, in the programs' logs, ``nslookup`` and the probes that resolve names; a Corefile CoreDNS cannot
load → CrashLoopBackOff with CoreDNS's own error line.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from opsgym.cluster.sim.kinds import BY_KIND
from opsgym.cluster.sim.store import revised

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["SYSTEM", "TOKEN_DIR", "bootstrap_system", "draw_suffix", "draw_uid", "event_identity", "mount_token",
           "pod_address", "publish_root_ca", "root_ca", "test_runner"]

Obj = dict[str, Any]
SYSTEM = "kube-system"
HERE = Path(__file__).parent
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_VOLUME = "kube-api-access"
TOKEN_EXPIRATION_S = 3607
"""What the admission plugin asks for (an hour and 7 s: the kube-apiserver extends it to a year for legacy clients)."""
ROOT_CA = "kube-root-ca.crt"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such "
               "as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""apimachinery's ``utilrand`` alphabet (the engine's generated names use it too)."""


@functools.cache
def root_ca() -> str:
    """The cluster CA (a real self-signed ``CN=kubernetes`` certificate, as kubeadm makes; fixed, so every run of a
    seed shows the same objects)."""
    return (HERE / "cluster-ca.crt").read_text(encoding="ascii")


@functools.cache
def _manifests() -> tuple[Obj, ...]:
    text = (HERE / "kube-system.yaml").read_text(encoding="utf-8")
    front_proxy = (HERE / "front-proxy-ca.crt").read_text(encoding="ascii")
    docs = yaml.safe_load(text)
    for doc in docs:
        for key, value in (doc.get("data") or {}).items():
            doc["data"][key] = {"${CA}": root_ca(), "${FRONT_PROXY_CA}": front_proxy}.get(value, value)
    return tuple(docs)


def _counters(engine: Engine) -> dict[str, Any] | None:
    """kube-system's counters (draws, events, addresses per node), kept in ``engine.counters`` so that snapshots
    save and restore them; None before :func:`bootstrap_system`."""
    state = engine.counters.get(SYSTEM)
    return state if isinstance(state, dict) else None


def _draws(engine: Engine, plural: str, meta: Obj) -> dict[str, Any] | None:
    """kube-system's counters for an object about to be created there, or None (it draws from the engine)."""
    if meta.get("namespace") != SYSTEM or (plural == "serviceaccounts" and meta.get("name") == "default"):
        return None
    return _counters(engine)


def _drawn(engine: Engine, state: dict[str, Any], draw: Callable[[], str]) -> str:
    """One of the engine's draw functions, run on the next generator of kube-system's own sequence."""
    state["draws"] += 1
    saved, engine.rng = engine.rng, random.Random(f"{SYSTEM}/{engine.seed}/{state['draws']}")
    try:
        return draw()
    finally:
        engine.rng = saved


def draw_uid(engine: Engine, plural: str, meta: Obj) -> str:
    state = _draws(engine, plural, meta)
    return engine.uid() if state is None else _drawn(engine, state, engine.uid)


def draw_suffix(engine: Engine, plural: str, meta: Obj) -> str:
    state = _draws(engine, plural, meta)
    return engine.random_suffix() if state is None else _drawn(engine, state, engine.random_suffix)


def event_identity(engine: Engine, namespace: str) -> tuple[str, str]:
    """(name suffix, uid) of a new Event in ``namespace``: kube-system's events count apart from the others."""
    state = _draws(engine, "events", {"namespace": namespace})
    if state is None:
        return engine.event_suffix(), engine.uid()
    state["events"] += 1
    return format(int(engine.clock.now * 1e9) + state["events"], "x"), _drawn(engine, state, engine.uid)


# ------------------------------------------------------------------------------------------------ bootstrap
def bootstrap_system(engine: Engine) -> None:
    """Create kind's kube-system objects; the controllers make the CoreDNS and daemon pods from them."""
    engine.counters[SYSTEM] = {"draws": 0, "events": 0, "addresses": {}}
    for doc in _manifests():
        engine.api.create(BY_KIND[(doc["apiVersion"], doc["kind"])], SYSTEM, copy.deepcopy(doc))


def publish_root_ca(engine: Engine, namespace: str) -> None:
    """The root-ca-cert-publisher for one live namespace: ``kube-root-ca.crt`` holds exactly ``ca.crt`` and carries
    the description annotation; a missing one is created, an edited one rewritten."""
    current = engine.store.get("configmaps", namespace, ROOT_CA)
    data = {"ca.crt": root_ca()}
    if current is not None and current.get("data") == data and \
            (current["metadata"].get("annotations") or {}).get("kubernetes.io/description"):
        return
    if current is None:
        state = _counters(engine)
        uid = engine.uid() if state is None else _drawn(engine, state, engine.uid)
        engine.store.put("configmaps", {
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": ROOT_CA, "namespace": namespace, "uid": uid, "creationTimestamp": engine.stamp(),
                         "annotations": {"kubernetes.io/description": DESCRIPTION}},
            "data": data})
        return
    fresh = revised(current, data=data)
    fresh["metadata"]["annotations"] = {**(current["metadata"].get("annotations") or {}),
                                        "kubernetes.io/description": DESCRIPTION}
    engine.store.put("configmaps", fresh)


# ------------------------------------------------------------------------------------------------ pods
def _automount(engine: Engine, pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    account = engine.store.get("serviceaccounts", pod["metadata"].get("namespace", ""),
                               spec.get("serviceAccountName") or "default")
    return (account or {}).get("automountServiceAccountToken") is not False


def mount_token(engine: Engine, plural: str, pod: Obj) -> None:
    """The ServiceAccount admission plugin's token volume on a new pod (after its uid is set).

    Every init and app container without a mount at :data:`TOKEN_DIR` mounts ``kube-api-access-<5>`` read-only; the
    volume (a projected bound token, ``kube-root-ca.crt``'s ``ca.crt`` and the namespace) is added unless the pod
    has one already. Skipped when the pod or its ServiceAccount turns automounting off, and for mirror pods. The
    suffix comes from the pod's uid (same alphabet as the plugin's random one), so no generator moves.
    """
    if plural != "pods":
        return
    meta, spec = pod["metadata"], pod.get("spec") or {}
    if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}) or not _automount(engine, pod):
        return
    volumes = spec.get("volumes") or []
    existing = next((v.get("name") for v in volumes if str(v.get("name", "")).startswith(TOKEN_VOLUME + "-")), None)
    digest = hashlib.sha256(str(meta.get("uid", "")).encode()).digest()
    name = existing or f"{TOKEN_VOLUME}-" + "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:5])
    needed = False
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            mounts = container.get("volumeMounts") or []
            if any(m.get("mountPath") == TOKEN_DIR for m in mounts):
                continue
            container["volumeMounts"] = [*mounts, {"name": name, "readOnly": True, "mountPath": TOKEN_DIR}]
            needed = True
    if needed and existing is None:
        spec["volumes"] = [*volumes, {"name": name, "projected": {"sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_S, "path": "token"}},
            {"configMap": {"name": ROOT_CA, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                           "fieldPath": "metadata.namespace"}}]}}],
            "defaultMode": 420}}]


def test_runner(pod: Obj, runner: Any) -> Any:
    """The runner a test gave the kubelet, except for kube-system's pods: the cluster's own add-ons always run on the
    default runtime (catalogued daemons), so a fake runtime meant for the workload under test never plays them."""
    return None if pod["metadata"].get("namespace") == SYSTEM else runner


def pod_address(engine: Engine, pod: Obj, node_index: int, host_ip: str) -> str:
    """The IP the kubelet gives a new pod: the node's own on the host network; a kube-system pod's from the top of
    the node's /24; any other pod's from the engine's counter (10.244.<node>.2 up), exactly as before."""
    if (pod.get("spec") or {}).get("hostNetwork"):
        return host_ip
    state = _draws(engine, "pods", pod["metadata"])
    if state is None:
        return engine.pod_ip(node_index)
    addresses = state["addresses"]
    used = addresses[str(node_index)] = addresses.get(str(node_index), 0) + 1
    return f"10.244.{node_index}.{255 - used}"
