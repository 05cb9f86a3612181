"""Label selectors in the embedded cluster: a Deployment selecting by ``matchExpressions`` owns, counts and releases
its pods by the whole selector; ``-l`` queries use the set forms; the printed selector is one kubectl can send back."""

from __future__ import annotations

import copy

import pytest
from simkit import create, get

from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import BY_KIND, lookup
from opsgym.cluster.sim.status import ApiError

SELECTOR = {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary", "quarantine"]},
                                 {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                                 {"key": "debug", "operator": "DoesNotExist"}]}


def deployment(selector: dict, labels: dict[str, str], replicas: int = 3) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": selector,
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}}


def live_pods(engine: Engine) -> list[dict]:
    return [p for p in engine.store.items("pods", "default") if not p["metadata"].get("deletionTimestamp")]


def test_a_deployment_selecting_by_expressions_runs_its_pods(engine):
    create(engine, deployment(SELECTOR, {"app": "web", "tier": "front"}))
    engine.advance(30)
    rs = engine.store.items("replicasets", "default")[0]
    assert rs["spec"]["selector"]["matchExpressions"] == SELECTOR["matchExpressions"]  # carried over, plus the hash
    assert set(rs["spec"]["selector"]["matchLabels"]) == {"app", "pod-template-hash"}
    status = get(engine, "deployments", "web")["status"]
    assert (status["replicas"], status["readyReplicas"]) == (3, 3) and len(live_pods(engine)) == 3


@pytest.mark.parametrize("labels", [{"track": "canary"}, {"tier": "back"}, {"debug": "1"}])
def test_a_pod_relabelled_out_of_an_expression_is_released_and_replaced(engine, labels):
    """Each expression counts: breaking any one of NotIn, In or DoesNotExist lets the pod go."""
    create(engine, deployment(SELECTOR, {"app": "web", "tier": "front"}, replicas=2))
    engine.advance(30)
    released = live_pods(engine)[0]["metadata"]["name"]
    with engine.lock:
        engine.api.patch(lookup("pods"), "default", released, "strategic", {"metadata": {"labels": labels}})
        engine.reconcile()
    engine.advance(30)
    assert "ownerReferences" not in get(engine, "pods", released)["metadata"]
    owned = [p for p in live_pods(engine) if p["metadata"].get("ownerReferences")]
    assert len(owned) == 2 and released not in {p["metadata"]["name"] for p in owned}
    rs = engine.store.items("replicasets", "default")[0]
    assert (rs["status"]["replicas"], rs["status"]["fullyLabeledReplicas"]) == (2, 2)


@pytest.mark.parametrize("labels", [{"app": "web", "tier": "back"}, {"app": "web"},
                                    {"app": "web", "tier": "front", "track": "canary"}])
def test_a_template_its_own_expressions_do_not_select_is_refused(engine, labels):
    rt = BY_KIND[("apps/v1", "Deployment")]
    with engine.lock, pytest.raises(ApiError) as refused:
        engine.api.create(rt, "default", copy.deepcopy(deployment(SELECTOR, labels)))
    assert refused.value.code == 422 and "`selector` does not match template `labels`" in refused.value.message


def test_set_based_label_queries(engine):
    for name, labels in {"a": {"env": "prod"}, "b": {"env": "canary", "debug": "1"}, "c": {}}.items():
        create(engine, {"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": name, "namespace": "default", "labels": labels},
                        "spec": {"containers": [{"name": "main", "image": "busybox"}]}})

    def names(query: str) -> list[str]:
        return sorted(p["metadata"]["name"] for p in engine.api.list(lookup("pods"), "default", query))

    assert names("env notin (canary)") == ["a", "c"]
    assert names("env in (prod,canary),!debug") == ["a"]
    assert names("debug") == ["b"]
    with pytest.raises(ApiError) as refused:
        names("env in prod")
    assert refused.value.code == 400 and "unable to parse requirement" in refused.value.message


def test_the_printed_selector_selects_what_the_object_does(engine):
    """The Scale subresource (and ``-o wide``) print the selector as text; fed back to ``-l`` it selects the
    Deployment's pods and nothing else."""
    created = create(engine, deployment(SELECTOR, {"app": "web", "tier": "front"}, replicas=2))
    create(engine, {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "canary", "namespace": "default",
                                 "labels": {"app": "web", "tier": "front", "track": "canary"}},
                    "spec": {"containers": [{"name": "main", "image": "busybox"}]}})
    text = engine.api.scale(lookup("deployments"), created)["status"]["selector"]
    assert text == "app=web,track notin (canary,quarantine),tier in (edge,front),!debug"
    selected = {p["metadata"]["name"] for p in engine.api.list(lookup("pods"), "default", text)}
    assert selected == {p["metadata"]["name"] for p in live_pods(engine) if p["metadata"]["name"] != "canary"}
    assert len(selected) == 2
