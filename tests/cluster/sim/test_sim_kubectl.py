"""The real /usr/bin/kubectl against the embedded cluster: an incident an agent would work through, verb by verb.

One cluster is shared by the module (each kubectl process costs ~50 ms); the tests run in file order and build on
each other like an agent's session: look, diagnose, repair, then the other verbs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest
import yaml
from simkit import Kubectl, app_objects

from opsgym.cluster.sim import SimCluster

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(seed=1) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kube-cache"))


def api_pod(kubectl: Kubectl) -> str:
    return kubectl("get", "pods", "-n", "shop", "-l", "app=api", "-o", "jsonpath={.items[0].metadata.name}")


def test_apply_a_multi_service_app(cluster, kubectl):
    out = kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(app_objects()))
    for line in ("namespace/shop created", "configmap/api-config created", "deployment.apps/api created",
                 "service/db created", "deployment.apps/web created"):
        assert line in out
    cluster.advance(60)


def test_get_pods_wide_shows_the_crash_loop(kubectl):
    out = kubectl("get", "pods", "-n", "shop", "-o", "wide")
    header, *rows = out.splitlines()
    assert header.split()[:9] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED",
                                  "NODE"]
    api = next(r.split() for r in rows if r.startswith("api-"))
    assert api[1:3] == ["0/1", "CrashLoopBackOff"] and int(api[3]) >= 3 and api[5] == "ago)", api
    assert api[7].startswith("10.244.") and api[8].startswith("node-")
    for name in ("db-", "web-"):
        row = next(r.split() for r in rows if r.startswith(name))
        assert row[1:4] == ["1/1", "Running", "0"]


def test_describe_pod_shows_waiting_reason_exit_code_and_back_off(kubectl):
    out = kubectl("describe", "pod", "-n", "shop", api_pod(kubectl))
    assert "Reason:       CrashLoopBackOff" in out
    assert "Last State:     Terminated" in out and "Exit Code:    1" in out
    assert "Warning  BackOff" in out and "Back-off restarting failed container api in pod" in out
    assert "api-config  ConfigMap  Optional: false" in out


def test_logs_previous_shows_the_crash(kubectl):
    out = kubectl("logs", "-n", "shop", "deploy/api", "--previous")
    assert "invalid MODE 'turbo': expected fast or safe" in out
    assert kubectl("logs", "-n", "shop", api_pod(kubectl), "-c", "api", "--tail=1").count("\n") == 1


def test_events_by_field_selector(kubectl):
    out = kubectl("get", "events", "-n", "shop", "--field-selector", "reason=BackOff,involvedObject.kind=Pod")
    rows = out.splitlines()[1:]
    assert rows and all("BackOff" in r and "pod/api-" in r for r in rows)
    running = kubectl("get", "pods", "-n", "shop", "--field-selector", "status.phase=Running", "-o", "name")
    assert running.count("pod/") == len(kubectl("get", "pods", "-n", "shop", "-o", "name").split())


@pytest.mark.parametrize("plural, field", [("pods", "metadata.namesp"), ("pods", "metadata.labels.app"),
                                           ("deployments", "spec.replicas")])
def test_a_field_a_resource_cannot_be_selected_by_is_refused(kubectl, plural, field):
    result = kubectl.run("get", plural, "-n", "shop", "--field-selector", f"{field}=x")
    assert result.returncode == 1 and f"field label not supported: {field}" in result.stderr


def test_get_all_and_output_formats(kubectl):
    out = kubectl("get", "all", "-n", "shop")
    for prefix in ("pod/api-", "service/db ", "deployment.apps/api ", "replicaset.apps/web-"):
        assert prefix in out
    doc = yaml.safe_load(kubectl("get", "deploy", "api", "-n", "shop", "-o", "yaml"))
    assert doc["kind"] == "Deployment" and doc["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "25%"
    items = json.loads(kubectl("get", "svc", "-n", "shop", "-o", "json"))["items"]
    assert sorted(i["metadata"]["name"] for i in items) == ["api", "db", "web"]
    assert kubectl("get", "cm", "api-config", "-n", "shop", "-o", "jsonpath={.data.MODE}") == "turbo"


def test_a_services_backends_come_from_its_endpointslices_as_kubectl_reads_them(kubectl):
    """kubectl 1.32 describes a Service from its EndpointSlices: without them every Service showed no endpoints."""
    ips = kubectl("get", "pods", "-n", "shop", "-l", "app=db", "-o", "jsonpath={.items[*].status.podIP}").split()
    described = kubectl("describe", "svc", "db", "-n", "shop")
    assert ips and f"Endpoints:                {','.join(f'{ip}:5432' for ip in sorted(ips))}" in described
    table = kubectl("get", "endpointslices", "-n", "shop", "-l", "kubernetes.io/service-name=db").splitlines()
    assert table[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert table[1].startswith("db-") and table[1].split()[1:3] == ["IPv4", "5432"]
    not_ready = kubectl("get", "endpointslices", "-n", "shop", "-l", "kubernetes.io/service-name=api", "-o",
                        "jsonpath={.items[*].endpoints[*].conditions.ready}").split()
    assert not_ready and set(not_ready) == {"false"}  # the crash-looping api pods are listed, not ready
    name = table[1].split()[0]
    assert f'"{name}" deleted' in kubectl("delete", "endpointslice", name, "-n", "shop")
    recreated = kubectl("get", "endpointslice", name, "-n", "shop", "-o", "name")  # the controller puts it back
    assert recreated == f"endpointslice.discovery.k8s.io/{name}\n"


def test_repair_with_a_merge_patch_restart_and_rollout_status(kubectl):
    assert "patched" in kubectl("patch", "configmap", "api-config", "-n", "shop", "--type", "merge",
                                "-p", '{"data": {"MODE": "safe"}}')
    assert "restarted" in kubectl("rollout", "restart", "deployment/api", "-n", "shop")
    out = kubectl("rollout", "status", "deployment/api", "-n", "shop", "--timeout=60s")
    assert 'deployment "api" successfully rolled out' in out
    rows = [r.split() for r in kubectl("get", "pods", "-n", "shop", "-l", "app=api").splitlines()[1:]]
    assert [r[1:4] for r in rows] == [["1/1", "Running", "0"]]


def test_rollout_status_waits_in_virtual_time(cluster, kubectl):
    before = cluster.now()
    kubectl("patch", "deployment", "db", "-n", "shop", "-p", '{"spec": {"template": {"spec": {"containers": '
            '[{"name": "db", "readinessProbe": {"initialDelaySeconds": 40}}]}}}}')
    out = kubectl("rollout", "status", "deployment/db", "-n", "shop", "--timeout=60s")
    assert 'deployment "db" successfully rolled out' in out
    assert cluster.now() - before >= 40, "the waiting watch let the virtual clock run to the readiness delay"


def test_set_env_strategic_and_json_patches(kubectl):
    kubectl("set", "env", "deployment/api", "-n", "shop", "EXTRA=1")
    kubectl("patch", "deployment", "api", "-n", "shop", "-p",
            '{"spec": {"template": {"spec": {"containers": [{"name": "api", "env": '
            '[{"name": "EXTRA", "value": "2"}]}]}}}}')
    env = json.loads(kubectl("get", "deploy", "api", "-n", "shop", "-o",
                             "jsonpath={.spec.template.spec.containers[0].env}"))
    assert env == [{"name": "DB_ADDR", "value": "db:5432"}, {"name": "EXTRA", "value": "2"}]
    kubectl("patch", "deployment", "api", "-n", "shop", "--type", "json",
            "-p", '[{"op": "remove", "path": "/spec/template/spec/containers/0/env/1"}]')
    assert "EXTRA" not in kubectl("get", "deploy", "api", "-n", "shop", "-o", "yaml")


def test_rollout_history_and_undo(kubectl):
    history = kubectl("rollout", "history", "deployment/api", "-n", "shop")
    # the json patch above brought back revision 2's template, so that ReplicaSet became revision 5
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "3", "4", "5"]
    kubectl("rollout", "undo", "deployment/api", "-n", "shop")
    env = kubectl("get", "deploy", "api", "-n", "shop", "-o", "jsonpath={.spec.template.spec.containers[0].env}")
    assert '"EXTRA","value":"2"' in env.replace(" ", ""), "back to revision 4"


def test_apply_again_merges_three_ways(kubectl):
    out = kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(app_objects(mode="fast")))
    assert "configmap/api-config configured" in out and "deployment.apps/db unchanged" in out
    assert kubectl("get", "cm", "api-config", "-n", "shop", "-o", "jsonpath={.data.MODE}") == "fast"
    env = kubectl("get", "deploy", "api", "-n", "shop", "-o", "jsonpath={.spec.template.spec.containers[0].env}")
    assert "EXTRA" in env, "a field set outside apply survives the three-way merge"


def test_scale_and_delete(cluster, kubectl):
    assert "scaled" in kubectl("scale", "deployment/web", "-n", "shop", "--replicas=3")
    assert kubectl("get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.status.readyReplicas}") == "3"
    pod = kubectl("get", "pods", "-n", "shop", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
    assert f'pod "{pod}" deleted' in kubectl("delete", "pod", pod, "-n", "shop")
    names = kubectl("get", "pods", "-n", "shop", "-l", "app=web", "-o", "name").split()
    assert len(names) == 3 and f"pod/{pod}" not in names, "the ReplicaSet replaced it"
    kubectl("delete", "deployment", "web", "-n", "shop")
    assert kubectl("get", "pods", "-n", "shop", "-l", "app=web", "-o", "name") == ""


def test_dry_run_server_changes_nothing(kubectl):
    kubectl("scale", "deployment/db", "-n", "shop", "--replicas=5", "--dry-run=server")
    kubectl("delete", "deployment", "db", "-n", "shop", "--dry-run=server")
    assert kubectl("get", "deploy", "db", "-n", "shop", "-o", "jsonpath={.spec.replicas}") == "1"


@pytest.mark.parametrize("manifest, message", [
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}},
     'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"'),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "dat": {}},
     'strict decoding error: unknown field "dat"'),
    ({"apiVersion": "v1", "kind": "Frobnicator", "metadata": {"name": "x"}},
     'no matches for kind "Frobnicator" in version "v1"'),
])
def test_bad_manifests_fail_like_on_a_real_cluster(kubectl, manifest, message):
    result = kubectl.run("apply", "-n", "shop", "-f", "-", stdin=yaml.safe_dump(manifest))
    assert result.returncode != 0 and message in result.stderr


def test_malformed_yaml_and_unsupported_verbs_say_what_to_do(kubectl):
    result = kubectl.run("apply", "-f", "-", stdin="kind: ConfigMap\nmetadata: [oops\n")
    assert result.returncode != 0 and "error converting YAML to JSON" in result.stderr
    assert kubectl("create", "configmap", "lit", "-n", "shop", "--from-literal=a=b") == "configmap/lit created\n"
    piped = kubectl("create", "configmap", "piped", "-n", "shop", "--from-literal=a=b", "--dry-run=client", "-o",
                    "yaml")
    assert "configmap/piped created" in kubectl("apply", "-f", "-", stdin=piped)
    result = kubectl.run("exec", "-n", "shop", "deploy/db", "--", "ls", "/app")
    assert result.returncode == 0 and "db.py\n" in result.stdout
    result = kubectl.run("get", "pods", "-n", "shop", "-l", "app in (oops")
    assert result.returncode != 0


def test_raw_requests_reach_the_cluster(kubectl):
    assert kubectl("get", "--raw", "/healthz") == "ok"
    assert json.loads(kubectl("get", "--raw", "/api/v1/namespaces/shop/configmaps/api-config"))["data"]


def test_the_cluster_survives_all_of_the_above(kubectl):
    assert "Ready" in kubectl("get", "nodes")
    assert kubectl("delete", "namespace", "shop").strip() == 'namespace "shop" deleted'
    assert "shop" not in kubectl("get", "ns", "-o", "name")
