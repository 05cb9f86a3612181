"""Nothing a client sends can crash the simulation: mangled manifests are refused with a 4xx or accepted, and the
cluster keeps running either way."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simkit import FakeRuntime, create, get, pod_manifest

from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.status import ApiError

CONTAINER = {"name": "web", "image": "web:1", "command": ["python", "/app/web.py"],
             "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}}],
             "ports": [{"name": "http", "containerPort": 8080}],
             "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "initialDelaySeconds": 5},
             "resources": {"limits": {"memory": "64Mi"}}, "volumeMounts": [{"name": "app", "mountPath": "/app"}]}
MANIFESTS = {
    "deployments": {"metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "strategy": {"type": "RollingUpdate"},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [CONTAINER], "volumes": [{"name": "app", "configMap": {"name": "p"}}]}}}},
    "services": {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
                                                        "ports": [{"port": 80, "targetPort": "http"}]}},
    "pods": {"metadata": {"name": "solo", "labels": {"app": "web"}}, "spec": {
        "containers": [CONTAINER], "volumes": [{"name": "app", "configMap": {"name": "p"}}]}},
}
junk = st.one_of(st.none(), st.booleans(), st.integers(-3, 70000), st.text(max_size=8),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def mangle(manifest, path, replacement):
    doc = copy.deepcopy(manifest)
    if not path:
        return replacement
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = replacement
    return doc


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(MANIFESTS)), st.data(), junk)
def test_mangled_objects_are_refused_or_run(plural, data, replacement):
    engine = Engine(runner=FakeRuntime())
    manifest = MANIFESTS[plural]
    path = data.draw(st.sampled_from(list(paths(manifest))))
    body = mangle(manifest, path, replacement)
    with engine.lock:
        try:
            engine.api.create(lookup(plural), "default", body)
        except ApiError as exc:
            assert 400 <= exc.code < 500, exc.message
        engine.reconcile()
        engine.advance(60)
        for other in ("deployments", "services", "pods"):
            patch = data.draw(st.one_of(junk, st.just({"spec": {"replicas": 1}})))
            try:
                engine.api.patch(lookup(other), "default", "web" if other != "pods" else "solo", "merge", patch)
            except ApiError as exc:
                assert 400 <= exc.code < 500, exc.message
            engine.reconcile()
        engine.advance(30)


def test_a_failing_controller_does_not_stop_the_others(monkeypatch, caplog):
    engine = Engine(runner=FakeRuntime())

    def broken() -> None:
        raise RuntimeError("controller bug")

    monkeypatch.setattr(engine.workloads, "run", broken)
    create(engine, pod_manifest(behaviour="crash"))
    engine.advance(15)
    assert get(engine, "pods", "p")["status"]["containerStatuses"][0]["restartCount"] == 2
    assert any(r.exc_info and "controller bug" in str(r.exc_info[1]) for r in caplog.records), "it was logged"
