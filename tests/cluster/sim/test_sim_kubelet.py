"""The simulated kubelet: container lifecycle, the kubelet's back-off, probes, OOM kills, config errors, logs."""

from __future__ import annotations

import pytest
from simkit import container_status, create, events, get, pod_manifest

from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.podstatus import container_logs
from opsgym.cluster.sim.status import ApiError
from opsgym.cluster.sim.tables import pod_status_reason
from opsgym.runtime.sim import ContainerRun


def restarts_at(engine: Engine, times: list[float]) -> list[int]:
    seen, start = [], engine.clock.now
    for t in times:
        engine.advance(start + t - engine.clock.now)
        seen.append(container_status(get(engine, "pods", "p"))["restartCount"])
    return seen


def test_a_crashing_container_restarts_with_the_kubelets_back_off(engine):
    create(engine, pod_manifest(behaviour="crash"))
    # exits 1 s after each start; first restart immediate, then waits of 10, 20, 40, 80 s
    assert restarts_at(engine, [0.5, 1.5, 11.5, 12.5, 32.5, 33.5, 73.5, 74.5, 154.5]) == [0, 1, 1, 2, 2, 3, 3, 4, 4]
    status = container_status(get(engine, "pods", "p"))
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert "back-off 80s restarting failed container=main pod=p_default(" in status["state"]["waiting"]["message"]
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert pod_status_reason(get(engine, "pods", "p"))[0] == "CrashLoopBackOff"


def test_back_off_is_capped_at_five_minutes(engine):
    create(engine, pod_manifest(behaviour="crash"))
    engine.advance(3600)
    waiting = container_status(get(engine, "pods", "p"))["state"]["waiting"]["message"]
    assert waiting.startswith("back-off 300s ")


def test_back_off_resets_after_ten_minutes_without_a_crash(engine):
    create(engine, pod_manifest(behaviour="dead", livenessProbe={
        "httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 700, "periodSeconds": 10}))
    # not live from the start: killed at 700 + 2*10 = 720 s after each start
    engine.advance(720.5)
    assert container_status(get(engine, "pods", "p"))["restartCount"] == 1
    engine.advance(720)
    status = container_status(get(engine, "pods", "p"))
    assert status["restartCount"] == 2, "the crash came > 10 min after the last back-off update: no wait"
    assert status["state"].get("running") is not None


def test_back_off_events_and_pod_phase(engine):
    create(engine, pod_manifest(behaviour="crash"))
    engine.advance(30)
    pod = get(engine, "pods", "p")
    assert pod["status"]["phase"] == "Running"
    reasons = {e["reason"] for e in events(engine, "default") if e["involvedObject"]["name"] == "p"}
    assert {"Scheduled", "Pulled", "Created", "Started", "BackOff"} <= reasons
    backoff = events(engine, "default", "BackOff")[0]
    assert backoff["type"] == "Warning" and backoff["involvedObject"]["fieldPath"] == "spec.containers{main}"
    started = events(engine, "default", "Started")[0]
    assert started["count"] == 3


def test_logs_follow_the_kubelets_current_and_previous_rules(engine):
    create(engine, pod_manifest(behaviour="crash"))
    engine.advance(1.5)
    pod, record = get(engine, "pods", "p"), None
    record = engine.kubelet.state[pod["metadata"]["uid"]]
    assert container_logs(pod, record, None) == "starting\nfatal: boom\n"
    assert container_logs(pod, record, "main", previous=True) == "starting\nfatal: boom\n"
    assert container_logs(pod, record, None, tail=1) == "fatal: boom\n"
    assert container_logs(pod, record, None, timestamps=True).startswith("2025-01-01T00:00:01.000000000Z starting")
    with pytest.raises(ApiError, match="container nope is not valid for pod p"):
        container_logs(pod, record, "nope")


def test_logs_of_a_container_that_never_started(engine):
    create(engine, pod_manifest(envFrom=[{"configMapRef": {"name": "missing"}}]))
    pod = get(engine, "pods", "p")
    with pytest.raises(ApiError, match='container "main" in pod "p" is waiting to start: CreateContainerConfigError'):
        container_logs(pod, engine.kubelet.state[pod["metadata"]["uid"]], None)
    with pytest.raises(ApiError, match='previous terminated container "main" in pod "p" not found'):
        container_logs(pod, engine.kubelet.state[pod["metadata"]["uid"]], None, previous=True)


def test_oom_killed_container(engine):
    create(engine, pod_manifest(behaviour="oom", resources={"limits": {"memory": "64Mi"}}))
    engine.advance(1.5)
    status = container_status(get(engine, "pods", "p"))
    assert status["lastState"]["terminated"] == status["lastState"]["terminated"] | {"exitCode": 137,
                                                                                     "reason": "OOMKilled"}
    node_events = [e for e in events(engine, "default", "OOMKilling") if e["involvedObject"]["kind"] == "Node"]
    assert node_events and "Memory cgroup out of memory" in node_events[0]["message"]
    assert engine.kubelet.runner.calls[0]["memory_limit_mb"] == 64.0


def test_missing_config_key_is_create_container_config_error_until_it_appears(engine):
    create(engine, pod_manifest(env=[{"name": "BEHAVIOUR", "value": "serve"}, {"name": "MODE", "valueFrom": {
        "configMapKeyRef": {"name": "settings", "key": "mode"}}}]))
    status = container_status(get(engine, "pods", "p"))
    assert status["state"]["waiting"] == {"reason": "CreateContainerConfigError",
                                          "message": 'configmap "settings" not found'}
    create(engine, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"},
                    "data": {"other": "x"}})
    assert container_status(get(engine, "pods", "p"))["state"]["waiting"]["message"] == \
        "couldn't find key mode in ConfigMap default/settings"
    failed = events(engine, "default", "Failed")
    assert [e["message"] for e in failed] == ['Error: configmap "settings" not found',
                                              "Error: couldn't find key mode in ConfigMap default/settings"]
    with engine.lock:
        engine.api.patch(lookup("configmaps"), "default", "settings", "merge", {"data": {"mode": "safe"}})
        engine.reconcile()
    pod = get(engine, "pods", "p")
    assert container_status(pod)["state"].get("running") and pod["status"]["phase"] == "Running"
    assert engine.kubelet.runner.calls[-1]["env"]["MODE"] == "safe"


def test_missing_volume_source_keeps_the_pod_creating(engine):
    manifest = pod_manifest(volumeMounts=[{"name": "cfg", "mountPath": "/etc/app"}])
    manifest["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "app-config"}}]
    create(engine, manifest)
    pod = get(engine, "pods", "p")
    assert container_status(pod)["state"]["waiting"]["reason"] == "ContainerCreating"
    assert pod_status_reason(pod)[0] == "ContainerCreating" and pod["status"]["phase"] == "Pending"
    assert events(engine, "default", "FailedMount")[0]["message"] == \
        'MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found'
    create(engine, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config",
                                                                          "namespace": "default"},
                    "data": {"app.conf": "x = 1"}})
    assert engine.kubelet.runner.calls[-1]["files"] == {"/etc/app/app.conf": "x = 1"}


def test_container_inputs_are_resolved_like_the_kubelet_does(engine, fake_runtime):
    create(engine, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"},
                    "data": {"LEVEL": "debug", "conf.ini": "[x]", "other.txt": "o", "9lives": "skip"}})
    create(engine, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec", "namespace": "default"},
                    "stringData": {"password": "hunter2"}})
    create(engine, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "default"},
                    "spec": {"ports": [{"port": 5432}]}})
    manifest = pod_manifest(
        command=["python", "/app/main.py"], args=["--level=$(LEVEL)", "$$(LITERAL)", "$(UNDEFINED)"],
        envFrom=[{"configMapRef": {"name": "cm"}, "prefix": "CM_"}, {"configMapRef": {"name": "cm"}}],
        env=[{"name": "BEHAVIOUR", "value": "serve"},
             {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
             {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
             {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
             {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
             {"name": "URL", "value": "http://$(POD):80"},
             {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}}}],
        volumeMounts=[{"name": "cfg", "mountPath": "/etc/app"}, {"name": "one", "mountPath": "/etc/one.txt",
                                                                 "subPath": "other.txt"},
                      {"name": "sec", "mountPath": "/secrets"}])
    manifest["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "conf.ini",
                                                                                          "path": "app.ini"}]}},
                                   {"name": "one", "configMap": {"name": "cm"}},
                                   {"name": "sec", "secret": {"secretName": "sec"}}]
    create(engine, manifest)
    call = fake_runtime.calls[-1]
    env = call["env"]
    assert call["command"] == ["python", "/app/main.py", "--level=debug", "$(LITERAL)", "$(UNDEFINED)"]
    assert env["CM_LEVEL"] == env["LEVEL"] == "debug" and "9lives" not in env
    assert env["PASSWORD"] == "hunter2" and env["POD"] == "p" and env["NS"] == "default"
    assert env["IP"] == get(engine, "pods", "p")["status"]["podIP"] and env["URL"] == "http://p:80"
    assert "OPT" not in env
    assert env["DB_SERVICE_PORT"] == "5432" and env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert call["files"] == {"/etc/app/app.ini": "[x]", "/etc/one.txt": "o", "/secrets/password": "hunter2"}


def test_resolve_answers_from_services_and_ready_endpoints(engine, fake_runtime):
    create(engine, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "data"}})
    create(engine, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "data"},
                    "spec": {"selector": {"app": "db"}, "ports": [{"name": "pg", "port": 5432,
                                                                   "targetPort": 15432}]}})
    create(engine, pod_manifest("client", namespace="data"))
    resolve = fake_runtime.calls[-1]["resolve"]
    assert not resolve("db", 5432), "no endpoints yet"
    db = pod_manifest("db-0", namespace="data", env=[{"name": "BEHAVIOUR", "value": "serve"},
                                                      {"name": "PORT", "value": "15432"}])
    db["metadata"]["labels"] = {"app": "db"}
    create(engine, db)
    for host in ("db", "db.data", "db.data.svc", "db.data.svc.cluster.local"):
        assert resolve(host, 5432), host
    assert not resolve("db", 15432), "the Service port, not the container port"
    assert not resolve("db.other", 5432) and not resolve("cache", 6379)
    assert fake_runtime.calls[-1]["lookup"]("db.data.svc") and not fake_runtime.calls[-1]["lookup"]("cache")


def test_probe_answers_are_re_asked_only_of_programs_whose_lookups_changed(engine, fake_runtime):
    """A program is a function of its inputs and of the answers to its lookups: an unrelated Service or Endpoints
    change must not re-run it, a change in what it looked up must (and makes a waiting client ready)."""
    fake_runtime.overrides["client"] = lambda call: ContainerRun(
        ("checking db",), None, "", 10.0, call["resolve"]("db", 5432), True, 8080)
    fake_runtime.overrides["loner"] = lambda call: ContainerRun(("up",), None, "", 10.0, True, True, 8080)
    probe = {"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}
    create(engine, pod_manifest("client", behaviour="client", **probe))
    create(engine, pod_manifest("loner", behaviour="loner", **probe))

    def runs() -> tuple[int, int]:
        behaviours = [call["env"]["BEHAVIOUR"] for call in fake_runtime.calls]
        return behaviours.count("client"), behaviours.count("loner")

    assert runs() == (1, 1)
    create(engine, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    engine.advance(1)
    assert runs() == (1, 1), "nobody looked up web: no re-run"
    assert not container_status(get(engine, "pods", "client"))["ready"]

    create(engine, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "default"},
                    "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]}})
    db = pod_manifest("db-0", env=[{"name": "BEHAVIOUR", "value": "serve"}, {"name": "PORT", "value": "5432"}])
    db["metadata"]["labels"] = {"app": "db"}
    create(engine, db)
    engine.advance(1)
    assert runs() == (2, 1), "db became reachable: only its client is asked again"
    assert container_status(get(engine, "pods", "client"))["ready"]


def test_readiness_waits_for_the_initial_delay_and_feeds_endpoints(engine):
    pod = pod_manifest(readinessProbe={"httpGet": {"path": "/ready", "port": 8080}, "initialDelaySeconds": 5})
    pod["metadata"]["labels"] = {"app": "web"}
    create(engine, pod)
    create(engine, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    subsets = get(engine, "endpoints", "web")["subsets"]
    assert "notReadyAddresses" in subsets[0] and "addresses" not in subsets[0]
    engine.advance(5)
    assert container_status(get(engine, "pods", "p"))["ready"]
    assert get(engine, "endpoints", "web")["subsets"][0]["addresses"][0]["targetRef"]["name"] == "p"
    assert get(engine, "endpoints", "web")["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_endpoints_list_a_pod_only_for_ports_it_has_and_drop_it_while_it_terminates(engine):
    pod = pod_manifest(ports=[{"name": "http", "containerPort": 8080}])
    pod["metadata"] |= {"labels": {"app": "web"}, "finalizers": ["example.com/hold"]}  # keeps it terminating
    create(engine, pod)
    for name, target in (("named", "http"), ("missing", "no-such-port")):
        create(engine, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": target}]}})
    engine.advance(1)
    assert get(engine, "endpoints", "named")["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert "subsets" not in get(engine, "endpoints", "missing")  # real: "<none>", the pod serves no such port
    with engine.lock:
        engine.api.delete(lookup("pods"), "default", "p")
        engine.reconcile()
    assert get(engine, "pods", "p")["metadata"]["deletionTimestamp"]  # still terminating
    assert "subsets" not in get(engine, "endpoints", "named")


def test_failing_readiness_probe_reports_unhealthy_with_a_count(engine):
    create(engine, pod_manifest(behaviour="unready", readinessProbe={"httpGet": {"path": "/ready", "port": 8080},
                                                                     "periodSeconds": 5}))
    engine.advance(22)
    pod = get(engine, "pods", "p")
    assert pod_status_reason(pod)[:2] == ("Running", 0)
    unhealthy = events(engine, "default", "Unhealthy")[0]
    assert unhealthy["message"] == "Readiness probe failed: HTTP probe failed with statuscode: 503"
    assert unhealthy["count"] == 5


def test_failing_liveness_probe_kills_and_restarts(engine):
    create(engine, pod_manifest(behaviour="dead", livenessProbe={"httpGet": {"path": "/healthz", "port": 9999},
                                                                 "initialDelaySeconds": 10, "periodSeconds": 10}))
    engine.advance(29)
    assert container_status(get(engine, "pods", "p"))["restartCount"] == 0
    engine.advance(1)
    status = container_status(get(engine, "pods", "p"))
    assert status["restartCount"] == 1 and status["lastState"]["terminated"]["exitCode"] == 137
    messages = [e["message"] for e in events(engine, "default") if e["reason"] in ("Unhealthy", "Killing")]
    ip = get(engine, "pods", "p")["status"]["podIP"]
    assert messages == [f'Liveness probe failed: Get "http://{ip}:9999/healthz": dial tcp {ip}:9999: connect: '
                        "connection refused", "Container main failed liveness probe, will be restarted"]


def test_changing_a_pods_image_restarts_its_container(engine):
    create(engine, pod_manifest())
    with engine.lock:
        engine.api.patch(lookup("pods"), "default", "p", "strategic",
                         {"spec": {"containers": [{"name": "main", "image": "busybox:1.37"}]}})
        engine.reconcile()
    status = container_status(get(engine, "pods", "p"))
    assert status["restartCount"] == 1 and status["image"] == "busybox:1.37"
    assert any(e["message"] == "Container main definition changed, will be restarted"
               for e in events(engine, "default", "Killing"))


def test_a_runtime_that_raises_fails_the_container_not_the_cluster(engine, fake_runtime):
    def explode(_: dict) -> ContainerRun:
        raise RuntimeError("kaput")

    fake_runtime.overrides["explode"] = explode
    create(engine, pod_manifest(behaviour="explode"))
    engine.advance(1.5)
    status = container_status(get(engine, "pods", "p"))
    assert status["lastState"]["terminated"]["exitCode"] == 1


def test_init_containers_run_first_and_gate_the_app(engine):
    manifest = pod_manifest()
    manifest["spec"]["initContainers"] = [{"name": "setup", "image": "busybox:1.36",
                                           "env": [{"name": "BEHAVIOUR", "value": "done"}]}]
    create(engine, manifest)
    assert pod_status_reason(get(engine, "pods", "p"))[0] == "Init:0/1"
    engine.advance(1)
    pod = get(engine, "pods", "p")
    assert pod_status_reason(pod)[:2] == ("Running", 1)
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


def test_a_failing_init_container_crash_loops(engine):
    manifest = pod_manifest()
    manifest["spec"]["initContainers"] = [{"name": "setup", "image": "busybox:1.36",
                                           "env": [{"name": "BEHAVIOUR", "value": "crash"}]}]
    create(engine, manifest)
    engine.advance(5)
    assert pod_status_reason(get(engine, "pods", "p"))[0] == "Init:CrashLoopBackOff"


def test_restart_policy_never_ends_in_a_phase(engine):
    for name, behaviour, phase in (("ok", "done", "Succeeded"), ("ko", "crash", "Failed")):
        manifest = pod_manifest(name, behaviour=behaviour)
        manifest["spec"]["restartPolicy"] = "Never"
        create(engine, manifest)
        engine.advance(2)
        assert get(engine, "pods", name)["status"]["phase"] == phase


def test_deleting_a_pod_stops_its_containers(engine):
    create(engine, pod_manifest())
    with engine.lock:
        engine.api.delete(lookup("pods"), "default", "p")
        engine.reconcile()
    assert engine.store.get("pods", "default", "p") is None
    assert events(engine, "default", "Killing")[0]["message"] == "Stopping container main"
