"""Admission on the embedded cluster through the real kubectl: ResourceQuota, LimitRange, PriorityClass and Pod
Security refusals worded as kube-apiserver 1.32 words them, the quota's status, and what a Deployment whose pods are
refused shows (the ReplicaSet's FailedCreate events and ReplicaFailure condition, retried on a back-off).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from decimal import Decimal

import pytest
import yaml
from simkit import Kubectl

from opsgym.cluster.sim import SimCluster, podsecurity
from opsgym.cluster.sim.admission import quantity_text

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def _ns(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


SETUP = [
    _ns("quota"), _ns("bare"), _ns("limits"),
    _ns("strict", **{"pod-security.kubernetes.io/enforce": "restricted"}),
    _ns("watched", **{"pod-security.kubernetes.io/enforce": "baseline",
                      "pod-security.kubernetes.io/warn": "restricted"}),
    {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "compute", "namespace": "quota"},
     "spec": {"hard": {"pods": "4", "requests.cpu": "1", "requests.memory": "1Gi", "configmaps": "3"}}},
    {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "bare"},
     "spec": {"hard": {"requests.cpu": "2", "limits.cpu": "2"}}},
    {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults", "namespace": "limits"},
     "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "default": {"memory": "256Mi"},
                          "defaultRequest": {"cpu": "250m", "memory": "128Mi"}}]}},
    {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000,
     "description": "important"},
]


def _pod(name: str, cpu: str | None = None, **spec: object) -> str:
    container: dict = {"name": "app", "image": "nginx:1.27"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu, "memory": "64Mi"}}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": {"containers": [container], **spec}})


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(seed=5) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    kubectl = Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("cache"))
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(SETUP))
    return kubectl


def test_quota_counts_what_is_admitted_and_refuses_the_excess(kubectl):
    kubectl("apply", "-n", "quota", "-f", "-", stdin=_pod("a", "600m"))
    refused = kubectl.run("apply", "-n", "quota", "-f", "-", stdin=_pod("b", "500m"))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "b" is forbidden: exceeded quota: compute, '
        "requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1")
    table = kubectl("get", "quota", "-n", "quota").splitlines()
    assert table[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert "pods: 1/4, requests.cpu: 600m/1, requests.memory: 64Mi/1Gi" in table[1]
    status = json.loads(kubectl("get", "quota", "compute", "-n", "quota", "-o", "jsonpath={.status}"))
    configmaps = len(kubectl("get", "configmaps", "-n", "quota", "-o", "name").split())
    assert status["used"] == {"pods": "1", "requests.cpu": "600m", "requests.memory": "64Mi",
                              "configmaps": str(configmaps)}
    assert status["hard"] == {"pods": "4", "requests.cpu": "1", "requests.memory": "1Gi", "configmaps": "3"}
    kubectl("delete", "pod", "a", "-n", "quota", "--grace-period=0", "--force")
    assert "requests.cpu: 0/1" in kubectl("get", "quota", "-n", "quota")
    described = kubectl("describe", "quota", "compute", "-n", "quota")
    assert "Resource         Used  Hard" in described and "requests.memory  0     1Gi" in described


def test_quota_on_cpu_needs_every_container_to_state_it(kubectl):
    refused = kubectl.run("run", "x", "-n", "bare", "--image=nginx:1.27")
    assert refused.stderr.strip() == ('Error from server (Forbidden): pods "x" is forbidden: failed quota: q: must '
                                      "specify limits.cpu for: x; requests.cpu for: x")


def test_a_deployment_whose_pods_are_refused_shows_it_on_its_replicaset(cluster, kubectl):
    kubectl("create", "deployment", "web", "-n", "quota", "--image=nginx:1.27", "--replicas=3")
    kubectl("set", "resources", "deployment", "web", "-n", "quota", "--requests=cpu=400m,memory=64Mi")
    cluster.advance(30)
    rs = json.loads(kubectl("get", "rs", "-n", "quota", "-o", "json"))["items"]
    current = next(r for r in rs if r["spec"]["replicas"] == 3)
    assert current["status"]["replicas"] == 2
    condition = current["status"]["conditions"][0]
    assert (condition["type"], condition["reason"]) == ("ReplicaFailure", "FailedCreate")
    name = current["metadata"]["name"]
    events = kubectl("get", "events", "-n", "quota", "--field-selector", f"involvedObject.name={name},"
                     "reason=FailedCreate", "-o", "jsonpath={.items[*].message}")
    assert events.startswith(f'Error creating: pods "{name}-')
    assert ('is forbidden: exceeded quota: compute, requested: requests.cpu=400m, used: requests.cpu=800m, limited: '
            "requests.cpu=1") in events
    failures = events.count("Error creating:")
    assert 5 < failures < 20, "retried on an exponential back-off, not on every pass"
    deploy = kubectl("describe", "deployment", "web", "-n", "quota")
    assert "ReplicaFailure   True    FailedCreate" in deploy
    kubectl("patch", "quota", "compute", "-n", "quota", "-p", '{"spec":{"hard":{"requests.cpu":"2"}}}')
    cluster.advance(60)
    assert kubectl("get", "rs", name, "-n", "quota", "-o", "jsonpath={.status.replicas}") == "3"
    assert "ReplicaFailure" not in kubectl("describe", "deployment", "web", "-n", "quota")


def test_limitrange_defaults_show_in_the_pod_and_its_maximum_refuses(kubectl):
    kubectl("run", "d", "-n", "limits", "--image=nginx:1.27")
    pod = yaml.safe_load(kubectl("get", "pod", "d", "-n", "limits", "-o", "yaml"))
    assert pod["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1", "memory": "256Mi"},
                                                         "requests": {"cpu": "250m", "memory": "128Mi"}}
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == \
        "LimitRanger plugin set: cpu, memory request for container d; cpu, memory limit for container d"
    limits = yaml.safe_load(kubectl("get", "limits", "defaults", "-n", "limits", "-o", "yaml"))
    assert limits["spec"]["limits"][0]["default"] == {"cpu": "1", "memory": "256Mi"}, "default limit from max"
    over = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big"}, "spec": {"containers": [
        {"name": "app", "image": "nginx:1.27", "resources": {"limits": {"cpu": "2"}}}]}})
    refused = kubectl.run("apply", "-n", "limits", "-f", "-", stdin=over)
    assert refused.stderr.strip().endswith('pods "big" is forbidden: maximum cpu usage per Container is 1, but limit '
                                           "is 2")
    assert kubectl("get", "limitranges", "-n", "limits").split()[:3] == ["NAME", "CREATED", "AT"]


def test_priority_classes_resolve_at_admission(kubectl):
    header, row = kubectl("get", "pc", "high").splitlines()
    assert header.split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert row.split()[:3] + row.split()[4:] == ["high", "1000", "false", "PreemptLowerPriority"]
    kubectl("apply", "-n", "limits", "-f", "-", stdin=_pod("vip", priorityClassName="high"))
    assert kubectl("get", "pod", "vip", "-n", "limits", "-o", "jsonpath={.spec.priority}") == "1000"
    kubectl("apply", "-n", "limits", "-f", "-", stdin=_pod("crit", priorityClassName="system-node-critical"))
    assert kubectl("get", "pod", "crit", "-n", "limits", "-o", "jsonpath={.spec.priority}") == "2000001000"
    refused = kubectl.run("apply", "-n", "limits", "-f", "-", stdin=_pod("nope", priorityClassName="foo"))
    assert refused.stderr.strip().endswith('pods "nope" is forbidden: no PriorityClass with name foo was found')
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                                   "metadata": {"name": "everyone"}, "value": 7,
                                                   "globalDefault": True}))
    kubectl("apply", "-n", "limits", "-f", "-", stdin=_pod("plain"))
    assert kubectl("get", "pod", "plain", "-n", "limits", "-o",
                   "jsonpath={.spec.priorityClassName}={.spec.priority}") == "everyone=7"
    kubectl("delete", "pc", "everyone")


def test_pod_security_enforce_refuses_and_warn_warns(kubectl):
    refused = kubectl.run("run", "app", "-n", "strict", "--image=nginx:1.27")
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): pods "app" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile '
        '(pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
    compliant = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "app", "image": "nginx:1.27", "securityContext": {
                     "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}
    ok = kubectl.run("apply", "-n", "strict", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "good"}, "spec": compliant}))
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr
    warned = kubectl.run("run", "w", "-n", "watched", "--image=nginx:1.27")
    assert warned.returncode == 0
    assert warned.stderr.startswith('Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation '
                                    '!= false (container "w" must set')
    host = {"hostNetwork": True, "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
            "containers": [{"name": "app", "image": "nginx:1.27", "securityContext": {"privileged": True},
                            "volumeMounts": [{"name": "root", "mountPath": "/host"}]}]}
    baseline = kubectl.run("apply", "-n", "watched", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"}, "spec": host}))
    assert baseline.stderr.strip().endswith(
        'pods "root" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), '
        'hostPath volumes (volume "root"), privileged (container "app" must not set securityContext.privileged=true)')


def test_a_workload_whose_template_breaks_the_enforce_level_is_warned_and_its_pods_refused(cluster, kubectl):
    made = kubectl.run("create", "deployment", "api", "-n", "strict", "--image=nginx:1.27")
    assert made.returncode == 0
    assert made.stderr.startswith('Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation')
    cluster.advance(5)
    events = kubectl("get", "events", "-n", "strict", "--field-selector", "reason=FailedCreate", "-o",
                     "jsonpath={.items[0].message}")
    assert events.startswith('Error creating: pods "api-') and 'violates PodSecurity "restricted:latest"' in events


@pytest.mark.parametrize(("spec", "policy", "expected"), [
    ({"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                     {"name": "b", "ports": [{"containerPort": 81, "hostPort": 8081}]}]}, "baseline:latest",
     ['hostPort (containers "a", "b" use hostPorts 8080, 8081)']),
    ({"containers": [{"name": "a", "securityContext": {"capabilities": {"add": ["SYS_TIME", "NET_ADMIN", "CHOWN"]}}}]},
     "baseline:latest", ['non-default capabilities (container "a" must not include "NET_ADMIN", "SYS_TIME" in '
                         "securityContext.capabilities.add)"]),
    ({"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
      "volumes": [{"name": "data", "hostPath": {"path": "/data"}}],
      "containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": False, "runAsUser": 0,
                                                      "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}}]},
     "restricted:v1.32", ['unrestricted capabilities (container "a" must not include "SYS_ADMIN" in '
                          "securityContext.capabilities.add)",
                          'restricted volume types (volume "data" uses restricted volume type "hostPath")',
                          'runAsUser=0 (container "a" must not set runAsUser=0)']),
    ({"hostPID": True, "hostIPC": True, "containers": [{"name": "a"}]}, "baseline:latest",
     ["host namespaces (hostPID=true, hostIPC=true)"]),
])
def test_pod_security_checks_word_each_violation_as_the_plugin(spec, policy, expected):
    assert podsecurity.violations(policy, spec) == expected


@pytest.mark.parametrize(("value", "binary", "text"), [
    ("1.5", False, "1500m"), ("2", False, "2"), ("2000", False, "2k"), ("0.1", False, "100m"),
    (str(384 * 2**20), True, "384Mi"), (str(2**30), True, "1Gi"), (str(1536 * 2**20), True, "1536Mi"), ("0", True, "0"),
])
def test_quota_quantities_print_canonically(value, binary, text):
    assert quantity_text(Decimal(value), binary) == text
