"""NetworkPolicy enforcement: the evaluation rules (selectors, ports, ipBlock, policy types) on a small store, and
with the real kubectl: a denied connection times out in the caller's logs and in exec's tools, an allow rule
restores it, and an egress policy without DNS breaks name resolution."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from execkit import NS, lab_kubectl, pod_named, run
from simkit import Kubectl

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.netpol import DNS_FAILURE, TIMEOUT, Network, guard
from opsgym.sre.flow import ApiStore, request_flow

Obj = dict[str, Any]


class Objects:
    """A store of plain objects (the ``podenv.Objects`` protocol)."""

    def __init__(self, *objects: Obj) -> None:
        self.objects = objects

    def items(self, plural: str, namespace: str | None = None) -> list[Obj]:
        return [o for o in self.objects
                if o["plural"] == plural and namespace in (None, o["metadata"].get("namespace"))]

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        return next((o for o in self.items(plural, namespace) if o["metadata"]["name"] == name), None)


def pod(name: str, namespace: str, ip: str, **labels: str) -> Obj:
    return {"plural": "pods", "metadata": {"name": name, "namespace": namespace, "uid": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080},
                                                            {"name": "admin", "containerPort": 9000}]}]},
            "status": {"podIP": ip}}


def namespace(name: str, **labels: str) -> Obj:
    return {"plural": "namespaces", "metadata": {"name": name, "labels": labels}}


def policy(name: str, namespace: str, selector: Obj, **spec: Any) -> Obj:
    return {"plural": "networkpolicies", "metadata": {"name": name, "namespace": namespace},
            "spec": {"podSelector": selector, **spec}}


SERVER = pod("server", "shop", "10.244.1.2", app="server")
FRONT = pod("front", "shop", "10.244.1.3", app="front")
OTHER = pod("other", "shop", "10.244.1.4", app="other")
TEAM_FRONT = pod("team-front", "team", "10.244.2.2", app="front")
SPACES = (namespace("shop"), namespace("team", team="a"))


def net(*policies: Obj) -> Network:
    return Network(Objects(SERVER, FRONT, OTHER, TEAM_FRONT, *SPACES, *policies), None)


def test_no_policy_allows_everything_and_default_deny_isolates_only_selected_pods():
    assert net().allowed(FRONT, "10.244.1.3", SERVER, 8080)
    deny = net(policy("deny", "shop", {"matchLabels": {"app": "server"}}, policyTypes=["Ingress"]))
    assert not deny.allowed(FRONT, "10.244.1.3", SERVER, 8080)
    assert not deny.allowed(None, "172.18.0.2", SERVER, 8080)
    assert deny.allowed(SERVER, "10.244.1.2", FRONT, 8080)
    assert deny.allowed(FRONT, "10.244.1.3", SERVER, 8080) is False


def test_pod_selector_and_named_ports():
    allow = net(policy("allow", "shop", {"matchLabels": {"app": "server"}}, ingress=[
        {"from": [{"podSelector": {"matchLabels": {"app": "front"}}}], "ports": [{"port": "http"}]}]))
    assert allow.allowed(FRONT, "10.244.1.3", SERVER, 8080)
    assert not allow.allowed(FRONT, "10.244.1.3", SERVER, 9000)
    assert not allow.allowed(OTHER, "10.244.1.4", SERVER, 8080)
    assert not allow.allowed(TEAM_FRONT, "10.244.2.2", SERVER, 8080), "a podSelector peer is the policy's namespace"


def test_namespace_selector_alone_and_combined_with_a_pod_selector():
    combined = net(policy("p", "shop", {}, ingress=[{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "a"}}, "podSelector": {"matchLabels": {"app": "other"}}}]}]))
    assert not combined.allowed(TEAM_FRONT, "10.244.2.2", SERVER, 8080)
    either = net(policy("p", "shop", {}, ingress=[{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "a"}}}, {"podSelector": {"matchLabels": {"app": "other"}}}]}]))
    assert either.allowed(TEAM_FRONT, "10.244.2.2", SERVER, 8080) and either.allowed(OTHER, "10.244.1.4", SERVER, 1)
    assert not either.allowed(FRONT, "10.244.1.3", SERVER, 8080)
    by_name = net(policy("p", "shop", {}, ingress=[{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team"}}}]}]))
    assert by_name.allowed(TEAM_FRONT, "10.244.2.2", SERVER, 8080)


def test_ip_blocks_with_except_and_port_ranges():
    blocks = net(policy("p", "shop", {}, ingress=[{
        "from": [{"ipBlock": {"cidr": "172.18.0.0/16", "except": ["172.18.0.3/32"]}}],
        "ports": [{"port": 8000, "endPort": 8100, "protocol": "TCP"}]}]))
    assert blocks.allowed(None, "172.18.0.2", SERVER, 8080)
    assert not blocks.allowed(None, "172.18.0.3", SERVER, 8080)
    assert not blocks.allowed(None, "172.18.0.2", SERVER, 9000)
    assert not blocks.allowed(None, "172.18.0.2", SERVER, 8080, "UDP")


def test_policy_types_default_and_egress_with_and_without_dns():
    egress_only = policy("e", "shop", {"matchLabels": {"app": "front"}}, egress=[
        {"to": [{"podSelector": {"matchLabels": {"app": "server"}}}]}])
    network = net(egress_only)
    assert not network.allowed(OTHER, "10.244.1.4", FRONT, 8080), "an egress section without policyTypes isolates both"
    assert network.allowed(FRONT, "10.244.1.3", SERVER, 8080)
    assert not network.allowed(FRONT, "10.244.1.3", OTHER, 8080)
    assert not network.dns_allowed(FRONT) and network.dns_allowed(OTHER)
    dns = policy("dns", "shop", {}, policyTypes=["Egress"], egress=[{"to": [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}], "ports": [{"port": 53, "protocol": "UDP"}]}])
    assert net(egress_only, dns).dns_allowed(FRONT)
    tcp_only = policy("dns", "shop", {}, policyTypes=["Egress"], egress=[{"ports": [{"port": 53, "protocol": "TCP"}]}])
    assert not net(egress_only, tcp_only).dns_allowed(FRONT)


def test_guard_words_a_drop_as_a_timeout_and_dns_as_a_temporary_failure():
    service = {"plural": "services", "metadata": {"name": "server", "namespace": "shop"},
               "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    endpoints = {"plural": "endpoints", "metadata": {"name": "server", "namespace": "shop"}, "subsets": [{
        "addresses": [{"ip": "10.244.1.2", "targetRef": {"kind": "Pod", "name": "server", "namespace": "shop"}}],
        "ports": [{"name": "http", "port": 8080}]}]}
    deny = policy("deny", "shop", {"matchLabels": {"app": "server"}}, policyTypes=["Ingress"])
    store = Objects(SERVER, FRONT, *SPACES, service, endpoints, deny)
    resolve, look = guard(store, FRONT, lambda host, port: True, lambda host: True)
    assert resolve("server", 80) == TIMEOUT and look("server") is True
    no_dns = policy("no-egress", "shop", {"matchLabels": {"app": "front"}}, policyTypes=["Egress"])
    resolve, look = guard(Objects(SERVER, FRONT, *SPACES, service, endpoints, no_dns), FRONT,
                          lambda host, port: True, lambda host: True)
    assert look("server") == DNS_FAILURE and resolve("server", 80) == DNS_FAILURE
    assert resolve("10.244.1.2", 8080) == TIMEOUT


# ---------------------------------------------------------------------------------------------------- real kubectl
pytestmark_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
DENY_ECHO = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "echo-deny", "namespace": NS},
             "spec": {"podSelector": {"matchLabels": {"app": "echo"}}, "policyTypes": ["Ingress"]}}
ALLOW_FRONT = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "echo-from-front", "namespace": NS},
               "spec": {"podSelector": {"matchLabels": {"app": "echo"}},
                        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "front"}}}],
                                     "ports": [{"port": "http"}]}]}}
FRONT_EGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "front-egress", "namespace": NS},
                "spec": {"podSelector": {"matchLabels": {"app": "front"}}, "policyTypes": ["Egress"],
                         "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}}
EGRESS_NO_DNS = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "toolbox-egress", "namespace": NS},
                 "spec": {"podSelector": {"matchLabels": {"app": "toolbox"}}, "policyTypes": ["Egress"],
                          "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "echo"}}}]}]}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(seed=5) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return lab_kubectl(cluster, tmp_path_factory.mktemp("kube-cache"))


def restart_front(kubectl: Kubectl, cluster: SimCluster) -> str:
    kubectl("delete", "pod", "-n", NS, "-l", "app=front", "--wait=false")
    cluster.advance(90)
    return pod_named(kubectl, "front")


@pytestmark_kubectl
def test_default_deny_ingress_makes_the_caller_time_out(kubectl, cluster):
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(DENY_ECHO))
    front = restart_front(kubectl, cluster)
    logs = run(kubectl, "logs", front).stdout + run(kubectl, "logs", front, "--previous").stdout
    assert "WARN  [front] cannot reach echo at echo:8080: timed out dependency=echo attempt=1/3" in logs
    assert "echo unavailable and STRICT_DEPENDENCIES is set; exiting" in logs
    assert "Connection refused" not in logs
    status = kubectl("get", "pod", "-n", NS, front, "-o", "jsonpath={.status.containerStatuses[0].ready}")
    assert status == "false"
    ip = kubectl("get", "service", "-n", NS, "echo", "-o", "jsonpath={.spec.clusterIP}")
    wget = run(kubectl, "exec", "toolbox", "--", "wget", "-qO-", "http://echo:8080/hello")
    assert wget.returncode == 1 and f"wget: can't connect to remote host ({ip}): Connection timed out" in wget.stderr
    curl = run(kubectl, "exec", "curler", "--", "curl", "-sS", "-m", "2", "http://echo:8080/hello")
    assert curl.returncode == 28 and "curl: (28) Connection timed out after 2001 milliseconds" in curl.stderr


@pytestmark_kubectl
def test_allowing_the_callers_label_restores_it(kubectl, cluster):
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(ALLOW_FRONT))
    front = restart_front(kubectl, cluster)
    assert "INFO  [front] connected to echo" in run(kubectl, "logs", front).stdout
    assert kubectl("get", "pod", "-n", NS, front, "-o", "jsonpath={.status.containerStatuses[0].ready}") == "true"
    page = run(kubectl, "exec", "curler", "--", "curl", "-sS", "-m", "2", "http://front:8080/page")
    assert page.returncode == 0 and '"msg": "hi"' in page.stdout, "front's own call to echo is allowed"
    direct = run(kubectl, "exec", "curler", "--", "curl", "-sS", "-m", "2", "http://echo:8080/hello")
    assert direct.returncode == 28, "the curl pod is still not allowed"


@pytestmark_kubectl
def test_the_judges_request_flow_applies_the_policies(kubectl, cluster):
    """The SRE end state's request runs the programs from the API's view: a policy that drops front's calls to echo
    fails it, as it would fail the real shop."""
    assert request_flow(ApiStore(cluster.reader()), NS, "front", 8080, "/page").status == 200
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(FRONT_EGRESS))
    flow = request_flow(ApiStore(cluster.reader()), NS, "front", 8080, "/page")
    assert flow.status != 200 and "echo unavailable" in flow.body
    kubectl("delete", "networkpolicy", "-n", NS, "front-egress")


@pytestmark_kubectl
def test_an_egress_policy_without_dns_breaks_name_lookups(kubectl):
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(EGRESS_NO_DNS))
    lookup = run(kubectl, "exec", "toolbox", "--", "nslookup", "echo")
    assert lookup.returncode == 1 and ";; connection timed out; no servers could be reached" in lookup.stdout
    wget = run(kubectl, "exec", "toolbox", "--", "wget", "-qO-", "http://echo:8080/hello")
    assert wget.returncode == 1 and "wget: bad address 'echo'" in wget.stderr
    kubectl("delete", "networkpolicy", "-n", NS, "toolbox-egress")
    assert run(kubectl, "exec", "toolbox", "--", "nslookup", "echo").returncode == 0


@pytestmark_kubectl
def test_a_program_without_dns_egress_cannot_resolve_its_dependency(kubectl, cluster):
    no_dns = {**EGRESS_NO_DNS, "metadata": {"name": "front-no-dns", "namespace": NS},
              "spec": {**EGRESS_NO_DNS["spec"], "podSelector": {"matchLabels": {"app": "front"}}}}
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(no_dns))
    front = restart_front(kubectl, cluster)
    logs = run(kubectl, "logs", front).stdout + run(kubectl, "logs", front, "--previous").stdout
    assert "cannot reach echo at echo:8080: [Errno -3] Temporary failure in name resolution" in logs
    assert "dependency echo at echo:8080 does not resolve; giving up after 3 attempts" in logs
