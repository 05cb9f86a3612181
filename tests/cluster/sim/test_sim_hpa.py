"""The HorizontalPodAutoscaler on the virtual clock, driven by the Metrics API's numbers, through the real kubectl.

One cluster per module; the tests run in file order like an incident: load rises, the HPA scales up to its maximum,
load falls, and it scales down only once the stabilization window has passed.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator

import pytest
import yaml
from simkit import Kubectl, create, get
from test_sim_metrics import shop

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.engine import Engine

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
       "metadata": {"name": "web", "namespace": "shop"},
       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimCluster, Kubectl]]:
    with SimCluster(seed=5) as cluster:
        kubectl = Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kube-cache"))
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([*shop(), HPA]))
        yield cluster, kubectl


def hpa_row(kubectl: Kubectl, name: str = "web") -> list[str]:
    header, row = kubectl("get", "hpa", "-n", "shop", name).splitlines()
    assert header.split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    return row.split()


def condition(kubectl: Kubectl, kind: str, name: str = "web") -> dict:
    status = json.loads(kubectl("get", "hpa", "-n", "shop", name, "-o", "json"))["status"]
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_targets_are_unknown_until_the_first_sync(sim):
    cluster, kubectl = sim
    assert hpa_row(kubectl)[2:5] == ["cpu:", "<unknown>/50%", "1"]
    cluster.advance(60)
    row = hpa_row(kubectl)
    assert row[1:3] == ["Deployment/web", "cpu:"] and row[3].endswith("%/50%") and row[6] == "1"
    assert condition(kubectl, "ScalingActive")["reason"] == "ValidMetricFound"
    assert condition(kubectl, "ScalingLimited")["reason"] == "DesiredWithinRange"


def test_load_scales_the_deployment_up(sim):
    cluster, kubectl = sim
    cluster.engine.metrics.set_load("shop", "web", 30)
    cluster.advance(20)
    row = hpa_row(kubectl)
    assert int(row[3].split("%")[0]) > 100 and row[6] == "1", row  # REPLICAS: what the sync found
    assert kubectl("get", "hpa", "-n", "shop", "web", "-o", "jsonpath={.status.desiredReplicas}") == "4"
    events = kubectl("get", "events", "-n", "shop", "--field-selector", "involvedObject.kind=HorizontalPodAutoscaler")
    assert "SuccessfulRescale" in events
    assert "New size: 4; reason: cpu resource utilization (percentage of request) above target" in events
    assert kubectl("get", "deploy", "-n", "shop", "web", "-o", "jsonpath={.spec.replicas}") == "4"


def test_max_replicas_limits_scaling(sim):
    cluster, kubectl = sim
    cluster.advance(60)
    assert hpa_row(kubectl)[6] == "5"
    limited = condition(kubectl, "ScalingLimited")
    assert (limited["status"], limited["reason"]) == ("True", "TooManyReplicas")
    out = kubectl("describe", "hpa", "-n", "shop", "web")
    assert "the desired replica count is more than the maximum replica count" in out
    assert "resource cpu on pods  (as a percentage of request):" in out
    assert "Deployment pods:" in out and "5 current / 5 desired" in out
    assert len(kubectl("top", "pods", "-n", "shop", "-l", "app=web").splitlines()) == 6


def test_scale_down_waits_for_the_stabilization_window(sim):
    cluster, kubectl = sim
    cluster.engine.metrics.set_load("shop", "web", 0)
    cluster.advance(120)
    assert hpa_row(kubectl)[6] == "5"
    stabilized = condition(kubectl, "AbleToScale")
    assert stabilized["reason"] == "ScaleDownStabilized"
    assert stabilized["message"] == ("recent recommendations were higher than current one, applying the highest "
                                     "recent recommendation")
    cluster.advance(240)
    assert hpa_row(kubectl)[6] == "1"
    events = kubectl("get", "events", "-n", "shop", "--field-selector", "reason=SuccessfulRescale")
    assert "New size: 1; reason: All metrics below target" in events


def test_missing_requests_stop_the_hpa(sim):
    cluster, kubectl = sim
    api = copy.deepcopy(HPA)
    api["metadata"]["name"] = api["spec"]["scaleTargetRef"]["name"] = "api"
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(api))
    cluster.advance(30)
    assert hpa_row(kubectl, "api")[2:4] == ["cpu:", "<unknown>/50%"]
    active = condition(kubectl, "ScalingActive", "api")
    pod = kubectl("get", "pods", "-n", "shop", "-l", "app=api", "-o", "jsonpath={.items[0].metadata.name}")
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"] == ("the HPA was unable to compute the replica count: failed to get cpu utilization: "
                                 f"missing request for cpu in container api of Pod {pod}")
    events = kubectl("get", "events", "-n", "shop", "--field-selector", "involvedObject.name=api,type=Warning")
    assert "FailedGetResourceMetric" in events and "FailedComputeMetricsReplicas" in events
    assert "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value" in events


def test_a_missing_target_cannot_be_scaled(sim):
    cluster, kubectl = sim
    ghost = copy.deepcopy(HPA)
    ghost["metadata"]["name"] = ghost["spec"]["scaleTargetRef"]["name"] = "ghost"
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(ghost))
    cluster.advance(15)
    able = condition(kubectl, "AbleToScale", "ghost")
    assert (able["status"], able["reason"]) == ("False", "FailedGetScale")
    assert able["message"] == ('the HPA controller was unable to get the target\'s current scale: '
                               'deployments.apps "ghost" not found')


def test_kubectl_autoscale_creates_an_autoscaling_v1_hpa(sim):
    cluster, kubectl = sim
    out = kubectl("autoscale", "deployment", "db", "-n", "shop", "--cpu-percent=60", "--min=1", "--max=3")
    assert out.strip() == "horizontalpodautoscaler.autoscaling/db autoscaled"
    stored = json.loads(kubectl("get", "hpa", "-n", "shop", "db", "-o", "json"))
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}
    v1 = json.loads(kubectl("get", "--raw", "/apis/autoscaling/v1/namespaces/shop/horizontalpodautoscalers/db"))
    assert v1["apiVersion"] == "autoscaling/v1" and v1["spec"]["targetCPUUtilizationPercentage"] == 60


def test_autoscale_dry_run_manifest_applies(sim):
    _, kubectl = sim
    manifest = kubectl("autoscale", "deployment", "api", "-n", "shop", "--name=api-v1", "--cpu-percent=70",
                       "--max=4", "--dry-run=client", "-o", "yaml")
    assert "autoscaling/v1" in manifest
    created = kubectl("apply", "-n", "shop", "-f", "-", stdin=manifest)
    assert created.strip() == "horizontalpodautoscaler.autoscaling/api-v1 created"
    manifest = manifest.replace("maxReplicas: 4", "maxReplicas: 6")
    assert "configured" in kubectl("apply", "-n", "shop", "-f", "-", stdin=manifest)
    assert hpa_row(kubectl, "api-v1")[5] == "6"


def test_invalid_hpa_is_refused(sim):
    _, kubectl = sim
    bad = copy.deepcopy(HPA)
    bad["metadata"]["name"] = "bad"
    bad["spec"] |= {"minReplicas": 3, "maxReplicas": 2}
    result = kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(bad))
    assert result.returncode == 1
    assert "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`" in result.stderr


# ---------------------------------------------------------------------------------------------------- engine level
def scaled_app(engine: Engine, hpa: dict) -> None:
    for obj in (*shop(), hpa):
        create(engine, obj)
    engine.advance(45)


def test_no_hpa_no_timer(fake_runtime):
    engine = Engine(seed=1, runner=fake_runtime)
    engine.advance(30)
    assert engine.autoscaler.next_timer() is None


def test_behavior_policies_limit_the_rate():
    hpa = copy.deepcopy(HPA)
    hpa["spec"]["behavior"] = {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    engine = Engine(seed=2)
    scaled_app(engine, hpa)
    stored = get(engine, "horizontalpodautoscalers", "web", "shop")
    assert stored["spec"]["behavior"]["scaleDown"]["policies"] == [{"type": "Percent", "value": 100,
                                                                    "periodSeconds": 15}]
    engine.metrics.set_load("shop", "web", 60)
    engine.advance(30)
    assert get(engine, "deployments", "web", "shop")["spec"]["replicas"] == 2
    limited = next(c for c in get(engine, "horizontalpodautoscalers", "web", "shop")["status"]["conditions"]
                   if c["type"] == "ScalingLimited")
    assert limited["reason"] == "ScaleUpLimit"
    engine.advance(60)
    assert get(engine, "deployments", "web", "shop")["spec"]["replicas"] == 3


def test_memory_average_value_and_determinism():
    hpa = copy.deepcopy(HPA)
    hpa["spec"]["metrics"] = [{"type": "Resource", "resource": {"name": "memory", "target": {
        "type": "AverageValue", "averageValue": "10Mi"}}}]
    runs = []
    for _ in range(2):
        engine = Engine(seed=3)
        scaled_app(engine, hpa)
        engine.advance(60)
        runs.append(get(engine, "horizontalpodautoscalers", "web", "shop")["status"])
        messages = [e["message"] for e in engine.store.items("events", "shop") if e["reason"] == "SuccessfulRescale"]
        sizes = [int(m.split(";")[0].split()[-1]) for m in messages]
        # ~20 MiB per pod against 10 MiB: twice the pods, step by step as new pods get metrics, capped at 5
        assert sizes == sorted(sizes) and sizes[-1] == 5 and len(sizes) >= 2, messages
        assert all(m.endswith("; reason: memory resource above target") for m in messages)
    assert runs[0] == runs[1]
    assert runs[0]["desiredReplicas"] == 5
    average = runs[0]["currentMetrics"][0]["resource"]["current"]["averageValue"]
    assert 19 * 2**20 <= float(average.rstrip("m")) / (1000 if average.endswith("m") else 1) <= 23 * 2**20


def test_snapshot_keeps_the_controller_memory():
    engine = Engine(seed=4)
    scaled_app(engine, HPA)
    engine.metrics.set_load("shop", "web", 30)
    snap = engine.snapshot()
    engine.advance(60)
    after = get(engine, "horizontalpodautoscalers", "web", "shop")["status"]
    engine.restore(snap)
    assert engine.metrics.loads == {("shop", "web"): 30.0}
    engine.advance(60)
    assert get(engine, "horizontalpodautoscalers", "web", "shop")["status"] == after
