"""Skipping idle reconciles is invisible: an engine that leaves a settled cluster alone until something can happen
ends every step in exactly the state of one that reconciles at every opportunity, and it really does skip."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from simkit import FakeRuntime, create, pod_manifest

from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import lookup


def state(engine: Engine) -> str:
    """Everything a later step can depend on: objects, revision, clock, kubelet records, identities, event index."""
    objects = {plural: engine.store.items(plural) for plural in engine.store._objects}
    return json.dumps({"objects": objects, "revision": engine.store.revision, "now": engine.clock.now,
                       "counters": engine.counters, "events": sorted(map(repr, engine.events.index.items())),
                       "kubelet": repr(sorted(engine.kubelet.state.items())), "rng": repr(engine.rng.getstate())},
                      sort_keys=True)


def eager(engine: Engine) -> Engine:
    """The reference: every reconcile runs its passes."""
    engine.skip_idle = False
    return engine


def deployment(name: str, behaviour: str, replicas: int = 2, **spec: object) -> dict:
    container = {"name": "main", "image": f"{name}:1", "env": [{"name": "BEHAVIOUR", "value": behaviour}],
                 "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "initialDelaySeconds": 3,
                                    "periodSeconds": 7},
                 "livenessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 4}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
                     **spec}}


def crash_loop(engine: Engine) -> None:
    create(engine, deployment("api", "crash"))


def unready(engine: Engine) -> None:
    """Readiness keeps failing: the Unhealthy event's count grows every period, though no timer is set for it."""
    create(engine, deployment("cache", "unready", 1))


def wedged(engine: Engine) -> None:
    create(engine, deployment("worker", "dead", 1))


def deadline(engine: Engine) -> None:
    """A rollout that cannot finish: the deadline is checked with ``>``, between the timers around it."""
    create(engine, deployment("web", "serve", 3, progressDeadlineSeconds=23, minReadySeconds=9))
    with engine.lock:
        engine.api.patch(lookup("deployments"), "default", "web", "strategic", {"spec": {"template": {"spec": {
            "containers": [{"name": "main", "env": [{"name": "BEHAVIOUR", "value": "crash"}]}]}}}})
        engine.reconcile()


def mixed(engine: Engine) -> None:
    """Everything at once, behind Services created first, so that Endpoints follow pods becoming ready later."""
    for name in ("api", "cache", "web"):
        create(engine, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}})
    for setup in (crash_loop, unready, wedged, deadline):
        setup(engine)
    create(engine, pod_manifest("oneshot", behaviour="done", restartPolicy="Never"))


STEPS = {"five-second polls": [5.0] * 150, "half-second polls": [0.5] * 80,
         "irregular": [1, 2.5, 0.5, 13, 7, 3, 29, 0, 61, 4.25, 300, 17, 2] * 4, "one long jump": [4000.0]}


@pytest.mark.parametrize("setup", [crash_loop, unready, wedged, deadline, mixed], ids=lambda f: f.__name__)
@pytest.mark.parametrize("steps", STEPS.values(), ids=STEPS.keys())
def test_skipping_idle_reconciles_leaves_every_state_as_eager_reconciling_does(setup: Callable, steps: list[float]):
    lazy, reference = Engine(seed=5, runner=FakeRuntime()), eager(Engine(seed=5, runner=FakeRuntime()))
    for engine in (lazy, reference):
        setup(engine)
    assert state(lazy) == state(reference)
    for i, seconds in enumerate(steps):
        for engine in (lazy, reference):
            with engine.lock:
                engine.advance(seconds)
        assert state(lazy) == state(reference), f"states differ after step {i} (+{seconds}s)"


def test_the_unhealthy_count_keeps_growing_while_nothing_else_happens():
    engine = Engine(seed=5, runner=FakeRuntime())
    unready(engine)
    counts = []
    for _ in range(6):
        engine.advance(7)
        counts.append(next(e["count"] for e in engine.store.items("events", "default") if e["reason"] == "Unhealthy"))
    assert counts == sorted(counts) and counts[-1] - counts[0] == 5, counts


def test_a_settled_cluster_is_not_reconciled_until_something_can_happen(monkeypatch):
    engine = Engine(seed=5, runner=FakeRuntime())
    create(engine, deployment("web", "serve", 3))
    engine.advance(60)
    passes = []
    original = engine.kubelet.sync
    monkeypatch.setattr(engine.kubelet, "sync", lambda: passes.append(engine.clock.now) or original())
    for _ in range(120):
        engine.advance(5)
    assert passes == [], "a healthy, settled cluster has nothing to do for ten minutes"
    with engine.lock:
        engine.api.patch(lookup("deployments"), "default", "web", "merge", {"spec": {"replicas": 4}})
    engine.advance(5)
    assert passes and len(engine.store.owned("pods", "default", next(
        rs["metadata"]["uid"] for rs in engine.store.items("replicasets", "default")))) == 4, \
        "a write wakes the controllers at once"


@pytest.mark.parametrize("first", [("serve", 2), ("crash", 3), ("serve", 1)], ids=["fewer", "crashing", "more"])
def test_a_restore_forgets_what_the_controllers_learned_in_the_abandoned_history(first: tuple[str, int]):
    """After a restore the same uids, resourceVersions and instant come back with other contents (the next scenario
    load draws the same identities): nothing learned before the restore may let a controller skip a sync."""
    engine, fresh = Engine(seed=5, runner=FakeRuntime()), Engine(seed=5, runner=FakeRuntime())
    with engine.lock:
        base = engine.snapshot()
    create(engine, deployment("web", *first))
    with engine.lock:
        engine.restore(base)
    for each in (engine, fresh):
        create(each, deployment("web", "serve", 2))
        with each.lock:
            each.advance(30)
    assert state(engine) == state(fresh)


def test_workloads_whose_inputs_did_not_move_are_not_synced_again(monkeypatch):
    """A pod moving re-syncs its own ReplicaSet and Deployment, not every workload of the cluster."""
    engine = Engine(seed=5, runner=FakeRuntime())
    for name in ("a", "b", "c"):
        create(engine, deployment(name, "serve", 2))
    engine.advance(60)
    synced: list[str] = []
    for method in ("_deployment", "_replicaset"):
        original = getattr(engine.workloads, method)
        monkeypatch.setattr(engine.workloads, method,
                            lambda obj, original=original: synced.append(obj["metadata"]["name"]) or original(obj))

    def delete_a_pod_of(app: str) -> set[str]:
        synced.clear()
        pod = next(p for p in engine.store.items("pods", "default") if p["metadata"]["name"].startswith(f"{app}-"))
        with engine.lock:
            engine.api.delete(lookup("pods"), "default", pod["metadata"]["name"])
            engine.reconcile()
        return {name.split("-")[0] for name in synced}

    assert delete_a_pod_of("b") == {"b"}
    engine.advance(30)
    assert delete_a_pod_of("c") == {"c"}
