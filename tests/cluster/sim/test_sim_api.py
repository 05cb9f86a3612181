"""API server semantics: metadata, conflicts, dry runs, validation, subresources, deletion, garbage collection."""

from __future__ import annotations

import pytest
from simkit import create, get, pod_manifest

from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.status import ApiError

DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}, "data": {"a": "1"}}


def call(engine, verb, plural, *args, **kwargs):
    with engine.lock:
        result = getattr(engine.api, verb)(lookup(plural), *args, **kwargs)
        engine.reconcile()
    return result


def api_error(engine, verb, plural, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as err:
        call(engine, verb, plural, *args, **kwargs)
    return err.value


def test_create_sets_server_fields_and_defaults(engine):
    deploy = create(engine, DEPLOY)
    meta = deploy["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] == "2025-01-01T00:00:00Z" and meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 0
    assert deploy["spec"]["strategy"] == {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert deploy["spec"]["revisionHistoryLimit"] == 10 and deploy["spec"]["progressDeadlineSeconds"] == 600
    pod = create(engine, pod_manifest(image="busybox"))
    container = pod["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Always" and container["terminationMessagePolicy"] == "File"
    assert pod["spec"]["serviceAccountName"] == "default" and pod["status"]["qosClass"] == "BestEffort"
    assert get(engine, "serviceaccounts", "default")["metadata"]["uid"]


def test_probe_timings_of_zero_mean_the_defaults(engine):
    """The API server defaults a 0 like an absent field (a 0 period would divide the kubelet's clock by zero)."""
    probe = {"tcpSocket": {"port": 80}, "periodSeconds": 0, "timeoutSeconds": 0, "failureThreshold": 0}
    pod = create(engine, pod_manifest(readinessProbe=probe))
    seen = pod["spec"]["containers"][0]["readinessProbe"]
    assert (seen["periodSeconds"], seen["timeoutSeconds"], seen["failureThreshold"], seen["successThreshold"]) == \
        (10, 1, 3, 1)


def test_requests_default_to_limits_in_pods_but_not_in_templates(engine):
    limits = {"limits": {"memory": "256Mi"}}
    deploy = {**DEPLOY, "spec": {**DEPLOY["spec"], "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "resources": limits}]}}}}
    created = create(engine, deploy)
    assert created["spec"]["template"]["spec"]["containers"][0]["resources"] == limits  # a later, lower limit fits
    pods = engine.store.items("pods", "default")
    assert pods and all(p["spec"]["containers"][0]["resources"]["requests"] == {"memory": "256Mi"} for p in pods)
    call(engine, "patch", "deployments", "default", "web", "json", [
        {"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/memory", "value": "128Mi"}])
    assert get(engine, "deployments", "web")["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "limits": {"memory": "128Mi"}}


def test_stale_resource_version_is_a_conflict(engine):
    cm = create(engine, CM)
    stale = {**cm, "data": {"a": "2"}}
    call(engine, "update", "configmaps", "default", "cm", {**cm, "data": {"a": "3"}})
    err = api_error(engine, "update", "configmaps", "default", "cm", stale)
    assert err.code == 409 and err.reason == "Conflict"
    assert err.message == ('Operation cannot be fulfilled on configmaps "cm": the object has been modified; please '
                           "apply your changes to the latest version and try again")


def test_generation_moves_with_spec_not_metadata_and_status_is_protected(engine):
    create(engine, DEPLOY)
    call(engine, "patch", "deployments", "default", "web", "merge", {"metadata": {"labels": {"team": "a"}}})
    assert get(engine, "deployments", "web")["metadata"]["generation"] == 1
    call(engine, "patch", "deployments", "default", "web", "merge", {"spec": {"replicas": 3}})
    deploy = get(engine, "deployments", "web")
    assert deploy["metadata"]["generation"] == 2 and deploy["status"]["observedGeneration"] == 2
    call(engine, "patch", "deployments", "default", "web", "merge", {"status": {"replicas": 99}})
    assert get(engine, "deployments", "web")["status"]["replicas"] == 3, "status changes need /status"
    call(engine, "patch", "deployments", "default", "web", "merge", {"status": {"collisionCount": 1}},
         subresource="status")
    assert get(engine, "deployments", "web")["status"].get("collisionCount") == 1


def test_a_write_that_changes_nothing_keeps_the_version_and_tells_no_watcher(engine):
    create(engine, DEPLOY)
    before = get(engine, "deployments", "web")["metadata"]["resourceVersion"]
    revision = engine.store.revision
    call(engine, "patch", "deployments", "default", "web", "merge", {"spec": {"replicas": 2}})  # already 2
    call(engine, "patch", "deployments", "default", "web", "merge", {"metadata": {"labels": None}})
    assert get(engine, "deployments", "web")["metadata"]["resourceVersion"] == before
    assert engine.store.revision == revision
    call(engine, "patch", "deployments", "default", "web", "merge", {"spec": {"replicas": 3}})
    assert int(get(engine, "deployments", "web")["metadata"]["resourceVersion"]) > int(before)


def test_dry_run_stores_nothing(engine):
    obj, _ = call(engine, "create", "configmaps", "default", dict(CM), dry_run=True)
    assert obj["metadata"]["uid"] and engine.store.get("configmaps", "default", "cm") is None
    create(engine, CM)
    call(engine, "delete", "configmaps", "default", "cm", dry_run=True)
    call(engine, "patch", "configmaps", "default", "cm", "merge", {"data": {"a": "9"}}, dry_run=True)
    assert get(engine, "configmaps", "cm")["data"] == {"a": "1"}


@pytest.mark.parametrize("obj, code, message", [
    ({**CM, "metadata": {"name": "Bad_Name"}}, 422, 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value'),
    ({**DEPLOY, "spec": {**DEPLOY["spec"], "selector": {"matchLabels": {"app": "other"}}}}, 422,
     "spec.template.metadata.labels: Invalid value"),
    ({**DEPLOY, "spec": {**DEPLOY["spec"], "replicas": "two"}}, 400,
     "cannot unmarshal string into Go struct field Deployment.spec.replicas of type int32"),
    ({**DEPLOY, "spec": {**DEPLOY["spec"], "replica": 2}}, 400, 'strict decoding error: unknown field "spec.replica"'),
    (pod_manifest(resources={"limits": {"memory": "lots"}}), 400, "quantities must match the regular expression"),
    (pod_manifest(image=""), 422, "spec.containers[0].image: Required value"),
    ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 70000}]}}, 422,
     "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"),
    ({**CM, "metadata": {"name": "x", "namespace": "elsewhere"}}, 400, "does not match the namespace"),
    ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "%%%"}}, 400,
     "illegal base64 data"),
    (pod_manifest(readinessProbe={"httpGet": {"port": 80}, "tcpSocket": {"port": 81}}), 422,
     "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"),
    (pod_manifest(livenessProbe={"tcpSocket": {"port": 80}, "periodSeconds": -5}), 422,
     "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -5: must be greater than or equal to 0"),
])
def test_invalid_objects_are_rejected_like_the_api_server_does(engine, obj, code, message):
    plural = {"ConfigMap": "configmaps", "Deployment": "deployments", "Pod": "pods", "Service": "services",
              "Secret": "secrets"}[obj["kind"]]
    err = api_error(engine, "create", plural, "default", obj, validation="Strict")
    assert err.code == code and message in err.message
    name = obj["metadata"]["name"]
    assert engine.store.get(plural, "default", name) is None, "nothing was stored"


def test_unknown_fields_are_dropped_with_a_warning_when_not_strict(engine):
    (obj, warnings) = call(engine, "create", "configmaps", "default", {**CM, "extra": 1}, validation="Warn")
    assert "extra" not in obj and warnings == ['unknown field "extra"']


def test_namespaces_must_exist_and_not_be_terminating(engine):
    err = api_error(engine, "create", "configmaps", "nowhere", dict(CM, metadata={"name": "cm"}))
    assert (err.code, err.message) == (404, 'namespaces "nowhere" not found')
    create(engine, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}})
    create(engine, {**CM, "metadata": {"name": "cm", "namespace": "doomed", "finalizers": ["keep/me"]}})
    call(engine, "delete", "namespaces", "", "doomed")
    assert get(engine, "namespaces", "doomed", "")["status"]["phase"] == "Terminating"
    err = api_error(engine, "create", "configmaps", "doomed", dict(CM, metadata={"name": "new"}))
    assert err.code == 403 and "because it is being terminated" in err.message
    call(engine, "patch", "configmaps", "doomed", "cm", "merge", {"metadata": {"finalizers": None}})
    assert engine.store.get("namespaces", "", "doomed") is None, "the namespace goes once its content is gone"


def test_finalizers_hold_deletion_until_removed(engine):
    create(engine, {**CM, "metadata": {"name": "cm", "namespace": "default", "finalizers": ["example.com/keep"]}})
    call(engine, "delete", "configmaps", "default", "cm")
    assert get(engine, "configmaps", "cm")["metadata"]["deletionTimestamp"]
    call(engine, "patch", "configmaps", "default", "cm", "json", [{"op": "remove", "path": "/metadata/finalizers"}])
    assert engine.store.get("configmaps", "default", "cm") is None


@pytest.mark.parametrize("policy, survivors", [("Background", 0), ("Foreground", 0), ("Orphan", 1)])
def test_deleting_an_owner_propagates_to_dependents(engine, policy, survivors):
    create(engine, DEPLOY)
    assert len(engine.store.items("pods", "default")) == 2
    call(engine, "delete", "deployments", "default", "web", {"propagationPolicy": policy})
    assert engine.store.get("deployments", "default", "web") is None
    assert len(engine.store.items("replicasets", "default")) == survivors
    if survivors:
        assert "ownerReferences" not in engine.store.items("replicasets", "default")[0]["metadata"] or \
            not engine.store.items("replicasets", "default")[0]["metadata"]["ownerReferences"]
    else:
        assert engine.store.items("pods", "default") == []


def test_pod_spec_is_immutable_except_images(engine):
    create(engine, pod_manifest())
    err = api_error(engine, "patch", "pods", "default", "p", "strategic",
                    {"spec": {"containers": [{"name": "main", "env": [{"name": "X", "value": "1"}]}]}})
    assert err.code == 422 and "pod updates may not change fields other than" in err.message


def test_scale_subresource(engine):
    create(engine, DEPLOY)
    scale = engine.api.scale(lookup("deployments"), get(engine, "deployments", "web"))
    assert scale["spec"] == {"replicas": 2} and scale["status"]["selector"] == "app=web"
    call(engine, "patch", "deployments", "default", "web", "merge", {"spec": {"replicas": 4}}, subresource="scale")
    assert len(engine.store.items("pods", "default")) == 4


def test_replica_counts_beyond_what_the_embedded_cluster_simulates_are_refused_with_the_reason(engine):
    """A runaway `kubectl scale --replicas=70000` must be a clear 422, not an episode stalled creating pods."""
    from opsgym.cluster.sim.defaults import MAX_REPLICAS

    create(engine, DEPLOY)
    for body in ({"spec": {"replicas": MAX_REPLICAS + 1}}, {"spec": {"replicas": 70000}}):
        for subresource in ("scale", ""):
            error = api_error(engine, "patch", "deployments", "default", "web", "merge", body,
                              subresource=subresource)
            assert error.code == 422 and f"no more than {MAX_REPLICAS}" in error.message, error.message
    huge = {**DEPLOY, "metadata": {**DEPLOY["metadata"], "name": "huge"},
            "spec": {**DEPLOY["spec"], "replicas": 70000}}
    assert api_error(engine, "create", "deployments", "default", huge).code == 422
    assert len(engine.store.items("pods", "default")) == 2, "nothing was created for the refused counts"
    call(engine, "patch", "deployments", "default", "web", "merge", {"spec": {"replicas": 3}}, subresource="scale")
    assert len(engine.store.items("pods", "default")) == 3, "an ordinary scale still works"


def test_a_filtered_watch_sees_objects_enter_and_leave_its_selection(engine):
    from opsgym.cluster.sim.routes import WatchPlan
    from opsgym.cluster.sim.selectors import field_selector, label_selector
    from opsgym.cluster.sim.store import Watcher

    plan = WatchPlan(lookup("configmaps"), "default", None, label_selector("tier=web"),
                     field_selector(None, "configmaps"), False, 60.0)
    seen: list[str] = []
    engine.store.watch(Watcher("configmaps", "default",
                               lambda *event: seen.append(plan.selected(*event) or "-"), lambda: None), None)
    create(engine, {**CM, "metadata": {**CM["metadata"], "labels": {"tier": "db"}}})
    for tier in ("web", "web", "db", "db"):  # enters, changes inside, leaves, changes outside
        call(engine, "patch", "configmaps", "default", "cm", "merge",
             {"metadata": {"labels": {"tier": tier}}, "data": {"n": str(len(seen))}})
    call(engine, "delete", "configmaps", "default", "cm")
    assert seen == ["-", "-", "ADDED", "MODIFIED", "DELETED", "-", "-"]  # first: kube-root-ca.crt, already there


def test_watch_history_replays_and_expires(engine):
    from opsgym.cluster.sim.store import HISTORY, Watcher

    seen: list[tuple[str, str]] = []
    start = engine.store.revision
    create(engine, CM)
    call(engine, "delete", "configmaps", "default", "cm")
    watcher = Watcher("configmaps", "default", lambda kind, obj, _: seen.append((kind, obj["metadata"]["name"])),
                      lambda: None)
    engine.store.watch(watcher, start)
    assert seen == [("ADDED", "cm"), ("DELETED", "cm")]
    for i in range(HISTORY):
        engine.store.put("configmaps", {**CM, "metadata": {"name": f"cm{i}", "namespace": "default"}})
    with pytest.raises(LookupError, match="too old resource version"):
        engine.store.watch(watcher, start)


def test_a_rollout_restart_stamp_is_set_to_the_virtual_clock(engine):
    """kubectl stamps restartedAt with the host's clock; the simulator restamps it with its own, so the pods a restart
    makes are named the same in every run of a seed (the stamp feeds the pod-template-hash)."""
    create(engine, DEPLOY)
    host_stamp = {"kubectl.kubernetes.io/restartedAt": "2031-05-06T07:08:09Z"}
    patch = {"spec": {"template": {"metadata": {"annotations": host_stamp}}}}
    call(engine, "patch", "deployments", "default", "web", "strategic", patch)
    stamped = get(engine, "deployments", "web")["spec"]["template"]["metadata"]["annotations"]
    assert stamped["kubectl.kubernetes.io/restartedAt"] == engine.stamp()
    version = get(engine, "deployments", "web")["metadata"]["resourceVersion"]
    call(engine, "patch", "deployments", "default", "web", "strategic", {"metadata": {"labels": {"tier": "web"}}})
    again = get(engine, "deployments", "web")
    assert again["spec"]["template"]["metadata"]["annotations"] == stamped  # an unchanged stamp is left alone
    assert again["metadata"]["resourceVersion"] != version
