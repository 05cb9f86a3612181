"""kube-system as on kind (CoreDNS, kube-dns, kube-proxy, kindnet), kube-root-ca.crt in every namespace and the
service-account token volume, through the real kubectl; and proof that none of it moves the shop's pods."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from execkit import NS, lab_kubectl, pod_named, run
from simkit import Kubectl, rows

import opsgym.cluster.sim.api as api_module
import opsgym.cluster.sim.controllers as controllers_module
import opsgym.cluster.sim.engine as engine_module
from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import BY_KIND
from opsgym.sre.render import plan
from opsgym.tasks import envs_root, load_task

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(seed=4) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return lab_kubectl(cluster, tmp_path_factory.mktemp("kube-cache"))


def test_kube_system_runs_coredns_twice_and_a_proxy_and_kindnet_per_node(kubectl):
    table = rows(kubectl("get", "pods", "-n", "kube-system", "-o", "wide"))
    header, pods = table[0], table[1:]
    node = header.index("NODE")
    by_app: dict[str, list[list[str]]] = {}
    for row in pods:
        by_app.setdefault(row[0].rsplit("-", 2 if row[0].startswith("coredns-") else 1)[0], []).append(row)
    assert sorted(by_app) == ["coredns", "kindnet", "kube-proxy"]
    assert sorted(r[node] for r in by_app["coredns"]) == ["node-1", "node-2"]
    for daemon in ("kube-proxy", "kindnet"):
        assert sorted(r[node] for r in by_app[daemon]) == ["node-1", "node-2"]
        assert {r[header.index("IP")] for r in by_app[daemon]} == {"172.18.0.2", "172.18.0.3"}  # host network
    assert all(r[1] == "1/1" and r[2] == "Running" for r in pods), pods
    deploy = json.loads(kubectl("get", "deployment", "coredns", "-n", "kube-system", "-o", "json"))
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.k8s.io/coredns/coredns:v1.11.3"
    assert deploy["spec"]["template"]["metadata"]["labels"] == {"k8s-app": "kube-dns"}
    assert deploy["status"]["readyReplicas"] == 2
    assert "kubernetes cluster.local in-addr.arpa ip6.arpa" in kubectl(
        "get", "configmap", "coredns", "-n", "kube-system", "-o", "jsonpath={.data.Corefile}")
    proxy = json.loads(kubectl("get", "daemonset", "kube-proxy", "-n", "kube-system", "-o", "json"))
    assert proxy["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.k8s.io/kube-proxy:v1.32.0"
    assert proxy["status"]["numberReady"] == 2
    assert "mode: iptables" in kubectl("get", "cm", "kube-proxy", "-n", "kube-system",
                                       "-o", "jsonpath={.data.config\\.conf}")
    assert kubectl("get", "cm", "extension-apiserver-authentication", "-n", "kube-system",
                   "-o", "jsonpath={.data.requestheader-username-headers}") == '["X-Remote-User"]'


def test_kube_dns_service_and_its_endpoints(kubectl):
    svc = json.loads(kubectl("get", "svc", "kube-dns", "-n", "kube-system", "-o", "json"))
    assert svc["spec"]["clusterIP"] == "10.96.0.10" and svc["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    assert rows(kubectl("get", "svc", "kube-dns", "-n", "kube-system"))[1][4] == "53/UDP,53/TCP,9153/TCP"
    ips = kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o",
                  "jsonpath={.items[*].status.podIP}").split()
    endpoints = json.loads(kubectl("get", "endpoints", "kube-dns", "-n", "kube-system", "-o", "json"))
    assert sorted(a["ip"] for a in endpoints["subsets"][0]["addresses"]) == sorted(ips)
    assert sorted(ips) == ["10.244.1.254", "10.244.2.254"]


def test_every_namespace_gets_kube_root_ca_crt_and_the_publisher_keeps_it(kubectl, cluster):
    kubectl("create", "namespace", "fresh")
    cluster.advance(1)
    ca = kubectl("get", "cm", "kube-root-ca.crt", "-n", "fresh", "-o", "jsonpath={.data.ca\\.crt}")
    assert ca.startswith("-----BEGIN CERTIFICATE-----") and ca.rstrip().endswith("-----END CERTIFICATE-----")
    assert ca == kubectl("get", "cm", "kube-root-ca.crt", "-n", "kube-system", "-o", "jsonpath={.data.ca\\.crt}")
    assert "kube-apiserver" in kubectl("get", "cm", "kube-root-ca.crt", "-n", "fresh", "-o",
                                       "jsonpath={.metadata.annotations.kubernetes\\.io/description}")
    kubectl("patch", "cm", "kube-root-ca.crt", "-n", "fresh", "--type=merge", "-p", '{"data":{"ca.crt":"x"}}')
    cluster.advance(1)
    assert kubectl("get", "cm", "kube-root-ca.crt", "-n", "fresh", "-o", "jsonpath={.data.ca\\.crt}") == ca
    kubectl("delete", "cm", "kube-root-ca.crt", "-n", "fresh")
    cluster.advance(1)
    assert kubectl("get", "cm", "kube-root-ca.crt", "-n", "fresh", "-o", "jsonpath={.data.ca\\.crt}") == ca


def test_describe_shows_the_token_volume_and_exec_reads_it(kubectl):
    front = pod_named(kubectl, "front")
    described = kubectl("describe", "pod", front, "-n", NS)
    volume = next(line.split()[0].rstrip(":") for line in described.splitlines()
                  if line.strip().startswith("kube-api-access-"))
    assert len(volume) == len("kube-api-access-") + 5
    assert f"{TOKEN_DIR} from {volume} (ro)" in described
    assert "Projected (a volume that contains injected data from multiple sources)" in described
    assert "TokenExpirationSeconds:  3607" in described and "ConfigMapName:           kube-root-ca.crt" in described
    assert run(kubectl, "exec", front, "--", "cat", f"{TOKEN_DIR}/namespace").stdout == NS
    assert run(kubectl, "exec", front, "--", "ls", TOKEN_DIR).stdout == "ca.crt\nnamespace\ntoken\n"
    assert run(kubectl, "exec", front, "--", "cat", f"{TOKEN_DIR}/ca.crt").stdout == kubectl(
        "get", "cm", "kube-root-ca.crt", "-n", NS, "-o", "jsonpath={.data.ca\\.crt}")
    assert run(kubectl, "exec", front, "--", "cat", f"{TOKEN_DIR}/token").stdout.count(".") == 2


def test_no_token_volume_when_automounting_is_off(kubectl):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "quiet", "namespace": NS},
           "spec": {"automountServiceAccountToken": False,
                    "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}
    kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    spec = json.loads(kubectl("get", "pod", "quiet", "-n", NS, "-o", "json"))["spec"]
    assert "volumes" not in spec and "volumeMounts" not in spec["containers"][0]


# ------------------------------------------------------------------------------------------------ compatibility
def _shop(monkeypatch: pytest.MonkeyPatch, system: bool) -> dict[str, Any]:
    """SRE-1 seed 0 loaded as SimCluster.load does, settled for ten virtual minutes; with the kube-system objects,
    the root-CA publisher and the token volume switched off when ``system`` is False (the cluster before them)."""
    with monkeypatch.context() as patch:
        if not system:
            patch.setattr(engine_module, "bootstrap_system", lambda engine: None)
            patch.setattr(controllers_module, "publish_root_ca", lambda engine, namespace: None)
            patch.setattr(api_module, "mount_token", lambda engine, plural, pod: None)
        engine = Engine(seed=0)
        task = load_task(envs_root() / "sre-1-bad-configmap-value")
        objects = sorted(plan(task, 0).objects(), key=lambda o: o["kind"] != "Namespace")
        with engine.lock:
            for obj in objects:
                rt = BY_KIND[(obj["apiVersion"], obj["kind"])]
                engine.api.create(rt, obj["metadata"].get("namespace", "default") if rt.namespaced else "", obj)
            engine.reconcile()
            engine.advance(600)
        namespace = next(o["metadata"]["name"] for o in objects if o["kind"] == "Namespace")
        return {
            "pods": sorted((p["metadata"]["name"], p["metadata"]["uid"], p["spec"].get("nodeName"),
                            (p.get("status") or {}).get("podIP"), (p.get("status") or {}).get("phase"))
                           for p in engine.store.items("pods", namespace)),
            "events": sorted(e["metadata"]["name"] for e in engine.store.items("events", namespace)),
            "services": sorted((s["metadata"]["name"], s["spec"].get("clusterIP"))
                               for s in engine.store.items("services", namespace)),
        }


def test_the_shop_lands_where_it_did_before_kube_system_existed(monkeypatch):
    before, after = _shop(monkeypatch, system=False), _shop(monkeypatch, system=True)
    assert before["pods"] and before["events"]
    assert after == before
