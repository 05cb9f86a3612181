"""SimCluster as a ClusterBackend: lifecycle, kubeconfig, scenario loading with cached snapshots, isolation."""

from __future__ import annotations

import ssl
import subprocess
import sys
import urllib.request
from urllib.error import URLError

import pytest
import yaml
from kubernetes import client
from simkit import app_objects

from opsgym import plugins
from opsgym.cluster.base import ApiReader, ClusterBackend
from opsgym.cluster.real import ClientReader
from opsgym.cluster.sim import SimCluster, SimServer
from opsgym.errors import ClusterApiError, InfrastructureError, TaskSpecError


def restarts(api_client, app: str) -> int:
    pods = client.CoreV1Api(api_client).list_namespaced_pod("shop", label_selector=f"app={app}").items
    return sum(cs.restart_count for p in pods for cs in p.status.container_statuses or [])


def test_it_is_the_registered_sim_backend():
    cluster = plugins.create("cluster backend", "sim", seed=5)
    assert isinstance(cluster, SimCluster) and isinstance(cluster, ClusterBackend)
    assert cluster.name == "sim" and cluster.virtual_time and cluster.seed == 5


def test_lifecycle_and_kubeconfig(sim_cluster):
    config = yaml.safe_load(sim_cluster.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    assert server == sim_cluster.url and server.startswith("https://127.0.0.1:")
    tls = ssl.create_default_context(cadata=sim_cluster.certificate_pem)
    request = urllib.request.Request(f"{server}/version", headers={"Authorization": f"Bearer {sim_cluster.token}"})
    with urllib.request.urlopen(request, context=tls) as response:
        assert b'"gitVersion":"v1.32.0"' in response.read()
    path = sim_cluster.kubeconfig
    sim_cluster.close()
    sim_cluster.close()
    assert not path.exists()
    with pytest.raises(URLError):
        urllib.request.urlopen(request, context=tls)


def test_clusters_share_one_server_but_not_their_objects():
    with SimCluster() as one, SimCluster() as two:
        assert one._server is two._server is SimServer.shared() and one.url != two.url
        client.CoreV1Api(one.api_client()).create_namespace(client.V1Namespace(metadata={"name": "only-one"}))
        names = {n.metadata.name for n in client.CoreV1Api(two.api_client()).list_namespace().items}
        assert "only-one" not in names


def test_load_settles_until_ready_and_caches_the_snapshot(sim_cluster):
    calls = []

    def objects():
        calls.append(1)
        return app_objects()

    def ready(reader) -> bool:
        pods = reader.get("/api/v1/namespaces/shop/pods")["items"]
        return sum(s.get("restartCount", 0) for p in pods if p["metadata"]["labels"].get("app") == "api"
                   for s in p["status"].get("containerStatuses") or []) >= 2

    sim_cluster.load("broken", objects, ready=ready)
    settled_at = sim_cluster.now()
    assert restarts(sim_cluster.api_client(), "api") >= 2
    sim_cluster.advance(600)
    client.CoreV1Api(sim_cluster.api_client()).delete_namespaced_config_map("api-config", "shop")
    sim_cluster.load("broken", objects, ready=ready)
    assert calls == [1], "the second load restored the snapshot"
    assert sim_cluster.now() == settled_at and restarts(sim_cluster.api_client(), "api") >= 2
    assert client.CoreV1Api(sim_cluster.api_client()).read_namespaced_config_map("api-config", "shop").data


def test_the_judges_reader_answers_what_the_http_api_answers(sim_cluster):
    """The in-process reader goes through the server's own routing: same objects as a client over HTTP, 404 → None,
    any other error raised with its status (a broken read must never look like a deleted object)."""
    sim_cluster.load("broken", app_objects)
    sim_cluster.advance(120)
    reader, over_http = sim_cluster.reader(), ClientReader(sim_cluster.api_client())
    assert isinstance(reader, ApiReader)
    for path in ("/api/v1/namespaces/shop/pods", "/apis/apps/v1/namespaces/shop/deployments",
                 "/api/v1/namespaces/shop/configmaps/api-config", "/api/v1/nodes"):
        assert reader.get(path) == over_http.get(path), path
    assert len(reader.get("/api/v1/namespaces/shop/pods")["items"]) >= 2
    labelled = reader.get("/api/v1/namespaces/shop/pods?labelSelector=app%3Dapi")["items"]
    assert labelled and {p["metadata"]["labels"]["app"] for p in labelled} == {"api"}
    for missing in ("/api/v1/namespaces/shop/configmaps/nope", "/api/v1/namespaces/nope/pods/x"):
        assert reader.get(missing) is None and over_http.get(missing) is None
    pod = labelled[0]["metadata"]["name"]
    for each in (reader, over_http):
        with pytest.raises(ClusterApiError, match="Upgrade request required") as raised:
            each.get(f"/api/v1/namespaces/shop/pods/{pod}/exec")
        assert raised.value.status == 400


def test_an_sre_episode_on_the_embedded_cluster_never_imports_the_kubernetes_client():
    """The judge reads in-process, so a runner worker skips the client's import (~0.15 s of every worker start)."""
    script = ("import sys, gymnasium as gym, opsgym\n"
              "env = gym.make('opsgym/SRE-1')\n"
              "env.reset(seed=0)\n"
              "env.step('kubectl get pods -A')\n"
              "_, _, done, _, info = env.step('submit {\"diagnosis\": \"x\"}')\n"
              "assert done and info['outcome']['checks'], info\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kubernetes'))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_load_replaces_what_a_previous_load_created(sim_cluster):
    sim_cluster.load("a", lambda: app_objects("first"))
    sim_cluster.load("b", lambda: app_objects("second"))
    names = {n.metadata.name for n in client.CoreV1Api(sim_cluster.api_client()).list_namespace().items}
    assert "second" in names and "first" not in names


def test_load_reports_bad_objects_and_scenarios_that_never_settle(sim_cluster):
    with pytest.raises(TaskSpecError, match=r"object #1 \(v1/Frobnicator 'x'\) is not a kind"):
        sim_cluster.load("bad-kind", lambda: [app_objects()[0], {"apiVersion": "v1", "kind": "Frobnicator",
                                                                 "metadata": {"name": "x"}}])
    rejected = r'\(ConfigMap shop/Bad\) was rejected .*metadata.name: Invalid value: "Bad"'
    with pytest.raises(TaskSpecError, match=rejected):
        sim_cluster.load("bad-name", lambda: [app_objects()[0], {"apiVersion": "v1", "kind": "ConfigMap",
                                                                 "metadata": {"name": "Bad", "namespace": "shop"}}])
    with pytest.raises(InfrastructureError, match="did not become ready within 30 virtual seconds"):
        sim_cluster.load("never", lambda: app_objects(mode="fast"), ready=lambda api: False, timeout_s=30)


@pytest.mark.parametrize("patch_type", ["merge", "strategic", "json"])
def test_patches_after_a_restore_do_not_corrupt_the_snapshot(sim_cluster, patch_type):
    """Stored objects are shared with snapshots: a patch must never edit them in place."""
    body = '{"data": {"extra": "1"}}'
    if patch_type == "json":
        body = '[{"op": "add", "path": "/data/extra", "value": "1"}]'
    argv = ["kubectl", "--kubeconfig", str(sim_cluster.kubeconfig), "patch", "configmap", "api-config", "-n", "shop",
            "--type", patch_type, "-p", body]
    sim_cluster.load("base", app_objects)
    for _ in range(3):  # each round restores the same snapshot, then patches the same stored object
        sim_cluster.load("base", app_objects)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    sim_cluster.load("base", app_objects)
    core = client.CoreV1Api(sim_cluster.api_client())
    assert "extra" not in (core.read_namespaced_config_map("api-config", "shop").data or {})
