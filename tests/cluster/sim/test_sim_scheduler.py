"""The scheduler and node lifecycle through the real kubectl: where pods land, and the exact words of a pod that
lands nowhere (the FitError and preemption verdict kube-scheduler 1.32 writes into PodScheduled and FailedScheduling).

One two-node cluster per module, restored to its empty state before each test.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
import yaml
from simkit import Kubectl

from opsgym.cluster.sim.nodelifecycle import set_node_condition
from opsgym.cluster.sim.scheduler import tolerates

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

NOT_HELPFUL = "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
NO_VICTIMS = "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."


@pytest.fixture
def kubectl(fresh_kubectl: Kubectl) -> Kubectl:
    return fresh_kubectl


def pod(name: str, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "busybox:1.36"}
    if "cpu" in spec:
        container["resources"] = {"requests": {"cpu": spec.pop("cpu")}}
    labels = spec.pop("labels", {"app": name})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [container], **spec}}


def apply(kubectl: Kubectl, *objects: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))


def node_of(kubectl: Kubectl, name: str) -> str:
    return kubectl("get", "pod", name, "-o", "jsonpath={.spec.nodeName}")


def unschedulable(kubectl: Kubectl, name: str) -> str:
    """The PodScheduled condition's message, checked against the FailedScheduling event's (they are the same)."""
    cond = json.loads(kubectl("get", "pod", name, "-o", "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")]}"))
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    events = kubectl("get", "events", "--field-selector", f"involvedObject.name={name},reason=FailedScheduling",
                     "-o", "jsonpath={.items[-1].message}")
    assert events == cond["message"]
    assert "Pending" in kubectl("get", "pod", name)
    return str(cond["message"])


def test_a_pod_too_big_for_every_node_says_insufficient_cpu(kubectl):
    apply(kubectl, pod("big", cpu="5"))
    assert unschedulable(kubectl, "big") == f"0/2 nodes are available: 2 Insufficient cpu. {NO_VICTIMS}"
    assert "Insufficient cpu" in kubectl("describe", "pod", "big")


def test_requests_add_up_per_node(kubectl):
    apply(kubectl, pod("a", cpu="3"), pod("b", cpu="3"))
    assert {node_of(kubectl, "a"), node_of(kubectl, "b")} == {"node-1", "node-2"}
    apply(kubectl, pod("c", cpu="1500m"))
    assert unschedulable(kubectl, "c") == f"0/2 nodes are available: 2 Insufficient cpu. {NO_VICTIMS}"
    kubectl("delete", "pod", "a", "--wait=false")
    assert node_of(kubectl, "c") == "node-1"


def test_a_node_selector_no_node_satisfies(kubectl):
    apply(kubectl, pod("picky", nodeSelector={"disktype": "ssd"}))
    assert unschedulable(kubectl, "picky") == \
        f"0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. {NOT_HELPFUL}"
    kubectl("label", "node", "node-2", "disktype=ssd")
    assert node_of(kubectl, "picky") == "node-2"


def test_required_node_affinity_and_match_fields(kubectl):
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}
    apply(kubectl, pod("pinned", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}}))
    assert node_of(kubectl, "pinned") == "node-2"


def test_a_taint_without_toleration_then_with_one(kubectl):
    kubectl("taint", "nodes", "node-1", "dedicated=db:NoSchedule")
    on_node_1 = {"kubernetes.io/hostname": "node-1"}
    apply(kubectl, pod("plain", nodeSelector=on_node_1))
    assert unschedulable(kubectl, "plain") == (
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated "
        f"taint {{dedicated: db}}. {NOT_HELPFUL}")
    toleration = {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}
    apply(kubectl, pod("tolerant", nodeSelector=on_node_1, tolerations=[toleration]))
    assert node_of(kubectl, "tolerant") == "node-1"
    apply(kubectl, pod("free"))
    assert node_of(kubectl, "free") == "node-2", "an untolerated NoSchedule taint keeps ordinary pods away"


def test_tolerations_match_as_the_api_defines():
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert tolerates({"tolerations": [{"operator": "Exists"}]}, taint)
    assert tolerates({"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]}, taint)
    assert not tolerates({"tolerations": [{"key": "k", "value": "w"}]}, taint)
    assert not tolerates({"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute"}]}, taint)


def test_prefer_no_schedule_steers_without_blocking(kubectl):
    kubectl("taint", "nodes", "node-1", "spot=true:PreferNoSchedule")
    apply(kubectl, pod("first"))
    assert node_of(kubectl, "first") == "node-2", "spreading alone would pick node-1 (fewest pods, then name)"


def test_required_anti_affinity_spreads_and_blocks_a_third_replica(kubectl):
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    apply(kubectl, *(pod(f"web-{i}", labels={"app": "web"}, affinity=anti) for i in range(3)))
    assert {node_of(kubectl, "web-0"), node_of(kubectl, "web-1")} == {"node-1", "node-2"}
    assert unschedulable(kubectl, "web-2") == \
        f"0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. {NO_VICTIMS}"


def test_required_pod_affinity_follows_its_peer(kubectl):
    apply(kubectl, pod("db", nodeSelector={"kubernetes.io/hostname": "node-2"}))
    affinity = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    apply(kubectl, pod("cache", affinity=affinity))
    assert node_of(kubectl, "cache") == "node-2", "spreading alone would pick node-1"
    apply(kubectl, pod("lonely", affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "nothing"}}, "topologyKey": "kubernetes.io/hostname"}]}}))
    assert unschedulable(kubectl, "lonely") == \
        f"0/2 nodes are available: 2 node(s) didn't match pod affinity rules. {NOT_HELPFUL}"


def test_a_not_ready_node_is_tainted_and_its_pods_evicted_after_their_toleration(cluster, kubectl):
    apply(kubectl, pod("one"), pod("two"))
    assert node_of(kubectl, "two") == "node-2"
    with cluster.engine.lock:
        set_node_condition(cluster.engine, "node-2", "Ready", "False")
    assert kubectl("get", "node", "node-2", "--no-headers").split()[1] == "NotReady"
    described = kubectl("describe", "node", "node-2")
    assert "node.kubernetes.io/not-ready:NoExecute" in described
    assert "node.kubernetes.io/not-ready:NoSchedule" in described
    apply(kubectl, pod("late", nodeSelector={"kubernetes.io/hostname": "node-2"}))
    assert unschedulable(kubectl, "late") == (
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated "
        f"taint {{node.kubernetes.io/not-ready: }}. {NOT_HELPFUL}")
    cluster.advance(299)
    assert not kubectl("get", "pod", "two", "-o", "jsonpath={.metadata.deletionTimestamp}")
    cluster.advance(2)
    gone = kubectl("get", "pods", "-o", "name")
    assert "pod/two" not in gone and "pod/one" in gone
    assert kubectl("get", "events", "--field-selector", "reason=TaintManagerEviction", "-o",
                   "jsonpath={.items[*].message}") == "Marking for deletion Pod default/two"


def test_node_pressure_set_through_a_status_patch(kubectl):
    patch = {"status": {"conditions": [{"type": "MemoryPressure", "status": "True"}]}}
    kubectl("patch", "node", "node-1", "--subresource=status", "-p", json.dumps(patch))
    assert "node.kubernetes.io/memory-pressure:NoSchedule" in kubectl("describe", "node", "node-1")
    apply(kubectl, pod("p1"), pod("p2"))
    assert node_of(kubectl, "p1") == node_of(kubectl, "p2") == "node-2"


def test_a_cordoned_node_is_skipped_until_uncordoned(kubectl):
    kubectl("cordon", "node-1")
    assert kubectl("get", "node", "node-1", "--no-headers").split()[1] == "Ready,SchedulingDisabled"
    assert "node.kubernetes.io/unschedulable:NoSchedule" in kubectl("describe", "node", "node-1")
    apply(kubectl, pod("xa"), pod("yb"), pod("pinned", nodeSelector={"kubernetes.io/hostname": "node-1"}))
    assert node_of(kubectl, "xa") == node_of(kubectl, "yb") == "node-2"
    assert unschedulable(kubectl, "pinned") == (
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were "
        f"unschedulable. {NOT_HELPFUL}")
    kubectl("uncordon", "node-1")
    assert node_of(kubectl, "pinned") == "node-1"
    assert "Taints:             <none>" in kubectl("describe", "node", "node-1")


def test_a_higher_priority_pod_preempts_a_lower_one(cluster, kubectl):
    apply(kubectl, pod("low-a", cpu="3"), pod("low-b", cpu="3"))
    apply(kubectl, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"},
                    "value": 1000}, pod("vip", cpu="2", priorityClassName="high"))
    assert kubectl("get", "pod", "vip", "-o", "jsonpath={.status.nominatedNodeName}") == "node-1"
    preempted = kubectl("get", "events", "--field-selector", "reason=Preempted", "-o", "jsonpath={.items[*].message}")
    uid = kubectl("get", "pod", "vip", "-o", "jsonpath={.metadata.uid}")
    assert preempted == f"Preempted by pod {uid} on node node-1"
    cluster.advance(31)
    assert node_of(kubectl, "vip") == "node-1"
    assert "low-a" not in kubectl("get", "pods", "-o", "name")


def test_memory_pressure_evicts_the_pod_using_most_beyond_its_request(cluster, kubectl):
    container = {"name": "main", "image": "nginx:1.27", "resources": {"requests": {"memory": "1Mi"}}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}}}
    apply(kubectl, deployment)
    on_node_1 = kubectl("get", "pods", "--field-selector", "spec.nodeName=node-1", "-o", "name")
    with cluster.engine.lock:
        set_node_condition(cluster.engine, "node-1", "MemoryPressure", "True")
    failed = json.loads(kubectl("get", "pods", "--field-selector", "status.phase=Failed", "-o", "json"))["items"]
    assert [f"pod/{p['metadata']['name']}" for p in failed] == on_node_1.split()
    status = failed[0]["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "Evicted")
    assert status["message"].startswith("The node was low on resource: memory. Threshold quantity: 100Mi, "
                                        "available: 95Mi. Container main was using ")
    assert "Attempting to reclaim memory" in kubectl("get", "events", "--field-selector", "involvedObject.kind=Node")
    running = kubectl("get", "pods", "--field-selector", "status.phase=Running", "-o",
                      "jsonpath={.items[*].spec.nodeName}").split()
    assert running == ["node-2", "node-2"], "the replacement avoids the memory-pressure taint"
