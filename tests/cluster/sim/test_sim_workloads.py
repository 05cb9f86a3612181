"""Deployments and ReplicaSets: rolling updates within maxSurge/maxUnavailable, Recreate, undo, history,
progress deadlines; and the engine as a whole: determinism and snapshots."""

from __future__ import annotations

import copy
import json

import pytest
from simkit import FakeRuntime, create, get

from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.tables import pod_status_reason


def deployment(replicas: int = 4, behaviour: str = "serve", *, strategy: dict | None = None,
               ready_delay: int = 0) -> dict:
    container = {"name": "web", "image": "web:1", "env": [{"name": "BEHAVIOUR", "value": behaviour}]}
    if ready_delay:
        container["readinessProbe"] = {"httpGet": {"path": "/", "port": 8080}, "initialDelaySeconds": ready_delay}
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}}
    if strategy:
        spec["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": spec}


def patch(engine: Engine, body: dict, plural: str = "deployments", name: str = "web", kind: str = "strategic"):
    with engine.lock:
        engine.api.patch(lookup(plural), "default", name, kind, body)
        engine.reconcile()


def set_image(engine: Engine, image: str) -> None:
    patch(engine, {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})


def live_pods(engine: Engine) -> list[dict]:
    return [p for p in engine.store.items("pods", "default") if not p["metadata"].get("deletionTimestamp")]


def images(engine: Engine) -> list[str]:
    return sorted(p["spec"]["containers"][0]["image"] for p in live_pods(engine))


def revisions(engine: Engine) -> dict[str, str]:
    return {rs["spec"]["template"]["spec"]["containers"][0]["image"]:
            rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            for rs in engine.store.items("replicasets", "default")}


def test_a_deployment_creates_a_replicaset_and_ready_pods(engine):
    create(engine, deployment())
    rs = engine.store.items("replicasets", "default")[0]
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}" and rs["spec"]["selector"]["matchLabels"]["pod-template-hash"]
    assert all(p["metadata"]["name"].startswith(f"web-{pod_hash}-") for p in live_pods(engine))
    status = get(engine, "deployments", "web")["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (4, 4, 4)
    assert {c["type"]: c["reason"] for c in status["conditions"]} == {"Available": "MinimumReplicasAvailable",
                                                                      "Progressing": "NewReplicaSetAvailable"}


def test_rolling_update_stays_within_surge_and_unavailability(engine):
    create(engine, deployment(ready_delay=10))
    engine.advance(10)
    set_image(engine, "web:2")
    seen = []
    for _ in range(12):
        pods = live_pods(engine)
        ready = [p for p in pods if pod_status_reason(p)[1] == 1]
        seen.append((len(pods), len(ready)))
        engine.advance(5)
    assert all(total <= 4 + 1 and ready >= 4 - 1 for total, ready in seen), seen
    assert images(engine) == ["web:2"] * 4
    status = get(engine, "deployments", "web")["status"]
    assert status["updatedReplicas"] == status["availableReplicas"] == 4 and "unavailableReplicas" not in status


def test_recreate_strategy_stops_old_pods_first(engine):
    create(engine, deployment(strategy={"type": "Recreate"}, ready_delay=5))
    engine.advance(5)
    set_image(engine, "web:2")
    assert images(engine) == ["web:2"] * 4, "the old pods are gone before the new ones start"
    assert all(pod_status_reason(p)[1] == 0 for p in live_pods(engine))


def test_rollout_undo_brings_back_the_old_replicaset_with_a_new_revision(engine):
    create(engine, deployment(2))
    set_image(engine, "web:2")
    assert revisions(engine) == {"web:1": "1", "web:2": "2"}
    old = next(rs for rs in engine.store.items("replicasets", "default")
               if rs["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1")
    template = copy.deepcopy(old["spec"]["template"])
    del template["metadata"]["labels"]["pod-template-hash"]
    patch(engine, [{"op": "replace", "path": "/spec/template", "value": template}], kind="json")
    assert revisions(engine) == {"web:1": "3", "web:2": "2"}
    assert len(engine.store.items("replicasets", "default")) == 2 and images(engine) == ["web:1", "web:1"]
    rs = get(engine, "replicasets", old["metadata"]["name"])
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"


def test_restart_and_history_limit(engine):
    manifest = deployment(1)
    manifest["spec"]["revisionHistoryLimit"] = 2
    create(engine, manifest)
    for i in range(5):  # the simulator stamps each restart with its own clock, so each is a second later
        engine.advance(1)
        patch(engine, {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": f"2030-01-01T00:00:0{i}Z"}}}}})  # the host clock
    assert len(engine.store.items("replicasets", "default")) == 3, "the live one plus two old revisions"
    assert get(engine, "deployments", "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "6"


def test_a_crash_looping_rollout_exceeds_its_progress_deadline(engine):
    create(engine, deployment(2))
    set_image(engine, "web:2")
    patch(engine, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "BEHAVIOUR", "value": "crash"}]}]}}}})
    engine.advance(300)
    progressing = next(c for c in get(engine, "deployments", "web")["status"]["conditions"]
                       if c["type"] == "Progressing")
    assert progressing["status"] == "True" and progressing["reason"] == "ReplicaSetUpdated"
    engine.advance(400)
    progressing = next(c for c in get(engine, "deployments", "web")["status"]["conditions"]
                       if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    pods = live_pods(engine)
    assert len(pods) == 3 and sum(pod_status_reason(p)[1] for p in pods) == 2, \
        "maxUnavailable rounds down to 0: both old pods keep serving beside one crashing new pod"


def test_scaling_down_removes_unready_pods_first(engine):
    create(engine, deployment(2, ready_delay=30))
    engine.advance(30)
    original = {p["metadata"]["name"] for p in live_pods(engine)}
    patch(engine, {"spec": {"replicas": 3}}, kind="merge")
    assert len(live_pods(engine)) == 3
    patch(engine, {"spec": {"replicas": 2}}, kind="merge")
    assert {p["metadata"]["name"] for p in live_pods(engine)} == original, "the new, not yet ready pod went"
    events = [e["message"] for e in engine.store.items("events", "default") if e["reason"] == "ScalingReplicaSet"]
    assert any(m.startswith("Scaled down replica set web-") and m.endswith("from 3 to 2") for m in events)


def dump(engine: Engine) -> str:
    return json.dumps({plural: engine.store.items(plural) for plural in engine.store._objects}, sort_keys=True)


def scenario(engine: Engine) -> None:
    create(engine, deployment(3, ready_delay=5))
    engine.advance(7)
    set_image(engine, "web:2")
    patch(engine, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "BEHAVIOUR", "value": "crash"}]}]}}}})
    engine.advance(95)


@pytest.mark.parametrize("strategy, available", [(None, "True"), ({"type": "Recreate"}, "False")])
def test_availability_allows_max_unavailable_only_for_rolling_updates(engine, strategy, available):
    create(engine, deployment(replicas=4, strategy=strategy, ready_delay=10))
    engine.advance(30)
    patch(engine, {"spec": {"replicas": 5}})  # one new pod, not ready for 10 s: 4 of 5 available
    status = get(engine, "deployments", "web")["status"]
    assert (status["availableReplicas"], status["unavailableReplicas"]) == (4, 1)
    assert {c["type"]: c["status"] for c in status["conditions"]}["Available"] == available


def test_a_pod_relabelled_out_of_its_selector_is_released_and_replaced(engine):
    create(engine, deployment(replicas=2))
    quarantined = live_pods(engine)[0]["metadata"]["name"]
    patch(engine, {"metadata": {"labels": {"app": "quarantine"}}}, plural="pods", name=quarantined)
    engine.advance(30)
    pod = get(engine, "pods", quarantined)
    assert "ownerReferences" not in pod["metadata"] and pod_status_reason(pod)[0] == "Running"  # left running
    serving = [p for p in live_pods(engine) if p["metadata"]["labels"]["app"] == "web"]
    assert len(serving) == 2 and quarantined not in {p["metadata"]["name"] for p in serving}
    rs = engine.store.items("replicasets", "default")[0]
    assert (rs["status"]["replicas"], rs["status"]["fullyLabeledReplicas"]) == (2, 2)


def test_same_seed_and_actions_give_the_same_state():
    one, two = Engine(seed=3, runner=FakeRuntime()), Engine(seed=3, runner=FakeRuntime())
    scenario(one)
    scenario(two)
    assert dump(one) == dump(two)
    other = Engine(seed=4, runner=FakeRuntime())
    scenario(other)
    assert dump(other) != dump(one), "the seed drives uids and names"


def test_restoring_a_snapshot_replays_identically(engine):
    create(engine, deployment(2, behaviour="crash"))
    engine.advance(3)
    snap = engine.snapshot()
    before = dump(engine)
    engine.advance(120)
    after = dump(engine)
    set_image(engine, "web:9")
    engine.restore(snap)
    assert dump(engine) == before
    engine.advance(120)
    assert dump(engine) == after, "kubelet state, clock and random generator came back too"


def test_a_deployment_selecting_by_match_expressions_owns_and_counts_its_pods(engine):
    body = deployment(replicas=2)
    body["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "www"]},
                                                     {"key": "track", "operator": "DoesNotExist"}]}
    create(engine, body)
    rs = engine.store.items("replicasets", "default")[0]
    assert rs["spec"]["selector"]["matchExpressions"] == body["spec"]["selector"]["matchExpressions"]
    assert len(live_pods(engine)) == 2
    status = get(engine, "deployments", "web")["status"]
    assert (status["replicas"], status["readyReplicas"]) == (2, 2)
    assert rs["status"]["fullyLabeledReplicas"] == 2


def test_a_template_outside_its_match_expressions_is_refused(engine):
    from opsgym.cluster.sim.status import ApiError

    body = deployment()
    body["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}
    with pytest.raises(ApiError, match="`selector` does not match template `labels`"):
        create(engine, body)
