"""Voluntary disruption through the real kubectl: PodDisruptionBudget status, cordon/uncordon, and ``kubectl drain``
evicting through the Eviction API — refused while a budget forbids it, done (pods rescheduled on the other node)
when it allows; then the Eviction API's answers one by one. The kubectl tests share one cluster and build on each
other in file order, like an operator's session."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest
import yaml
from simkit import Kubectl, app_objects, create, get, load

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.routes import Call, Reply, route
from opsgym.cluster.sim.store import Watcher

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

BLOCKED = "Cannot evict pod as it would violate the pod's disruption budget."


def shop(replicas: int = 3) -> list[dict]:
    """The test app with a healthy api and ``replicas`` web pods."""
    objects = app_objects(mode="fast")
    for obj in objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "web":
            obj["spec"]["replicas"] = replicas
    return objects


def budget(name: str = "web", **spec: object) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(seed=5) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kube-cache"))


def web_nodes(kubectl: Kubectl) -> list[str]:
    out = json.loads(kubectl("get", "pods", "-n", "shop", "-l", "app=web", "-o", "json"))
    return sorted(p["spec"].get("nodeName", "") for p in out["items"] if not p["metadata"].get("deletionTimestamp"))


def busiest(kubectl: Kubectl) -> tuple[str, str]:
    """(the node with most web pods, the other node)."""
    nodes = web_nodes(kubectl)
    target = max(set(nodes), key=nodes.count)
    return target, "node-2" if target == "node-1" else "node-1"


def test_budget_status_for_three_replicas_with_min_available_two(cluster, kubectl):
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([*shop(), budget(minAvailable=2)]))
    cluster.advance(60)
    header, line = kubectl("get", "pdb", "-n", "shop").splitlines()
    assert header.split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]
    assert line.split()[:4] == ["web", "2", "N/A", "1"]
    status = json.loads(kubectl("get", "pdb", "web", "-n", "shop", "-o", "json"))["status"]
    assert {k: status[k] for k in ("currentHealthy", "desiredHealthy", "expectedPods", "disruptionsAllowed",
                                   "observedGeneration")} == {"currentHealthy": 3, "desiredHealthy": 2,
                                                              "expectedPods": 3, "disruptionsAllowed": 1,
                                                              "observedGeneration": 1}
    (condition,) = status["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == ("DisruptionAllowed", "True",
                                                                              "SufficientPods")


def test_cordon_marks_the_node_and_new_pods_avoid_it(cluster, kubectl):
    assert kubectl("cordon", "node-1").strip() == "node/node-1 cordoned"
    nodes = {line.split()[0]: line.split()[1] for line in kubectl("get", "nodes").splitlines()[1:]}
    assert nodes == {"node-1": "Ready,SchedulingDisabled", "node-2": "Ready"}
    kubectl("scale", "deploy/web", "-n", "shop", "--replicas=5")
    cluster.advance(30)
    assert web_nodes(kubectl).count("node-2") >= 3 and len(web_nodes(kubectl)) == 5
    kubectl("scale", "deploy/web", "-n", "shop", "--replicas=3")
    assert kubectl("uncordon", "node-1").strip() == "node/node-1 uncordoned"
    assert "SchedulingDisabled" not in kubectl("get", "nodes")
    cluster.advance(30)


def test_drain_is_refused_while_the_budget_allows_no_disruption(cluster, kubectl):
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(budget(maxUnavailable=0)))
    cluster.advance(5)
    assert kubectl("get", "pdb", "web", "-n", "shop", "-o", "jsonpath={.status.disruptionsAllowed}") == "0"
    target, _ = busiest(kubectl)
    before = web_nodes(kubectl)
    result = kubectl.run("drain", target, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=2s")
    assert result.returncode != 0
    assert f"node/{target} cordoned" in result.stdout
    assert "(will retry after 5s): " + BLOCKED in result.stderr
    assert 'error when evicting pods/"web-' in result.stderr and '-n "shop"' in result.stderr
    assert f'unable to drain node "{target}"' in result.stderr and "global timeout reached: 2s" in result.stderr
    assert web_nodes(kubectl) == before
    kubectl("uncordon", target)


def test_drain_evicts_when_the_budget_allows_and_pods_move_to_the_other_node(cluster, kubectl):
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(budget(minAvailable=2)))
    cluster.advance(5)
    target, other = busiest(kubectl)
    out = kubectl("drain", target, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s")
    assert f"node/{target} drained" in out and "evicted" in out
    cluster.advance(30)
    assert web_nodes(kubectl) == [other] * 3
    rows = kubectl("get", "pods", "-n", "shop", "-l", "app=web").splitlines()[1:]
    assert [r.split()[1:3] for r in rows] == [["1/1", "Running"]] * 3
    assert kubectl("get", "pdb", "web", "-n", "shop", "-o", "jsonpath={.status.currentHealthy}") == "3"


def test_the_python_clients_typed_apis(cluster, kubectl):
    from kubernetes import client

    api = cluster.api_client()
    budgets = client.PolicyV1Api(api).list_namespaced_pod_disruption_budget("shop").items
    assert [(b.metadata.name, b.status.disruptions_allowed) for b in budgets] == [("web", 1)]
    assert [sc.metadata.name for sc in client.StorageV1Api(api).list_storage_class().items] == ["standard"]
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(budget(maxUnavailable=0)))
    name = kubectl("get", "pods", "-n", "shop", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace="shop"))
    with pytest.raises(client.ApiException) as refused:
        client.CoreV1Api(api).create_namespaced_pod_eviction(name, "shop", eviction)
    assert refused.value.status == 429 and BLOCKED in refused.value.body
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(budget(maxUnavailable=1)))
    client.CoreV1Api(api).create_namespaced_pod_eviction(name, "shop", eviction)
    assert name not in kubectl("get", "pods", "-n", "shop", "-o", "name")


# ---------------------------------------------------------------------------------------------------- Eviction API
def evict(engine: Engine, name: str, body: dict | None = None, *, settle: bool = True) -> Reply:
    body = body if body is not None else {"apiVersion": "policy/v1", "kind": "Eviction",
                                          "metadata": {"name": name, "namespace": "shop"}}
    with engine.lock:
        reply = route(engine, Call("POST", ["api", "v1", "namespaces", "shop", "pods", name, "eviction"], {},
                                   "application/json", "", json.dumps(body).encode()))
        if settle:
            engine.reconcile()
    assert isinstance(reply, Reply)
    return reply


@pytest.fixture
def running_shop(engine: Engine) -> Engine:
    load(engine, shop())
    engine.advance(30)
    return engine


def web_pods(engine: Engine) -> list[str]:
    return [p["metadata"]["name"] for p in engine.store.items("pods", "shop")
            if p["metadata"]["labels"].get("app") == "web" and not p["metadata"].get("deletionTimestamp")]


def test_an_allowed_eviction_spends_the_budget_and_a_refused_one_is_429(running_shop: Engine):
    engine = running_shop
    create(engine, budget(minAvailable=2))
    first, second, _ = web_pods(engine)
    assert get(engine, "poddisruptionbudgets", "web", "shop")["status"]["disruptionsAllowed"] == 1
    reply = evict(engine, first, settle=False)
    assert (reply.status, reply.body["status"]) == (201, "Success")
    status = get(engine, "poddisruptionbudgets", "web", "shop")["status"]
    assert status["disruptionsAllowed"] == 0 and list(status["disruptedPods"]) == [first]
    assert status["conditions"][0]["reason"] == "InsufficientPods"
    with engine.lock:
        engine.reconcile()
    assert engine.store.get("pods", "shop", first) is None
    assert "disruptedPods" not in get(engine, "poddisruptionbudgets", "web", "shop")["status"]
    create(engine, budget("all", minAvailable=3))
    with engine.lock:
        engine.store.remove("poddisruptionbudgets", "shop", "web")
    refused = evict(engine, second)
    assert refused.status == 429
    assert (refused.body["reason"], refused.body["message"]) == ("TooManyRequests", BLOCKED)
    assert refused.body["details"]["causes"] == [{"reason": "DisruptionBudget", "message": "The disruption budget "
                                                  "all needs 3 healthy pods and has 3 currently"}]
    assert engine.store.get("pods", "shop", second) is not None


def test_eviction_marks_the_pod_as_a_disruption_target(running_shop: Engine):
    engine = running_shop
    name = web_pods(engine)[0]
    seen: list[dict] = []
    with engine.lock:
        engine.store.watch(Watcher("pods", "shop", lambda kind, obj, prev: seen.append(obj), lambda: None), None)
    assert evict(engine, name).status == 201  # no budget covers db, api or web: evicted outright
    marked = [c for o in seen if o["metadata"]["name"] == name for c in o["status"].get("conditions", [])
              if c["type"] == "DisruptionTarget"]
    assert marked and (marked[-1]["reason"], marked[-1]["message"]) == ("EvictionByEvictionAPI",
                                                                        "Eviction API: evicting")


def test_eviction_bad_requests(running_shop: Engine):
    engine = running_shop
    name = web_pods(engine)[0]
    mismatch = evict(engine, name, {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}})
    assert (mismatch.status, mismatch.body["message"]) == (400, "name in URL does not match name in Eviction object")
    assert evict(engine, "web-nope").status == 404
    create(engine, budget("one", minAvailable=1))
    create(engine, budget("two", maxUnavailable=1))
    both = evict(engine, name)
    assert (both.status, both.body["message"]) == (500, "This pod has more than one PodDisruptionBudget, which the "
                                                        "eviction subresource does not support.")


def test_budget_percentages_and_max_unavailable(running_shop: Engine):
    engine = running_shop
    create(engine, budget("pct", minAvailable="50%"))
    create(engine, budget("max", maxUnavailable="34%"))
    pct = get(engine, "poddisruptionbudgets", "pct", "shop")["status"]
    assert (pct["expectedPods"], pct["desiredHealthy"], pct["disruptionsAllowed"]) == (3, 2, 1)
    most = get(engine, "poddisruptionbudgets", "max", "shop")["status"]
    assert (most["expectedPods"], most["desiredHealthy"], most["disruptionsAllowed"]) == (3, 1, 2)
    create(engine, budget("none", minAvailable=4))
    none = get(engine, "poddisruptionbudgets", "none", "shop")["status"]
    assert none["disruptionsAllowed"] == 0 and none["conditions"][0]["reason"] == "InsufficientPods"
