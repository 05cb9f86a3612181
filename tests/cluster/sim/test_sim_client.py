"""The official kubernetes Python client against the embedded cluster: typed APIs, the dynamic client, watches."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.exceptions import ApiException
from simkit import app_objects

from opsgym.cluster.sim import SimCluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(seed=2) as sim:
        sim.load("shop", lambda: app_objects(mode="turbo"))
        sim.advance(30)
        yield sim


@pytest.fixture(scope="module")
def core(cluster: SimCluster) -> client.CoreV1Api:
    return client.CoreV1Api(cluster.api_client())


@pytest.fixture(scope="module")
def apps(cluster: SimCluster) -> client.AppsV1Api:
    return client.AppsV1Api(cluster.api_client())


def test_typed_reads(core, apps):
    pods = core.list_namespaced_pod("shop", label_selector="app=api").items
    assert len(pods) == 1
    status = pods[0].status.container_statuses[0]
    assert status.state.waiting.reason == "CrashLoopBackOff" and status.last_state.terminated.exit_code == 1
    log = core.read_namespaced_pod_log(pods[0].metadata.name, "shop", previous=True)
    assert "invalid MODE 'turbo'" in log
    deploy = apps.read_namespaced_deployment("api", "shop")
    assert deploy.spec.strategy.rolling_update.max_surge == "25%" and deploy.status.ready_replicas is None
    events = core.list_namespaced_event("shop", field_selector=f"involvedObject.name={pods[0].metadata.name}").items
    assert {"Scheduled", "Started", "BackOff"} <= {e.reason for e in events}


def test_typed_writes_and_conflicts(core, apps):
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"a": "1"})
    created = core.create_namespaced_config_map("shop", body)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("shop", body)
    assert err.value.status == 409
    core.patch_namespaced_config_map("settings", "shop", {"data": {"a": "2"}})
    created.data = {"a": "3"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("settings", "shop", created)
    assert err.value.status == 409 and "the object has been modified" in err.value.body
    core.delete_namespaced_config_map("settings", "shop")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("settings", "shop")
    assert err.value.status == 404
    scale = apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 2}})
    assert scale.spec.replicas == 2
    assert len(core.list_namespaced_pod("shop", label_selector="app=web").items) == 2


def test_dynamic_client(cluster):
    dyn = dynamic.DynamicClient(cluster.api_client())
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    names = sorted(d.metadata.name for d in deployments.get(namespace="shop").items)
    assert names == ["api", "db", "web"]
    services = dyn.resources.get(api_version="v1", kind="Service")
    assert services.get(name="db", namespace="shop").spec.ports[0].port == 5432


def test_watch_streams_added_modified_deleted(core):
    seen: list[tuple[str, str]] = []
    version = core.list_namespaced_config_map("shop").metadata.resource_version
    done = threading.Event()

    def follow() -> None:
        for event in watch.Watch().stream(core.list_namespaced_config_map, "shop", resource_version=version,
                                          timeout_seconds=20):
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                break
        done.set()

    thread = threading.Thread(target=follow)
    thread.start()
    core.create_namespaced_config_map("shop", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w")))
    core.patch_namespaced_config_map("w", "shop", {"data": {"k": "v"}})
    core.delete_namespaced_config_map("w", "shop")
    assert done.wait(20)
    thread.join()
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_bad_requests_leave_the_server_healthy(cluster, core):
    api = cluster.api_client()
    for method, path, body in (("POST", "/api/v1/namespaces/shop/configmaps", "{not json"),
                               ("POST", "/api/v1/namespaces/shop/configmaps", '["a list"]'),
                               ("PATCH", "/api/v1/namespaces/shop/configmaps/api-config", '{"data": 5}'),
                               ("GET", "/api/v1/frobnicators", None),
                               ("PUT", "/apis/apps/v1/namespaces/shop/deployments/api", '{"spec": {"replicas": -1}}'),
                               ("GET", "/api/v1/namespaces/shop/pods?watch=1&timeoutSeconds=soon", None),
                               ("GET", "/api/v1/namespaces/shop/pods/x/log?tailLines=many", None),
                               ("GET", "/api/v1/namespaces//pods/a/b/c/d", None),
                               ("DELETE", "/api/v1/namespaces/shop/configmaps/api-config",
                                '{"propagationPolicy": "Sideways"}'),
                               ("DELETE", "/api/v1/namespaces/shop/configmaps/api-config",
                                '{"gracePeriodSeconds": "now"}'),
                               ("POST", "/api/v1/namespaces/shop/pods/x/exec", None)):
        response = api.rest_client.request(method, cluster.url + path, body=body, headers={
            "Content-Type": "application/merge-patch+json" if method == "PATCH" else "application/json"})
        assert 400 <= response.status < 500, (method, path, response.status)
    assert core.read_namespaced_config_map("api-config", "shop").data == {"MODE": "turbo"}
