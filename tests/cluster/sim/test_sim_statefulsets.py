"""StatefulSets and DaemonSets: ordinal pods in order, claims from templates, ordered scale-down and rolling updates;
one daemon pod per eligible node; and what the real kubectl shows of them (columns, rollout status, scale)."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator

import pytest
import yaml
from simkit import FakeRuntime, Kubectl, create, events, get, rows

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.status import ApiError


def statefulset(replicas: int = 3, *, ready_delay: int = 5, policy: str = "OrderedReady",
                strategy: dict | None = None) -> dict:
    container = {"name": "nginx", "image": "nginx:1.26", "env": [{"name": "BEHAVIOUR", "value": "serve"}],
                 "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}
    if ready_delay:
        container["readinessProbe"] = {"httpGet": {"path": "/", "port": 8080}, "initialDelaySeconds": ready_delay}
    spec = {"replicas": replicas, "serviceName": "web", "podManagementPolicy": policy,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}
    if strategy:
        spec["updateStrategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
            "spec": spec}


def daemonset(**template_spec: object) -> dict:
    container = {"name": "agent", "image": "busybox:1.36", "env": [{"name": "BEHAVIOUR", "value": "serve"}]}
    spec = {"containers": [container], **template_spec}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}}, "spec": spec}}}


def names(engine: Engine, plural: str = "pods", prefix: str = "web") -> list[str]:
    return [o["metadata"]["name"] for o in engine.store.items(plural, "default")
            if o["metadata"]["name"].startswith(prefix) and not o["metadata"].get("deletionTimestamp")]


def patch(engine: Engine, plural: str, name: str, body: dict) -> None:
    with engine.lock:
        engine.api.patch(lookup(plural), "default", name, "merge", body)
        engine.reconcile()


def messages(engine: Engine, reason: str) -> list[str]:
    return [e["message"] for e in sorted(events(engine, "default", reason), key=lambda e: e["metadata"]["name"])]


# ------------------------------------------------------------------------------------------------ StatefulSet
def test_ordered_ready_creates_each_ordinal_only_once_the_previous_is_ready(engine):
    create(engine, statefulset())
    assert names(engine) == ["web-0"]
    seen = []
    for _ in range(3):
        engine.advance(5)
        seen.append(names(engine))
    assert seen == [["web-0", "web-1"], ["web-0", "web-1", "web-2"], ["web-0", "web-1", "web-2"]]
    pod = get(engine, "pods", "web-1")
    assert pod["spec"]["hostname"] == "web-1" and pod["spec"]["subdomain"] == "web"
    assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    status = get(engine, "statefulsets", "web")["status"]
    assert (status["replicas"], status["readyReplicas"], status["currentReplicas"], status["updatedReplicas"]) == \
        (3, 3, 3, 3)
    assert status["currentRevision"] == status["updateRevision"] == \
        pod["metadata"]["labels"]["controller-revision-hash"]
    assert messages(engine, "SuccessfulCreate")[-1] == "create Pod web-2 in StatefulSet web successful"


def test_parallel_management_creates_every_ordinal_at_once(engine):
    create(engine, statefulset(policy="Parallel"))
    assert names(engine) == ["web-0", "web-1", "web-2"]


def test_claims_are_made_from_the_templates_and_mounted(engine):
    create(engine, statefulset(ready_delay=0))
    claims = {c["metadata"]["name"]: c for c in engine.store.items("persistentvolumeclaims", "default")}
    assert sorted(claims) == ["www-web-0", "www-web-1", "www-web-2"]
    assert claims["www-web-1"]["metadata"]["labels"] == {"app": "web"}
    assert "ownerReferences" not in claims["www-web-1"]["metadata"], "whenDeleted: Retain keeps claims unowned"
    volumes = get(engine, "pods", "web-1")["spec"]["volumes"]
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}} in volumes
    assert "create Claim www-web-1 Pod web-1 in StatefulSet web success" in messages(engine, "SuccessfulCreate")


def test_scale_down_removes_the_highest_ordinal_first_and_keeps_the_claims(engine):
    create(engine, statefulset(ready_delay=0))
    patch(engine, "statefulsets", "web", {"spec": {"replicas": 1}})
    assert names(engine) == ["web-0"]
    assert messages(engine, "SuccessfulDelete") == ["delete Pod web-2 in StatefulSet web successful",
                                                    "delete Pod web-1 in StatefulSet web successful"]
    assert len(engine.store.items("persistentvolumeclaims", "default")) == 3


def test_rolling_update_goes_from_the_highest_ordinal_down_to_the_partition(engine):
    create(engine, statefulset(strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
    engine.advance(15)
    old = get(engine, "statefulsets", "web")["status"]["currentRevision"]
    patch(engine, "statefulsets", "web", {"spec": {"template": {"spec": {"containers": [
        {**statefulset()["spec"]["template"]["spec"]["containers"][0], "image": "nginx:1.27"}]}}}})

    def images() -> dict[str, str]:
        return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in engine.store.items("pods")
                if p["metadata"]["name"].startswith("web")}

    assert images() == {"web-0": "nginx:1.26", "web-1": "nginx:1.26", "web-2": "nginx:1.27"}, \
        "web-2 is replaced first, and web-1 waits for it to be ready"
    engine.advance(15)
    assert images() == {"web-0": "nginx:1.26", "web-1": "nginx:1.27", "web-2": "nginx:1.27"}
    status = get(engine, "statefulsets", "web")["status"]
    assert status["currentRevision"] == old != status["updateRevision"]
    assert (status["updatedReplicas"], status["currentReplicas"]) == (2, 1)


def test_on_delete_waits_for_the_user_to_delete_a_pod(engine):
    create(engine, statefulset(ready_delay=0, strategy={"type": "OnDelete"}))
    patch(engine, "statefulsets", "web", {"spec": {"template": {"metadata": {"labels": {"app": "web", "v": "2"}}}}})
    assert all(p["metadata"]["labels"].get("v") is None for p in engine.store.items("pods", "default"))
    with engine.lock:
        engine.api.delete(lookup("pods"), "default", "web-1", {"gracePeriodSeconds": 0})
        engine.reconcile()
    assert get(engine, "pods", "web-1")["metadata"]["labels"]["v"] == "2"


@pytest.mark.parametrize(("change", "message"), [
    ({"spec": {"serviceName": "other"}}, "spec: Forbidden: updates to statefulset spec for fields other than "
     "'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
     "'minReadySeconds' are forbidden"),
    ({"spec": {"podManagementPolicy": "Sometimes"}}, 'spec.podManagementPolicy: Unsupported value: "Sometimes": '
     'supported values: "OrderedReady", "Parallel"'),
])
def test_what_a_statefulset_update_may_not_change(engine, change, message):
    create(engine, statefulset(replicas=1))
    with pytest.raises(ApiError) as caught, engine.lock:
        engine.api.patch(lookup("statefulsets"), "default", "web", "merge", change)
    assert message in caught.value.message


def test_defaults_are_the_api_servers(engine):
    spec = create(engine, statefulset(replicas=1))["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["revisionHistoryLimit"] == 10 and spec["template"]["spec"]["restartPolicy"] == "Always"
    assert spec["volumeClaimTemplates"][0]["spec"]["volumeMode"] == "Filesystem"
    ds = create(engine, daemonset())["spec"]
    assert ds["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}


# ------------------------------------------------------------------------------------------------ DaemonSet
def test_a_daemonset_runs_one_pod_per_node_bound_to_it(engine):
    create(engine, daemonset())
    pods = [p for p in engine.store.items("pods", "default") if p["metadata"]["name"].startswith("agent-")]
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2"]
    for pod in pods:
        term = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["nodeSelectorTerms"] == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                               "values": [pod["spec"]["nodeName"]]}]}]
        assert {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"} in \
            pod["spec"]["tolerations"]
    status = get(engine, "daemonsets", "agent")["status"]
    assert status == {"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberAvailable": 2,
                      "numberMisscheduled": 0, "numberReady": 2, "observedGeneration": 1,
                      "updatedNumberScheduled": 2}


def test_node_selector_and_untolerated_taints_limit_the_nodes(engine):
    with engine.lock:
        engine.api.patch(lookup("nodes"), "", "node-1", "merge", {"metadata": {"labels": {"disk": "ssd"}}})
        engine.api.patch(lookup("nodes"), "", "node-2", "merge", {"spec": {"taints": [
            {"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}})
    create(engine, daemonset(nodeSelector={"disk": "ssd"}))
    assert get(engine, "daemonsets", "agent")["status"]["desiredNumberScheduled"] == 1
    with engine.lock:
        engine.api.delete(lookup("daemonsets"), "default", "agent")
        engine.reconcile()
    tolerant = daemonset(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "db",
                                       "effect": "NoSchedule"}])
    create(engine, tolerant)
    assert get(engine, "daemonsets", "agent")["status"]["desiredNumberScheduled"] == 2


def test_a_cordoned_node_still_runs_its_daemon(engine):
    with engine.lock:
        engine.api.patch(lookup("nodes"), "", "node-2", "merge", {"spec": {"unschedulable": True}})
    create(engine, daemonset())
    assert sorted(p["spec"].get("nodeName") for p in engine.store.items("pods", "default")) == ["node-1", "node-2"]


def test_a_daemonset_rolls_one_node_at_a_time(engine):
    ds = daemonset()
    ds["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/", "port": 8080}, "initialDelaySeconds": 10}
    create(engine, ds)
    engine.advance(10)
    changed = copy.deepcopy(ds["spec"]["template"]["spec"]["containers"][0]) | {"image": "busybox:1.37"}
    patch(engine, "daemonsets", "agent", {"spec": {"template": {"spec": {"containers": [changed]}}}})
    seen = []
    for _ in range(4):
        pods = [p for p in engine.store.items("pods", "default") if not p["metadata"].get("deletionTimestamp")]
        seen.append(sorted(p["spec"]["containers"][0]["image"] for p in pods))
        engine.advance(10)
    assert seen[0] == ["busybox:1.36", "busybox:1.37"] and seen[-1] == ["busybox:1.37", "busybox:1.37"], seen
    status = get(engine, "daemonsets", "agent")["status"]
    assert status["updatedNumberScheduled"] == status["numberAvailable"] == 2


# ------------------------------------------------------------------------------------------------ kubectl
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(seed=3, runner=FakeRuntime()) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kube-cache"))


@needs_kubectl
def test_kubectl_sees_web_1_only_after_web_0_is_ready(kubectl):
    manifest = statefulset()
    del manifest["metadata"]["namespace"]
    assert kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest)) == "statefulset.apps/web created\n"
    assert [r[0] for r in rows(kubectl("get", "pods", "-l", "app=web"))[1:]] == ["web-0"]
    out = kubectl("rollout", "status", "statefulset/web", "--timeout=60s")
    assert out.splitlines()[0] == "Waiting for 3 pods to be ready..."
    assert out.splitlines()[-1] == "partitioned roll out complete: 3 new pods have been updated..."
    assert [r[0] for r in rows(kubectl("get", "pods", "-l", "app=web"))[1:]] == ["web-0", "web-1", "web-2"]
    assert kubectl("get", "pvc", "-o", "name").split() == [f"persistentvolumeclaim/www-web-{i}" for i in range(3)]


@needs_kubectl
def test_kubectl_get_statefulset_columns(kubectl):
    assert rows(kubectl("get", "sts"))[0] == ["NAME", "READY", "AGE"]
    assert rows(kubectl("get", "sts"))[1][:2] == ["web", "3/3"]
    wide = rows(kubectl("get", "sts", "-o", "wide"))
    assert wide[0] == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"] and wide[1][3:] == ["nginx", "nginx:1.26"]


@needs_kubectl
def test_kubectl_scale_down_removes_the_highest_ordinal(kubectl):
    assert kubectl("scale", "sts/web", "--replicas=2") == "statefulset.apps/web scaled\n"
    assert [r[0] for r in rows(kubectl("get", "pods", "-l", "app=web"))[1:]] == ["web-0", "web-1"]
    assert rows(kubectl("get", "sts", "web"))[1][1] == "2/2"


@needs_kubectl
def test_kubectl_rollout_restart_replaces_the_pods(cluster, kubectl):
    before = kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.uid}").split()
    assert "restarted" in kubectl("rollout", "restart", "sts/web")
    out = kubectl("rollout", "status", "sts/web", "--timeout=60s")
    assert out.splitlines()[-1] == "partitioned roll out complete: 2 new pods have been updated..."
    after = kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.uid}").split()
    assert len(after) == 2 and not set(before) & set(after)
    deleted = [e["message"] for e in sorted(cluster.engine.store.items("events", "default"),
                                            key=lambda e: e["metadata"]["name"]) if e["reason"] == "SuccessfulDelete"]
    assert deleted[-2:] == ["delete Pod web-1 in StatefulSet web successful",
                            "delete Pod web-0 in StatefulSet web successful"]


@needs_kubectl
def test_kubectl_daemonset_columns_and_rollout(kubectl):
    manifest = daemonset(nodeSelector={"kubernetes.io/os": "linux"})
    del manifest["metadata"]["namespace"]
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))
    table = rows(kubectl("get", "ds"))
    assert table[0] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR", "AGE"]
    assert table[1][:7] == ["agent", "2", "2", "2", "2", "2", "kubernetes.io/os=linux"]
    assert rows(kubectl("get", "ds", "-o", "wide"))[1][-3:] == ["agent", "busybox:1.36", "app=agent"]
    assert "restarted" in kubectl("rollout", "restart", "ds/agent")
    assert kubectl("rollout", "status", "ds/agent", "--timeout=60s").splitlines()[-1] == \
        'daemon set "agent" successfully rolled out'


@needs_kubectl
def test_kubectl_rollout_history_needs_controller_revisions(kubectl):
    result = kubectl.run("rollout", "history", "sts/web")
    assert result.returncode == 1 and "unable to find history controlled by StatefulSet web" in result.stderr


def test_a_selector_that_misses_the_template_is_refused_in_the_api_servers_words(engine):
    manifest = statefulset()
    manifest["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiError) as caught:
        create(engine, manifest)
    assert caught.value.message == 'StatefulSet.apps "web" is invalid: spec.template.metadata.labels: Invalid value: ' \
        'map[string]string{"app":"other"}: `selector` does not match template `labels`'
