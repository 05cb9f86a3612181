"""The Metrics API (``metrics.k8s.io/v1beta1``) through the real kubectl: ``kubectl top pods|nodes`` print usage the
simulated programs' load explains, nodes add their own overhead to their pods' sum, and the numbers repeat for a
seed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest
import yaml
from simkit import Kubectl, app_objects

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.metrics import JITTER, REQUEST_CPU_MS, SYSTEM_CPU_M, SYSTEM_MEMORY

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

WEB_RPS = 30.0


def shop() -> list[dict]:
    """The test kit's app with a healthy api and CPU/memory requests on web (what an HPA needs)."""
    objects = app_objects(mode="fast")
    for obj in objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "web":
            obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {
                "requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "500m"}}
    return objects


def started(seed: int, tmp: pytest.TempPathFactory) -> tuple[SimCluster, Kubectl]:
    cluster = SimCluster(seed=seed)
    cluster.start()
    kubectl = Kubectl(cluster.kubeconfig, tmp.mktemp("kube-cache"))
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(shop()))
    cluster.advance(60)
    cluster.engine.metrics.set_load("shop", "web", WEB_RPS)
    return cluster, kubectl


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimCluster, Kubectl]]:
    cluster, kubectl = started(11, tmp_path_factory)
    yield cluster, kubectl
    cluster.close()


def rows(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in out.splitlines()[1:]}


def millicores(cell: str) -> int:
    assert cell.endswith("m"), cell
    return int(cell[:-1])


def test_discovery_lists_the_metrics_group(sim):
    _, kubectl = sim
    out = kubectl("api-resources", "--api-group=metrics.k8s.io")
    assert "NodeMetrics" in out and "PodMetrics" in out
    assert json.loads(kubectl("get", "--raw", "/apis/metrics.k8s.io"))["preferredVersion"]["version"] == "v1beta1"


def test_top_pods_follows_the_load(sim):
    _, kubectl = sim
    out = kubectl("top", "pods", "-n", "shop")
    assert out.splitlines()[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    found = {name.split("-")[0]: row for name, row in rows(out).items()}
    assert set(found) == {"api", "db", "web"}
    expected = WEB_RPS * REQUEST_CPU_MS
    assert expected * (1 - JITTER) <= millicores(found["web"][1]) <= expected * (1 + JITTER) + 2
    assert millicores(found["api"][1]) <= 3 and millicores(found["db"][1]) <= 3
    for row in found.values():
        assert row[2].endswith("Mi") and 18 <= int(row[2][:-2]) <= 24, row


def test_top_pods_containers_selector_and_sort(sim):
    _, kubectl = sim
    out = kubectl("top", "pods", "-n", "shop", "--containers", "-l", "app=web")
    header, *lines = out.splitlines()
    assert header.split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert len(lines) == 1 and lines[0].split()[1] == "web"
    ranked = kubectl("top", "pods", "-A", "--sort-by=cpu").splitlines()
    assert ranked[0].split()[:1] == ["NAMESPACE"] and ranked[1].split()[1].startswith("web-")


def test_node_usage_is_its_pods_plus_overhead(sim):
    _, kubectl = sim
    pods = json.loads(kubectl("get", "pods", "-A", "-o", "json"))["items"]
    where = {(p["metadata"]["namespace"], p["metadata"]["name"]): p["spec"].get("nodeName") for p in pods}
    pod_metrics = json.loads(kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods"))["items"]
    nodes = json.loads(kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"))["items"]
    assert {n["metadata"]["name"] for n in nodes} == {"node-1", "node-2"} and nodes[0]["window"] == "10s"
    for node in nodes:
        mine = [c["usage"] for m in pod_metrics for c in m["containers"]
                if where[(m["metadata"]["namespace"], m["metadata"]["name"])] == node["metadata"]["name"]]
        cpu = int(node["usage"]["cpu"][:-1]) - sum(int(u["cpu"][:-1]) for u in mine)
        memory = int(node["usage"]["memory"][:-2]) - sum(int(u["memory"][:-2]) for u in mine)
        assert SYSTEM_CPU_M * (1 - 2 * JITTER) * 1e6 - 1 <= cpu <= SYSTEM_CPU_M * (1 + 2 * JITTER) * 1e6 + 1
        assert abs(memory * 1024 - SYSTEM_MEMORY) <= SYSTEM_MEMORY * JITTER / 3 + 1024 * (len(mine) + 1)
    out = kubectl("top", "nodes")
    assert out.splitlines()[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert set(rows(out)) == {"node-1", "node-2"}


def test_pod_metrics_object_as_metrics_server_writes_it(sim):
    _, kubectl = sim
    listing = json.loads(kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods"))
    assert listing["kind"] == "PodMetricsList"
    item = listing["items"][0]
    assert item["window"] == "15s" and item["timestamp"][-4:] in (":00Z", ":15Z", ":30Z", ":45Z")
    usage = item["containers"][0]["usage"]
    assert usage["cpu"].endswith("n") and usage["memory"].endswith("Ki")
    assert item["metadata"]["labels"]["app"] in ("api", "db", "web")


def test_a_pod_without_metrics_is_not_found(sim):
    cluster, kubectl = sim
    kubectl("run", "fresh", "-n", "shop", "--image=busybox:1.36", "--", "sleep", "3600")
    result = kubectl.run("top", "pod", "fresh", "-n", "shop")
    assert result.returncode == 1
    assert 'Error from server (NotFound): podmetrics.metrics.k8s.io "shop/fresh" not found' in result.stderr
    cluster.advance(30)
    assert "fresh" in kubectl("top", "pod", "fresh", "-n", "shop")


def test_the_metrics_api_is_read_only(sim):
    _, kubectl = sim
    result = kubectl.run("delete", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/node-1")
    assert result.returncode == 1 and "MethodNotAllowed" in result.stderr


def test_same_seed_same_numbers(tmp_path_factory):
    first, first_kubectl = started(13, tmp_path_factory)
    second, second_kubectl = started(13, tmp_path_factory)
    path = "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods"
    try:
        seen = set()
        for _ in range(3):
            ours = first_kubectl("get", "--raw", path)
            assert ours == second_kubectl("get", "--raw", path)
            assert first_kubectl("top", "nodes") == second_kubectl("top", "nodes")
            seen.add(ours)
            first.advance(15)
            second.advance(15)
        assert len(seen) == 3, "the jitter moves the numbers from one scrape to the next"
    finally:
        first.close()
        second.close()


def test_set_load_is_checked():
    cluster = SimCluster(seed=0)
    cluster.start()
    try:
        with pytest.raises(ValueError):
            cluster.engine.metrics.set_load("shop", "web", -1)
        with pytest.raises(ValueError):
            cluster.engine.metrics.set_load("shop", "web", float("nan"))
        cluster.engine.metrics.set_load("shop", "web", 5)
        cluster.engine.metrics.set_load("shop", "web", 0)
        assert cluster.engine.metrics.loads == {}
    finally:
        cluster.close()


def test_load_flows_to_the_dependencies(sim):
    cluster, kubectl = sim
    cluster.engine.metrics.set_load("shop", "api", 20)
    try:
        rps = cluster.engine.metrics.service_rps()
        assert rps[("shop", "api")] == 20 and rps[("shop", "db")] == 20  # api resolved db:5432 when it started
        assert rps[("shop", "web")] == WEB_RPS
        cluster.advance(15)
        found = {name.split("-")[0]: row for name, row in rows(kubectl("top", "pods", "-n", "shop")).items()}
        assert millicores(found["db"][1]) >= 20 * REQUEST_CPU_MS * (1 - JITTER)
    finally:
        cluster.engine.metrics.set_load("shop", "api", 0)
