"""The SRE checks find a Deployment's pods by its whole selector — ``matchLabels`` and ``matchExpressions`` — as the
ReplicaSet controller does, so a stray pod that shares a label (a debug copy, a canary) is not judged as one of them.

The cluster is the embedded one with a stand-in container runtime (no programs to run): each container serves, or
exits 1 when its ``BEHAVIOUR`` is ``crash``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from opsgym.cluster.sim.cluster import EngineReader
from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import BY_KIND
from opsgym.runtime.sim import ContainerRun
from opsgym.sre.checks import ClusterView, baseline, crashlooping, restart_marks, workload_checks


def runtime(**kwargs: Any) -> ContainerRun:
    if kwargs["env"].get("BEHAVIOUR") == "crash":
        return ContainerRun(("fatal: boom",), 1, "Error", 10.0, False, False, None)
    return ContainerRun(("serving",), None, "", 10.0, True, True, 8080)


def container(behaviour: str) -> dict[str, Any]:
    return {"name": "api", "image": "api:1", "env": [{"name": "BEHAVIOUR", "value": behaviour}]}


SELECTORS = {
    "matchLabels and DoesNotExist": (
        {"matchLabels": {"app": "api"}, "matchExpressions": [{"key": "debug", "operator": "DoesNotExist"}]},
        {"app": "api"}, {"app": "api", "debug": "true"}),
    "In and NotIn": (
        {"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]},
                              {"key": "track", "operator": "NotIn", "values": ["canary", "debug"]}]},
        {"app": "api"}, {"app": "api", "track": "canary"}),
    "Exists": (
        {"matchExpressions": [{"key": "role", "operator": "Exists"},
                              {"key": "app", "operator": "In", "values": ["api"]}]},
        {"app": "api", "role": "server"}, {"app": "api"}),
}
"""selector, the template's labels, and the labels of a stray pod that the selector does not select."""


def objects(selector: dict[str, Any], template: dict[str, str], stray: dict[str, str],
            behaviour: str) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "default"},
         "spec": {"replicas": 2, "selector": selector,
                  "template": {"metadata": {"labels": template}, "spec": {"containers": [container(behaviour)]}}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-stray", "namespace": "default", "labels": stray},
         "spec": {"containers": [container("serve")]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "default"},
         "spec": {"selector": {"app": "api"}, "ports": [{"port": 8080}]}},
    ]


def start(objs: list[dict[str, Any]], seconds: float) -> ClusterView:
    engine = Engine(seed=3, runner=runtime)
    with engine.lock:
        for obj in objs:
            engine.api.create(BY_KIND[(obj["apiVersion"], obj["kind"])], "default", copy.deepcopy(obj))
        engine.reconcile()
    engine.advance(seconds)
    return ClusterView(EngineReader(engine))


@pytest.mark.parametrize("case", sorted(SELECTORS))
def test_a_deployments_pods_are_those_its_whole_selector_selects(case):
    objs = objects(*SELECTORS[case], behaviour="serve")
    view = start(objs, 60)
    deployment = view.get("Deployment", "default", "api")
    assert deployment is not None
    pods = sorted(p["metadata"]["name"] for p in view.pods("default", deployment))
    assert len(pods) == 2 and "api-stray" not in pods and all(p.startswith("api-") for p in pods)
    assert sorted(restart_marks(view, "default", "api")) == pods
    checks = {c.name: c for c in workload_checks(view, baseline(objs), "default", "api")}
    assert checks["api-pods-ready"].passed, checks["api-pods-ready"].detail
    assert checks["api-pods-ready"].detail.startswith("2/2 pods ready (2 live)")


@pytest.mark.parametrize("case", sorted(SELECTORS))
def test_a_crash_loop_is_seen_past_a_stray_pod_that_serves(case):
    """The fault is observable when every selected pod restarted; the serving stray pod (0 restarts) is not one."""
    view = start(objects(*SELECTORS[case], behaviour="crash"), 300)
    assert crashlooping(view, "default", "api", [])
